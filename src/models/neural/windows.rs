//! Random training windows: `window + 1` consecutive tokens cut from the training sequences
//! (sequences chosen in proportion to their length), each randomly transposed for
//! augmentation; with control tokens, each window carries its piece's control prefix, parts of
//! it dropped at random. A step's windows depend only on the seed and the step number, so a resumed
//! run draws exactly the windows the uninterrupted run would have drawn.

use rand::Rng;

use crate::sampler::rng_for;
use crate::tokens::{controls, Control, TokenId, Tokenizer, PAD};

/// The chance that a training window leaves out one control of its piece's prefix.
pub const CONTROL_DROPOUT: f64 = 0.3;

/// Mixed into the seed so the windows' RNG differs from other users of the same seed.
const WINDOW_STREAM: u64 = 0x5749_4e44_4f57_5331; // "WINDOWS1"

/// Draws batches of windows from a set of token sequences.
pub struct Windows<'a> {
    seqs: Vec<&'a [TokenId]>,
    /// `cum[i]` = total length of `seqs[..=i]`.
    cum: Vec<u64>,
    /// Transposes windows (the instrument in force at a window's start decides whether its
    /// notes are drums).
    tokenizer: &'a Tokenizer,
    /// Share of windows reordered for fill in the middle (see [`super::fim`]).
    fim_rate: f64,
    fim_order: super::fim::Order,
}

impl<'a> Windows<'a> {
    /// Windows over the sequences of `seqs` (tokens of `tokenizer`) that hold at least two
    /// tokens; `None` if there are none.
    pub fn new<S: AsRef<[TokenId]>>(seqs: &'a [S], tokenizer: &'a Tokenizer) -> Option<Windows<'a>> {
        let seqs: Vec<&[TokenId]> = seqs.iter().map(AsRef::as_ref).filter(|s| s.len() >= 2).collect();
        if seqs.is_empty() {
            return None;
        }
        let mut cum = Vec::with_capacity(seqs.len());
        let mut total = 0u64;
        for s in &seqs {
            total += s.len() as u64;
            cum.push(total);
        }
        Some(Windows { seqs, cum, tokenizer, fim_rate: 0.0, fim_order: super::fim::Order::default() })
    }

    /// These windows, a share `rate` of them reordered for fill in the middle: cut at two
    /// uniform points into prefix, middle and suffix, as [`super::fim::reorder`] writes them
    /// with the middle's time as the gap (the cut is [`super::fim::SENTINELS`] tokens shorter,
    /// and the window, cut to the others' length, loses the middle's last tokens for the gap's).
    pub fn with_fim(self, rate: f64) -> Self {
        Windows { fim_rate: rate, ..self }
    }

    /// These windows' FIM reorderings in `order` (by default [`super::fim::Order::Psm`]).
    pub fn with_fim_order(self, order: super::fim::Order) -> Self {
        Windows { fim_order: order, ..self }
    }

    /// Number of next-token targets in the sequences (tokens minus one per sequence).
    pub fn targets(&self) -> u64 {
        self.cum.last().copied().unwrap_or(0) - self.seqs.len() as u64
    }

    /// `batch` windows of `window + 1` tokens (row-major, PAD after the end of a short
    /// sequence) for step `step` of a run seeded with `seed`, each transposed by a uniform
    /// random shift in `-transpose..=transpose` semitones.
    pub fn batch(&self, seed: u64, step: u64, batch: usize, window: usize, transpose: u8) -> Vec<i64> {
        let mut rng = rng_for(seed ^ WINDOW_STREAM, step);
        let total = self.cum.last().copied().unwrap_or(0);
        let mut out = Vec::with_capacity(batch * (window + 1));
        for _ in 0..batch {
            let r = rng.random_range(0..total);
            let i = self.cum.partition_point(|&c| c <= r);
            let seq = self.seqs[i];
            // Drawn only with a FIM rate, so left-to-right runs draw what they always drew.
            let sentinels = super::fim::SENTINELS;
            let fim =
                self.fim_rate > 0.0 && window + 1 > sentinels + 1 && rng.random::<f64>() < self.fim_rate;
            let span = if fim { window + 1 - sentinels } else { window + 1 };
            let start = if seq.len() > span { rng.random_range(0..=seq.len() - span) } else { 0 };
            let end = (start + span).min(seq.len());
            let shift = if transpose > 0 {
                rng.random_range(-i16::from(transpose)..=i16::from(transpose))
            } else {
                0
            };
            let prefixed = self.with_prefix(seq, start, span, &mut rng);
            let (start, cut) = match &prefixed {
                Some((body_start, w)) => (*body_start, w.as_slice()),
                None => (start, &seq[start..end]),
            };
            let moved = if shift != 0 { self.transposed(i, start, cut, shift as i8) } else { None };
            let w = moved.as_deref().unwrap_or(cut);
            let reordered = fim.then(|| {
                let (a, b) = (rng.random_range(0..=w.len()), rng.random_range(0..=w.len()));
                let (i, j) = (a.min(b), a.max(b));
                let gap = self.tokenizer.shift_tokens(self.tokenizer.shifted_steps(&w[i..j]));
                let mut r = super::fim::reorder(w, i, j, &gap, self.tokenizer.vocab_size(), self.fim_order);
                // The gap's tokens push the middle's last ones out of the window (never more
                // than the middle has: the gap is written with no more SHIFTs than it holds).
                r.truncate(window + 1);
                r
            });
            let w = reordered.as_deref().unwrap_or(w);
            out.extend(w.iter().map(|&t| i64::from(t)));
            out.extend(std::iter::repeat_n(i64::from(PAD), window + 1 - w.len()));
        }
        out
    }

    /// With control tokens (see `crate::tokens::controls`): the window of `span` tokens from
    /// `start` of `seq` with the piece's control prefix in front, each control (the instruments
    /// as one) dropped with probability [`CONTROL_DROPOUT`], so the network learns the music
    /// with and without each control stated. A window from the start is `BOS`, the kept
    /// controls, then the music; a window from inside the piece starts with the kept controls
    /// (a window would otherwise lose them after its first tokens; under REMI its key and tempo
    /// are the ones last restated before the cut). Returns where the music of
    /// the window starts in `seq`, and the window; `None` for a sequence without a prefix (no
    /// random draw then, so runs without controls draw the windows they always drew).
    fn with_prefix(
        &self,
        seq: &[TokenId],
        start: usize,
        span: usize,
        rng: &mut impl Rng,
    ) -> Option<(usize, Vec<TokenId>)> {
        let vocab = self.tokenizer.vocab();
        let n = controls::prefix_len(vocab, seq);
        if n == 0 {
            return None;
        }
        let prefix = &seq[1..1 + n];
        let body_start = start.max(1 + n);
        // REMI restates the key and the tempo where they change: those in force at the cut.
        let restated = |kind: Control| {
            seq[1 + n..body_start]
                .iter()
                .rev()
                .copied()
                .find(|&t| controls::control_of(vocab, t) == Some(kind))
        };
        let mut kept_instruments = None;
        let mut out = Vec::with_capacity(span);
        if start == 0 {
            out.push(seq[0]);
        }
        for &t in prefix {
            let keep = match controls::control_of(vocab, t) {
                Some(Control::Instruments) => {
                    *kept_instruments.get_or_insert_with(|| rng.random::<f64>() >= CONTROL_DROPOUT)
                }
                _ => rng.random::<f64>() >= CONTROL_DROPOUT,
            };
            if keep {
                out.push(match controls::control_of(vocab, t) {
                    Some(kind @ (Control::Key | Control::Tempo)) => restated(kind).unwrap_or(t),
                    _ => t,
                });
            }
        }
        let room = span.saturating_sub(out.len());
        let body_end = (body_start + room).min(seq.len());
        out.extend_from_slice(&seq[body_start..body_end]);
        Some((body_start, out))
    }

    /// `cut` (starting at `start` of sequence `i`) transposed, with the tokens before it as
    /// context. Base tokens keep their number; with BPE the re-merged window is cut to the
    /// length of `cut` (or padded, PAD targets being ignored by the loss).
    fn transposed(&self, i: usize, start: usize, cut: &[TokenId], semitones: i8) -> Option<Vec<TokenId>> {
        let mut moved = self.tokenizer.transpose(&self.seqs[i][..start], cut, semitones);
        if self.tokenizer.bpe().is_none() && moved.len() != cut.len() {
            return None;
        }
        moved.resize(cut.len(), PAD);
        Some(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Event, TokenizerConfig};

    fn tsd() -> Tokenizer {
        Tokenizer::new(TokenizerConfig { scheme: crate::tokens::Scheme::Tsd, ..TokenizerConfig::default() })
            .unwrap()
    }

    /// A TSD line of `n` notes rising by a semitone from `low`, each of velocity bin 22 and 6
    /// steps long, note `k` followed by a SHIFT of `shift(k)` steps.
    fn tsd_line(t: &Tokenizer, low: u8, n: u8, shift: impl Fn(u8) -> u16) -> Vec<TokenId> {
        let id = |e| t.vocab().id(e).unwrap();
        let mut seq = vec![crate::tokens::BOS, id(Event::Program(0, 0))];
        for k in 0..n {
            seq.extend([id(Event::Pitch(low + k)), id(Event::Velocity(22)), id(Event::Duration(6))]);
            seq.push(id(Event::TimeShift(shift(k))));
        }
        seq
    }

    #[test]
    fn windows_are_real_slices_padded_at_the_end() {
        let t = Tokenizer::new(TokenizerConfig::default()).unwrap();
        let seqs = vec![(1..=50).collect::<Vec<TokenId>>(), vec![1, 2], vec![7]];
        let w = Windows::new(&seqs, &t).unwrap();
        assert_eq!(w.targets(), 49 + 1);
        let b = w.batch(3, 0, 64, 9, 0);
        assert_eq!(b.len(), 64 * 10);
        let mut saw_short = false;
        for row in b.chunks(10) {
            if row[0] == 1 && row[1] == 2 && row[2] == 0 {
                saw_short = true;
                assert!(row[2..].iter().all(|&t| t == 0));
            } else {
                // A slice of 1..=50: consecutive integers.
                assert!(row.windows(2).all(|p| p[1] == p[0] + 1), "{row:?}");
            }
        }
        assert!(saw_short);
        // Same seed and step, same windows; another step, other windows.
        assert_eq!(b, w.batch(3, 0, 64, 9, 0));
        assert_ne!(b, w.batch(3, 1, 64, 9, 0));
    }

    #[test]
    fn windows_carry_their_pieces_controls_each_dropped_three_times_in_ten() {
        let config = TokenizerConfig {
            scheme: crate::tokens::Scheme::Tsd,
            controls: "key,density".parse().unwrap(),
            ..TokenizerConfig::default()
        };
        let t = Tokenizer::new(config).unwrap();
        let v = *t.vocab();
        let id = |e| v.id(e).unwrap();
        let (key, density) = (id(Event::Key(7)), id(Event::Density(4)));
        let mut seq = vec![crate::tokens::BOS, key, density, id(Event::Program(0, 0))];
        for k in 0..60u8 {
            seq.extend([id(Event::Pitch(40 + k % 40)), id(Event::Velocity(22)), id(Event::Duration(6))]);
            seq.push(id(Event::TimeShift(6)));
        }
        let w = Windows::new(std::slice::from_ref(&seq), &t).unwrap();
        let (mut rows, mut with_key, mut with_density) = (0, 0, 0);
        for step in 0..100 {
            for row in w.batch(9, step, 8, 24, 5).chunks(25) {
                let row: Vec<TokenId> = row.iter().map(|&x| x as TokenId).collect();
                let body = if row[0] == crate::tokens::BOS { &row[1..] } else { &row[..] };
                let stated =
                    crate::tokens::controls::prefix_len(&v, &[&[crate::tokens::BOS][..], body].concat());
                // Controls only in front, in order, and the music after them is one cut of the
                // piece (a transposed one: pitches move, the rest stays).
                assert!(body[stated..].iter().all(|&x| crate::tokens::controls::control_of(&v, x).is_none()));
                let kinds: Vec<_> = body[..stated]
                    .iter()
                    .map(|&x| crate::tokens::controls::control_of(&v, x).unwrap())
                    .collect();
                use crate::tokens::Control::{Density, Key};
                assert!(
                    [&[Key, Density][..], &[Key], &[Density], &[]].contains(&kinds.as_slice()),
                    "{kinds:?}"
                );
                // A transposed window moves its key with its notes (only the tonic changes).
                assert!(body[..stated]
                    .iter()
                    .all(|&x| x == density || matches!(v.event(x), Event::Key(k) if k < 12)));
                with_key += usize::from(kinds.contains(&Key));
                with_density += usize::from(kinds.contains(&Density));
                rows += 1;
            }
        }
        let (k, d) = (with_key as f64 / rows as f64, with_density as f64 / rows as f64);
        assert!((0.62..0.78).contains(&k) && (0.62..0.78).contains(&d), "key in {k}, density in {d}");
    }

    #[test]
    fn fim_windows_state_how_long_their_middle_lasts() {
        use super::super::fim;
        let t = tsd();
        let v = *t.vocab();
        let seq = tsd_line(&t, 50, 12, |k| if k % 3 == 0 { 30 } else { 6 });
        let vocab = t.vocab_size();
        let (mut rows, mut long_gaps) = (0, 0);
        for (step, order) in (0..40).map(|s| (s, if s % 2 == 0 { fim::Order::Psm } else { fim::Order::Spm }))
        {
            let w = Windows::new(std::slice::from_ref(&seq), &t).unwrap().with_fim(1.0).with_fim_order(order);
            for row in w.batch(4, step, 4, 80, 0).chunks(81) {
                let row: Vec<TokenId> =
                    row.iter().take_while(|&&x| x != i64::from(PAD)).map(|&x| x as TokenId).collect();
                assert_eq!(fim::restore(&row, vocab).as_deref(), Some(&seq[..]), "the whole piece fits");
                let at = |sentinel: TokenId| row.iter().position(|&x| x == sentinel).unwrap();
                let (at_gap, at_middle) = (at(fim::gap(vocab)), at(fim::middle(vocab)));
                // The gap runs to the middle (PSM) or to the music before (SPM), which then ends
                // right before the middle.
                let gap_end = match order {
                    fim::Order::Psm => at_middle,
                    fim::Order::Spm => {
                        assert_eq!(row[0], fim::suffix(vocab));
                        at(fim::prefix(vocab))
                    }
                };
                let (gap, middle) = (&row[at_gap + 1..gap_end], &row[at_middle + 1..]);
                // The gap is the middle's time, written with the longest SHIFTs first.
                assert_eq!(t.shifted_steps(gap), t.shifted_steps(middle), "{row:?}");
                assert_eq!(gap, t.shift_tokens(t.shifted_steps(middle)).as_slice());
                assert!(
                    gap.len()
                        <= middle.iter().filter(|&&x| matches!(v.event(x), Event::TimeShift(_))).count()
                );
                long_gaps += usize::from(gap.len() > 1);
                rows += 1;
            }
        }
        assert_eq!(rows, 160);
        assert!(long_gaps > 10, "middles longer than one SHIFT: {long_gaps}");
    }

    #[test]
    fn transposition_moves_pitched_notes_and_respects_drum_context() {
        let t = Tokenizer::new(TokenizerConfig::default()).unwrap();
        let v = *t.vocab();
        let on = |p| v.id(Event::NoteOn(p)).unwrap() as i64;
        let drums = v.id(Event::Drums(0)).unwrap();
        // A drum part: a window starting after DRUMS must leave its notes alone.
        let seq: Vec<TokenId> =
            std::iter::once(drums).chain(std::iter::repeat_n(on(40) as TokenId, 30)).collect();
        let w = Windows::new(std::slice::from_ref(&seq), &t).unwrap();
        for step in 0..20 {
            let b = w.batch(1, step, 4, 8, 6);
            assert!(b.iter().all(|&t| t == on(40) || t == i64::from(drums)), "{b:?}");
        }
        // A piano part: shifts stay within ±6 and every token of a window moves together.
        let seq: Vec<TokenId> = std::iter::repeat_n(on(60) as TokenId, 30).collect();
        let w = Windows::new(std::slice::from_ref(&seq), &t).unwrap();
        let mut shifts = std::collections::BTreeSet::new();
        for step in 0..50 {
            for row in w.batch(1, step, 4, 8, 6).chunks(9) {
                assert!(row.iter().all(|&t| t == row[0]));
                let d = row[0] - on(60);
                assert!((-6..=6).contains(&d));
                shifts.insert(d);
            }
        }
        assert!(shifts.len() > 8, "{shifts:?}");
    }

    #[test]
    fn tsd_windows_move_pitches_together_and_keep_the_rest() {
        let t = tsd();
        let v = *t.vocab();
        // Notes 40, 41, 42, ...: in any window, consecutive pitches differ by exactly 1, moved
        // or not.
        let seq = tsd_line(&t, 40, 40, |_| 6);
        let w = Windows::new(std::slice::from_ref(&seq), &t).unwrap();
        let mut moved = std::collections::BTreeSet::new();
        for step in 0..30 {
            for row in w.batch(2, step, 4, 16, 5).chunks(17) {
                let pitches: Vec<i32> = row
                    .iter()
                    .filter_map(|&x| {
                        if let Event::Pitch(p) = v.event(x as TokenId) {
                            Some(i32::from(p))
                        } else {
                            None
                        }
                    })
                    .collect();
                assert!(pitches.windows(2).all(|p| p[1] == p[0] + 1), "{pitches:?}");
                for &x in row {
                    let e = v.event(x as TokenId);
                    assert!(
                        matches!(
                            e,
                            Event::Pitch(_) | Event::Velocity(22) | Event::Duration(6) | Event::TimeShift(6)
                        ) || matches!(e, Event::Program(0, 0) | Event::Bos),
                        "{e:?}"
                    );
                }
                // Which window it was: the position of its first pitch after the last shift.
                let first =
                    row.iter().position(|&x| matches!(v.event(x as TokenId), Event::Pitch(_))).unwrap();
                moved.insert((first, pitches[0]));
            }
        }
        assert!(moved.len() > 20, "windows and shifts vary: {moved:?}");
    }
}
