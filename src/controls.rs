//! A piece's control values, measured: the key the key finder hears, the tempo it starts at, its
//! notes per beat and the instruments that play. The tokens that state them, and the grammar that
//! keeps them in the prefix, are `crate::tokens::controls`; this module, above both the key finder
//! and the tokenizer, measures pieces for them ([`measure`]) and encodes a piece with its prefix
//! ([`encode`]), which is how every training piece of a checkpoint with `--controls` is read.
//!
//! At generation the seed's measured values are the defaults, and what the user asks for replaces
//! them ([`Asked::apply`]); a density asked as `low`, `medium` or `high` becomes a bin of the
//! model's own distribution (see `crate::generate`).

use crate::density::{self, Density};
use crate::key::{key_of_piece, Key, Profile};
use crate::midi::Piece;
use crate::tokens::controls::{density_bin, tempo_bin};
use crate::tokens::{Control, ControlSet, ControlValues, TokenId, Tokenizer};

/// The values of the controls in `set` that `piece` has (a key only when the key finder hears
/// one; instruments only when it has notes).
pub fn measure(piece: &Piece, set: ControlSet) -> ControlValues {
    let mut v = ControlValues::default();
    if set.has(Control::Key) {
        v.key = key_of_piece(piece, None, Profile::default()).map(|e| e.key.index() as u8);
    }
    if set.has(Control::Tempo) {
        v.tempo = Some(tempo_bin(first_bpm(piece)));
    }
    if set.has(Control::Density) && piece.note_count() > 0 {
        v.density = Some(density_bin(density::notes_per_beat(piece, 0)));
    }
    if set.has(Control::Instruments) {
        let list = instrument_list(
            piece.instruments.iter().filter(|i| !i.notes.is_empty()).map(|i| (i.program, i.is_drum)),
        );
        v.instruments = (!list.is_empty()).then_some(list);
    }
    v
}

/// Instrument controls of `(program, is_drum)` pairs: programs, 128 for drums; sorted, unique.
pub fn instrument_list(instruments: impl Iterator<Item = (u8, bool)>) -> Vec<u8> {
    let mut list: Vec<u8> = instruments.map(|(p, drum)| if drum { 128 } else { p.min(127) }).collect();
    list.sort_unstable();
    list.dedup();
    list
}

/// The tempo `piece` starts at, in quarter notes a minute (120 without tempo events).
pub fn first_bpm(piece: &Piece) -> f64 {
    let micros = piece.tempos.first().filter(|t| t.tick == 0).map_or(500_000, |t| t.micros_per_beat);
    60_000_000.0 / f64::from(micros.max(1))
}

/// `piece` encoded by `tokenizer`, with the control prefix its configuration asks for (see
/// `crate::tokens::controls`): the tokens every training piece is read as.
pub fn encode(tokenizer: &Tokenizer, piece: &Piece) -> Vec<TokenId> {
    let tokens = tokenizer.encode(piece);
    let set = tokenizer.config().controls;
    if set.is_empty() {
        return tokens;
    }
    let values = measure(piece, set);
    let tokens = values.prefix(tokenizer.vocab(), &tokens);
    if tokenizer.scheme() == crate::tokens::Scheme::Remi {
        restate(tokenizer, piece, tokens, &values)
    } else {
        tokens
    }
}

/// Bars of music the key finder reads to hear the key at a bar line.
pub const KEY_WINDOW_BARS: usize = 4;

/// REMI `tokens` of `piece` (after the control prefix stating `values`) with the key and the
/// tempo restated after each bar line where they change. The key: where the key the finder hears
/// in the [`KEY_WINDOW_BARS`] bars from that bar line differs from the key in force, and so does
/// the one from the next bar line (a passing inflection is no modulation). The tempo: where the
/// tempo in force at the bar line falls in another bin. The tokens go right after the BAR (and
/// its TIMESIG when one follows), key first.
fn restate(
    tokenizer: &Tokenizer,
    piece: &Piece,
    mut tokens: Vec<TokenId>,
    values: &ControlValues,
) -> Vec<TokenId> {
    use crate::tokens::Event;
    let vocab = tokenizer.vocab();
    let (Some(bar), Some(spb)) = (vocab.id(Event::Bar), tokenizer.steps_per_beat()) else {
        return tokens;
    };
    if values.key.is_none() && values.tempo.is_none() {
        return tokens;
    }
    let bars: Vec<usize> = (0..tokens.len()).filter(|&i| tokens[i] == bar).collect();
    let tick = |step: u64| step * u64::from(piece.ticks_per_beat) / u64::from(spb.max(1));
    let starts: Vec<u64> = bars.iter().map(|&i| tick(tokenizer.end_step(&tokens[..=i]))).collect();
    let end = piece.end_tick().max(starts.last().copied().unwrap_or(0) + 1);
    let heard: Vec<Option<u8>> = match values.key {
        None => vec![None; starts.len()],
        Some(_) => (0..starts.len())
            .map(|j| {
                let to = starts.get(j + KEY_WINDOW_BARS).copied().unwrap_or(end);
                crate::key::key_of_notes(piece, Some(starts[j]..to), Profile::default())
                    .map(|e| e.key.index() as u8)
            })
            .collect(),
    };
    let tempo_at = |t: u64| {
        let micros =
            piece.tempos.iter().take_while(|c| c.tick <= t).last().map_or(500_000, |c| c.micros_per_beat);
        tempo_bin(60_000_000.0 / f64::from(micros.max(1)))
    };
    let mut inserts: Vec<(usize, Vec<TokenId>)> = Vec::new();
    let (mut key, mut tempo) = (values.key, values.tempo);
    for j in 0..bars.len() {
        let mut here = Vec::new();
        if let (Some(k), Some(current)) = (heard[j], key) {
            let next = heard.get(j + 1).copied().flatten().unwrap_or(k);
            if k != current && next == k {
                here.extend(vocab.id(Event::Key(k)));
                key = Some(k);
            }
        }
        if let Some(current) = tempo {
            let b = tempo_at(starts[j]);
            if b != current {
                here.extend(vocab.id(Event::Tempo(b)));
                tempo = Some(b);
            }
        }
        if !here.is_empty() {
            let mut at = bars[j] + 1;
            if tokens.get(at).is_some_and(|&t| matches!(vocab.event(t), Event::TimeSig(..))) {
                at += 1;
            }
            inserts.push((at, here));
        }
    }
    for (at, here) in inserts.into_iter().rev() {
        tokens.splice(at..at, here);
    }
    tokens
}

/// What a sampling job asks for, control by control (`None`: the seed's value, or none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Asked {
    /// The key to state (already the model's reference key for a key-relative checkpoint).
    pub key: Option<Key>,
    /// Quarter notes a minute.
    pub tempo: Option<f64>,
    /// A density bin (see `crate::generate`, which turns low/medium/high into one).
    pub density_bin: Option<u8>,
    /// Instruments, `(program, is_drum)`.
    pub instruments: Option<Vec<(u8, bool)>>,
}

impl Asked {
    /// `seed`'s values (of the controls in `set`) with what is asked put in their place.
    pub fn apply(&self, set: ControlSet, seed: ControlValues) -> ControlValues {
        let mut v = seed;
        if set.has(Control::Key) {
            v.key = self.key.map(|k| k.index() as u8).or(v.key);
        }
        if set.has(Control::Tempo) {
            v.tempo = self.tempo.map(tempo_bin).or(v.tempo);
        }
        if set.has(Control::Density) {
            v.density = self.density_bin.or(v.density);
        }
        if set.has(Control::Instruments) {
            if let Some(list) = &self.instruments {
                v.instruments = Some(instrument_list(list.iter().copied()));
            }
        }
        v
    }
}

/// Which density bin stands for `want` in a distribution over the density bins (`weights`,
/// one per bin): the bin at the middle of the asked third of its probability mass (1/6, 1/2,
/// 5/6), so "low" is what the model's training corpus calls sparse. `None` without weight.
pub fn density_bin_of(weights: &[f64], want: Density) -> Option<u8> {
    let total: f64 = weights.iter().sum();
    if !(total > 0.0) {
        return None;
    }
    let q = match want {
        Density::Low => 1.0 / 6.0,
        Density::Medium => 0.5,
        Density::High => 5.0 / 6.0,
    } * total;
    let mut acc = 0.0;
    for (i, &w) in weights.iter().enumerate() {
        acc += w;
        if acc >= q && w > 0.0 {
            return Some(i as u8);
        }
    }
    weights.iter().rposition(|&w| w > 0.0).map(|i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{Instrument, Note, TempoChange};
    use crate::tokens::{Event, TokenizerConfig};

    fn scale(root: u8, minor: bool) -> Piece {
        let steps: &[u8] =
            if minor { &[0, 2, 3, 5, 7, 8, 11, 12, 7, 3, 0] } else { &[0, 2, 4, 5, 7, 9, 11, 12, 7, 4, 0] };
        let mut piece = Piece::new(480);
        let notes = steps
            .iter()
            .enumerate()
            .map(|(i, &s)| Note {
                start: i as u64 * 240,
                end: i as u64 * 240 + 240,
                pitch: root + s,
                velocity: 80,
            })
            .collect();
        piece.instruments.push(Instrument { program: 40, notes, ..Instrument::default() });
        piece.tempos = vec![TempoChange { tick: 0, micros_per_beat: 600_000 }];
        piece
    }

    #[test]
    fn measured_values_are_the_pieces_key_tempo_density_and_instruments() {
        let all: ControlSet = "all".parse().unwrap();
        let v = measure(&scale(57, true), all);
        assert_eq!(v.key, Some(Key::A_MINOR.index() as u8));
        assert_eq!(v.tempo, Some(tempo_bin(100.0)));
        assert_eq!(v.density, Some(density_bin(2.0)), "eighth notes: two a beat");
        assert_eq!(v.instruments, Some(vec![40]));
        let only_key = measure(&scale(57, true), "key".parse().unwrap());
        assert_eq!((only_key.tempo, only_key.density, only_key.instruments), (None, None, None));
        assert_eq!(measure(&Piece::new(480), all).key, None, "no notes, no key");
    }

    #[test]
    fn encoding_puts_the_prefix_after_bos_and_decoding_ignores_it() {
        let t = Tokenizer::new(TokenizerConfig {
            controls: "all".parse().unwrap(),
            ..TokenizerConfig::default()
        })
        .unwrap();
        let p = scale(60, false);
        let tokens = encode(&t, &p);
        assert_eq!(t.vocab().event(tokens[1]), Event::Key(0));
        assert!(matches!(t.vocab().event(tokens[4]), Event::Instrument(40)));
        assert_eq!(t.decode(&tokens), t.quantize(&p));
        assert_eq!(t.dropped_tokens(&tokens), 0);
        // Asked values replace the seed's; the rest stay.
        let asked = Asked {
            key: Some(Key::A_MINOR),
            instruments: Some(vec![(0, false), (0, true)]),
            ..Asked::default()
        };
        let v = asked.apply(t.config().controls, measure(&p, t.config().controls));
        assert_eq!((v.key, v.instruments.clone()), (Some(21), Some(vec![0, 128])));
        assert_eq!(v.tempo, measure(&p, t.config().controls).tempo);
    }

    #[test]
    fn remi_restates_the_key_where_the_music_modulates() {
        let config = TokenizerConfig {
            scheme: crate::tokens::Scheme::Remi,
            controls: "key,tempo".parse().unwrap(),
            ..TokenizerConfig::default()
        };
        let t = Tokenizer::new(config).unwrap();
        // Fourteen bars of C major, then six of G major: each bar its tonic, leading tone, third
        // and fifth.
        let mut piece = scale(60, false);
        piece.instruments[0].notes.clear();
        let bar = 4 * 480;
        for b in 0..20u64 {
            let root = if b < 14 { 60 } else { 67 };
            let mut start = b * bar;
            for (p, len) in [(root, 720), (root - 1, 240), (root + 4, 480), (root + 7, 480)] {
                piece.instruments[0].notes.push(Note { start, end: start + len, pitch: p, velocity: 80 });
                start += len;
            }
        }
        // The tempo moves from 100 to 140 bpm at bar 16.
        piece.tempos.push(TempoChange { tick: 16 * bar, micros_per_beat: 428_571 });
        let tokens = encode(&t, &piece);
        let v = t.vocab();
        let tempi: Vec<usize> =
            (0..tokens.len()).filter(|&i| matches!(v.event(tokens[i]), Event::Tempo(_))).collect();
        assert_eq!(tempi.len(), 2, "stated, then restated once");
        assert_eq!(v.event(tokens[tempi[1]]), Event::Tempo(tempo_bin(140.0)));
        assert!(matches!(v.event(tokens[tempi[1] - 1]), Event::Bar | Event::TimeSig(..) | Event::Key(_)));
        let keys: Vec<(usize, Event)> = tokens
            .iter()
            .enumerate()
            .map(|(i, &x)| (i, v.event(x)))
            .filter(|(_, e)| matches!(e, Event::Key(_)))
            .collect();
        let g = Key::new(7, crate::key::Mode::Major).index() as u8;
        assert_eq!(keys.first().map(|k| k.1), Some(Event::Key(0)), "the prefix states C major");
        assert!(
            keys.iter().any(|&(i, e)| e == Event::Key(g) && v.event(tokens[i - 1]) == Event::Bar),
            "{keys:?}"
        );
        assert!(keys.len() <= 3, "no flapping: {keys:?}");
        // The restated tokens carry no music, and the guard accepts them where they are.
        assert_eq!(t.decode(&tokens), t.quantize(&piece));
        assert_eq!(t.dropped_tokens(&tokens), 0);
        let rules = crate::tokens::NoteRules::new(&t);
        let mut guard = rules.guard(&tokens[..1]);
        for &x in &tokens[1..] {
            let mut probs = vec![1.0; v.len()];
            guard.mask(&mut probs);
            assert!(probs[usize::from(x)] > 0.0, "the guard refuses {} in an encoded piece", v.name(x));
            guard.push(x);
        }
    }

    #[test]
    fn density_bins_come_from_the_thirds_of_the_distribution() {
        let w = [0.0, 0.1, 0.2, 0.4, 0.2, 0.1];
        assert_eq!(density_bin_of(&w, Density::Low), Some(2));
        assert_eq!(density_bin_of(&w, Density::Medium), Some(3));
        assert_eq!(density_bin_of(&w, Density::High), Some(4));
        assert_eq!(density_bin_of(&[0.0; 4], Density::Low), None);
    }
}
