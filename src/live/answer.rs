//! What a model answers to a phrase: the session so far, placed on the player's beat grid,
//! primes any generator, which writes `beats` beats under the sampler's constraints (see
//! [`crate::tokens::Constraints`]): its first note starts exactly on the answer's first beat
//! ([`Constraints::open_at`]), notes start only inside the answer, and the sample ends once its
//! time reaches the answer's end ([`Constraints::end_by`]; not a stop that its time must land
//! on exactly, which would leave a model that wants to move on only notes to write).
//!
//! An answer keeps to the session's key: the key finder hears the key of the phrase being
//! answered as a listener does (both of its profiles together, the phrase's last note counting
//! double: [`session_key`]; or the key given), every note the model writes
//! is on its scale ([`Constraints::in_scale`]), an answer opens and closes on the key's tonic
//! chord (the notes starting on its first step and in its last beat: a cadence;
//! [`Constraints::in_classes_between`]), its notes lean on that chord (they weigh
//! [`AnswerOptions::tonic_weight`] times the model's probability;
//! [`Constraints::favour_classes`]), and of [`AnswerOptions::candidates`] answers sampled
//! in one batch the one whose notes fit the key's profiles best ([`key_fit`]) is played.
//! Accompanying, every note stays under a pitch ([`Constraints::below_pitch`]) and follows the
//! player's harmony (no cadence). Keys of
//! key-relative checkpoints, the copy limit and the note guard come with the sampler and
//! [`crate::generate::generate`], as for `generate`.

use std::sync::Arc;

use super::tempo::Grid;
use crate::error::{Error, Result};
use crate::generate::{self, GenerateOptions, Instruments};
use crate::key::Key;
use crate::midi::{Instrument, Note, Piece, TempoChange};
use crate::models::Generator;
use crate::sampler::Sampler;
use crate::tokens::{Constraints, Tokenizer};

/// Ticks per beat of the piece a session is written into.
const TICKS: u16 = 480;

/// Answers sampled for each one played, by default.
pub const DEFAULT_CANDIDATES: usize = 4;

/// How much more likely an answer's notes of the key's tonic chord are than the model has them,
/// by default (see [`AnswerOptions::tonic_weight`]).
pub const DEFAULT_TONIC_WEIGHT: f64 = 2.0;

/// The tonic weights an answer may be asked for.
pub const TONIC_WEIGHTS: std::ops::RangeInclusive<f64> = 1.0..=100.0;

/// A note that sounded in the session (seconds on the session's clock).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Played {
    pub pitch: u8,
    pub velocity: u8,
    pub start: f64,
    pub end: f64,
}

impl Played {
    /// The same note `seconds` later (earlier when negative).
    pub fn later(self, seconds: f64) -> Played {
        Played { start: self.start + seconds, end: self.end + seconds, ..self }
    }
}

/// What a session asks the model for: `beats` beats from beat `first_beat` of `grid` after
/// `history` (the session so far, any order), as its answer number `index` (its sampling
/// stream); accompanying, every note below the pitch `below`. The phrase being answered (whose
/// notes tell the session's key) began at `phrase_start`.
///
/// A long answer may be sampled in parts, each played while the next is sampled: `part_of`
/// is then the whole answer's first beat and end beat, and `history` holds the parts before
/// this one. Only the first part opens the answer (its first note on its first beat, of the
/// tonic chord) and only the last closes it; the key is the one heard before the whole answer.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub history: &'a [Played],
    pub phrase_start: f64,
    pub grid: Grid,
    pub first_beat: i64,
    pub beats: u32,
    pub index: usize,
    pub below: Option<u8>,
    pub part_of: Option<(i64, i64)>,
}

impl Ask<'_> {
    /// The whole answer's first beat and end beat.
    pub fn whole(&self) -> (i64, i64) {
        self.part_of.unwrap_or((self.first_beat, self.first_beat + i64::from(self.beats)))
    }
}

/// How a model answers (what every answer of a session shares; what differs from one to the
/// next is an [`Ask`]).
#[derive(Debug, Clone)]
pub struct AnswerOptions {
    /// Beats of the session before the answer that prime the model: from this many to 1.5 times
    /// as many, the start moving by half of it at a time (see [`answer`]).
    pub context_beats: u32,
    /// The sampler, its note rules set for the model's tokenizer (the constraints of each
    /// answer are added to them).
    pub sampler: Sampler,
    pub rng_seed: u64,
    /// Answer in this key (a key-relative checkpoint; see [`crate::key::plan`]).
    pub key: Option<Key>,
    /// Most tokens an answer may take.
    pub max_tokens: usize,
    /// Keep the answer's notes on the scale of the key the session is in ([`session_key`]; a
    /// minor key's raised seventh allowed too).
    pub keep_key: bool,
    /// With `keep_key`, an answer (not an accompaniment) opens and closes on the key's tonic
    /// chord: its first notes and the notes starting in its last beat are of the chord's pitch
    /// classes.
    pub cadence: bool,
    /// With `keep_key`, the notes of the key's tonic chord weigh this many times the model's
    /// probability in an answer (not an accompaniment; 1: as the model has them).
    pub tonic_weight: f64,
    /// Answers sampled (in one batch) for each one played: the one that fits the session's key
    /// best ([`key_fit`]) is played (the first, with `keep_key` off).
    pub candidates: usize,
}

impl Default for AnswerOptions {
    fn default() -> Self {
        AnswerOptions {
            context_beats: 16,
            sampler: Sampler::default(),
            rng_seed: 0,
            key: None,
            max_tokens: 1024,
            keep_key: true,
            cadence: true,
            tonic_weight: DEFAULT_TONIC_WEIGHT,
            candidates: DEFAULT_CANDIDATES,
        }
    }
}

impl AnswerOptions {
    /// Check the options the sampler does not: the tonic's weight (1 to 100).
    pub fn validate(&self) -> Result<()> {
        if !TONIC_WEIGHTS.contains(&self.tonic_weight) {
            return Err(Error::setting("tonic-weight", self.tonic_weight, "a weight from 1 to 100"));
        }
        Ok(())
    }
}

/// An answer: its notes on the session's clock, and what sampling it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub notes: Vec<Played>,
    pub primer_tokens: usize,
    pub sampled_tokens: usize,
}

/// `history` (the session's notes, any order) from `from` beats to `to` beats of `grid`, as a
/// piece whose beat 0 is `from`.
pub fn session_piece(history: &[Played], grid: Grid, from: i64, to: i64) -> Piece {
    let mut piece = Piece::new(TICKS);
    let micros = (grid.beat * 1e6).round().clamp(1.0, f64::from(0xff_ffff_u32)) as u32;
    piece.tempos.push(TempoChange { tick: 0, micros_per_beat: micros });
    let limit = ((to - from).max(0) as u64) * u64::from(TICKS);
    let tick = |t: f64| -> Option<u64> {
        let x = ((grid.beats_at(t) - from as f64) * f64::from(TICKS)).round();
        (x >= 0.0).then_some(x as u64)
    };
    let notes: Vec<Note> = history
        .iter()
        .filter_map(|p| {
            let start = tick(p.start).filter(|&s| s < limit)?;
            let end = tick(p.end).unwrap_or(0).clamp(start + 1, limit.max(start + 1));
            Some(Note { start, end, pitch: p.pitch.min(127), velocity: p.velocity.clamp(1, 127) })
        })
        .collect();
    piece.instruments.push(Instrument { program: 0, channel: 0, is_drum: false, name: "Live".into(), notes });
    piece.normalize();
    piece
}

/// Seconds each pitch class sounds in `notes` (each note at least `floor`): what the key
/// finder reads of played notes, as [`crate::key::finder::pitch_class_beats`] reads a piece.
fn pitch_class_seconds<'a>(notes: impl IntoIterator<Item = &'a Played>, floor: f64) -> [f64; 12] {
    let mut weights = [0.0; 12];
    for n in notes {
        weights[usize::from(n.pitch % 12)] += (n.end - n.start).max(floor);
    }
    weights
}

/// How many times its sounding time the last note of a phrase (the notes starting with its
/// last onset) counts when the session hears the phrase's key: a phrase closes on its tonic
/// more often than on any other note, and a listener hears the close.
pub const LAST_NOTE_WEIGHT: f64 = 2.0;

/// Notes starting this close to a phrase's last onset (seconds) are played with it.
const CHORD_SPREAD: f64 = 0.03;

/// Seconds each pitch class sounds in a phrase, its last note counted [`LAST_NOTE_WEIGHT`]
/// times (each note at least 1 ms).
fn phrase_weights(phrase: &[&Played]) -> [f64; 12] {
    let all = pitch_class_seconds(phrase.iter().copied(), 1e-3);
    let last = phrase.iter().map(|n| n.start).fold(f64::NEG_INFINITY, f64::max);
    let closing =
        pitch_class_seconds(phrase.iter().copied().filter(|n| n.start >= last - CHORD_SPREAD), 1e-3);
    std::array::from_fn(|c| all[c] + (LAST_NOTE_WEIGHT - 1.0) * closing[c])
}

/// The key the session is in: `key` when given, else the key heard in the notes of `history`
/// that start at or after `from` (the phrase being answered), else in all of `history`
/// (seconds on the session's clock). A phrase is heard as a listener hears it: the key both
/// profiles of the finder hear best together ([`crate::key::finder::find_key_by_both`]), its
/// last note counting [`LAST_NOTE_WEIGHT`] times. On the measured phrases (eight notes in a
/// major key closing on its tonic) this names the key they were written in for 96.5% of them,
/// against 71% for Aarden-Essen alone on the notes' durations; on the last eight notes of the
/// Bach chorales' soprano lines, their piece's key for 76% against 62% (`docs/benchmarks.md`).
pub fn session_key(history: &[Played], from: Option<f64>, key: Option<Key>) -> Option<Key> {
    if key.is_some() {
        return key;
    }
    let heard = |from: f64| {
        let phrase: Vec<&Played> = history.iter().filter(|n| n.start >= from).collect();
        crate::key::finder::find_key_by_both(&phrase_weights(&phrase)).map(|k| k.key)
    };
    from.and_then(heard).or_else(|| heard(f64::NEG_INFINITY))
}

/// The pitch classes an answer in `key` keeps to: its scale (a minor key's raised seventh too).
pub fn scale_of(key: Key) -> Vec<u8> {
    let mut classes = key.scale().to_vec();
    if key.mode == crate::key::Mode::Minor {
        classes.push((key.tonic + 11) % 12);
    }
    classes
}

/// How well `notes` fit `key`, as the session hears a key ([`session_key`]): the mean
/// correlation of their sounding time per pitch class with the key's two profiles, plus 1 when
/// no other key correlates better (the finder names `key`); -1 without notes.
pub fn key_fit(notes: &[Played], key: Key) -> f64 {
    let weights = pitch_class_seconds(notes, 0.0);
    let Some(r) = crate::key::finder::correlations_by_both(&weights) else {
        return -1.0;
    };
    let own = r[key.index()];
    let named = r.iter().all(|&c| c <= own);
    own + if named { 1.0 } else { 0.0 }
}

/// `model`'s answer to what `ask` asks: notes from its first beat for its beats, after its
/// history, drawn with its index's sampling streams.
pub fn answer(
    model: &dyn Generator,
    tokenizer: &Tokenizer,
    ask: &Ask,
    opts: &AnswerOptions,
) -> Result<Answer> {
    let &Ask { history, phrase_start, grid, first_beat: start_beat, beats, index, below, .. } = ask;
    let (whole_start, whole_end) = ask.whole();
    let (opens, closes) = (start_beat == whole_start, start_beat + i64::from(beats) >= whole_end);
    let spb = tokenizer.steps_per_beat().ok_or_else(|| {
        Error::setting(
            "checkpoint",
            "a model on the seconds grid",
            "a model on the beats grid (a live answer follows the player's beat)",
        )
    })?;
    if beats == 0 {
        return Err(Error::setting("answer-beats", 0, "at least 1 beat"));
    }
    let earliest = history
        .iter()
        .map(|p| grid.beats_at(p.start).floor() as i64)
        .filter(|&b| b < start_beat)
        .min()
        .unwrap_or(start_beat);
    // The context starts on a multiple of half its length, so it moves by half a context at a
    // time: the answers in between are primed by extending the last primer, and a network feeds
    // only the new tokens (its state after the last primer is kept).
    let hop = i64::from(opts.context_beats / 2).max(1);
    let from = earliest.max((start_beat - i64::from(opts.context_beats)).div_euclid(hop) * hop);
    let piece = session_piece(history, grid, from, start_beat);
    let lead = (start_beat - from) as u64;
    let (a, b) = (lead * u64::from(spb), (lead + u64::from(beats)) * u64::from(spb));
    let mut constraints = Constraints::new().free_between(a, b).end_by(b);
    if opens {
        constraints = constraints.open_at(a);
    }
    let context: Vec<Played> =
        history.iter().filter(|p| p.start < grid.time_of(whole_start as f64)).copied().collect();
    let key = opts.keep_key.then(|| session_key(&context, Some(phrase_start), opts.key)).flatten();
    // A key-relative model writes in the key's reference key (C major or A minor), moved to the
    // key afterwards (see `crate::key::plan`): its constraints are in the reference key's pitches.
    let relative = tokenizer.config().key_relative;
    let (model_key, shift) = match key {
        Some(k) if relative => (Some(k.reference()), k.reference().shift_to(k)),
        other => (other, 0),
    };
    if let Some(k) = model_key {
        constraints = constraints.in_scale(&scale_of(k));
        // An answer (not an accompaniment) opens and closes on the tonic chord and leans on it.
        if below.is_none() {
            let chord = k.triad();
            if opts.cadence && opens {
                constraints = constraints.in_classes_between(a, a + 1, &chord);
            }
            if opts.cadence && closes {
                let close = b.saturating_sub(u64::from(spb)).max(a);
                constraints = constraints.in_classes_between(close, b, &chord);
            }
            constraints = constraints.favour_classes(&chord, opts.tonic_weight);
        }
    }
    if let Some(pitch) = below {
        let moved = (i16::from(pitch) - i16::from(shift)).clamp(1, 127) as u8;
        constraints = constraints.below_pitch(moved);
    }
    let constraints = Arc::new(constraints);
    let mut sampler = opts.sampler.clone();
    sampler.notes = sampler.notes.map(|r| r.with_constraints(Some(constraints)));
    let gen_opts = GenerateOptions {
        count: opts.candidates.max(1),
        length: opts.max_tokens,
        sampler,
        // Each part of an answer draws its own streams (the first, an answer's whole one's).
        rng_seed: opts
            .rng_seed
            .wrapping_add(index as u64)
            .wrapping_add(((start_beat - whole_start) as u64) << 32),
        seed_beats: Some(lead as f64),
        seed_seconds: None,
        strip_primer: false,
        // A key-relative model is asked for the session's key, so its answer comes back in it.
        key: if relative { key.or(opts.key) } else { opts.key },
        candidates: 1,
        density: None,
        instruments: Instruments::Any,
        tempo: Some(grid.bpm().clamp(10.0, 400.0)),
    };
    let generated = generate::generate(model, tokenizer, Some(&piece), &gen_opts)?;
    let (first, last) = (start_beat as f64, (start_beat + i64::from(beats)) as f64);
    // Each candidate's notes on the session's clock; the one that fits the session's key best
    // (the first of equals) is the answer.
    let mut best: Option<(f64, Answer)> = None;
    for g in generated {
        let tpb = f64::from(g.piece.ticks_per_beat);
        let beat_of = |tick: u64| from as f64 + tick as f64 / tpb;
        let mut notes: Vec<Played> = g
            .piece
            .instruments
            .iter()
            .filter(|i| !i.is_drum)
            .flat_map(|i| &i.notes)
            .filter(|n| beat_of(n.start) >= first - 1e-6 && beat_of(n.start) < last)
            .map(|n| Played {
                pitch: n.pitch,
                velocity: n.velocity,
                start: grid.time_of(beat_of(n.start)),
                end: grid.time_of(beat_of(n.end).min(last)),
            })
            .collect();
        notes.sort_by(|x, y| x.start.total_cmp(&y.start).then(x.pitch.cmp(&y.pitch)));
        let fit = key.map_or(0.0, |k| key_fit(&notes, k));
        if best.as_ref().is_none_or(|(b, _)| fit > *b) {
            let answer =
                Answer { notes, primer_tokens: g.primer.len(), sampled_tokens: g.continuation.len() };
            best = Some((fit, answer));
        }
    }
    Ok(best.map_or(Answer { notes: Vec::new(), primer_tokens: 0, sampled_tokens: 0 }, |(_, a)| a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_is_written_on_the_players_grid() {
        let grid = Grid::at_bpm(120.0, 1.0);
        let history = [
            Played { pitch: 60, velocity: 80, start: 0.2, end: 0.4 }, // before the window
            Played { pitch: 62, velocity: 90, start: 1.01, end: 1.49 },
            Played { pitch: 64, velocity: 0, start: 1.5, end: 9.0 }, // held into the answer
            Played { pitch: 65, velocity: 70, start: 3.1, end: 3.3 }, // after the window
        ];
        let piece = session_piece(&history, grid, 0, 4);
        let notes = &piece.instruments[0].notes;
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!((notes[0].start, notes[0].end, notes[0].pitch), (10, 470, 62));
        assert_eq!((notes[1].start, notes[1].end, notes[1].velocity), (480, 1920, 1));
        assert_eq!(piece.tempos[0].micros_per_beat, 500_000);
    }

    /// A phrase is heard in the key it closes in: G A C B E G D C (the E and G eighths, every
    /// note held 80% of its time) has no F, so Aarden-Essen alone on its durations hears G
    /// major; both profiles with the last C counted double hear C major. A chord at the close
    /// counts as the last note, all of it.
    #[test]
    fn a_phrase_is_heard_in_the_key_it_closes_in() {
        let beat = 0.5;
        let notes = [(0.0, 55u8, 1.0), (1.0, 57, 1.0), (2.0, 60, 1.0), (3.0, 59, 1.0), (4.0, 52, 0.5)];
        let rest = [(4.5, 55u8, 0.5), (5.0, 62, 1.0), (6.0, 60, 1.0)];
        let phrase: Vec<Played> = notes
            .iter()
            .chain(&rest)
            .map(|&(at, pitch, len)| Played {
                pitch,
                velocity: 80,
                start: at * beat,
                end: (at + 0.8 * len) * beat,
            })
            .collect();
        let plain =
            crate::key::finder::find_key(&pitch_class_seconds(&phrase, 1e-3), crate::key::Profile::default());
        assert_eq!(plain.unwrap().key.to_string(), "G major");
        assert_eq!(session_key(&phrase, Some(0.0), None).unwrap().to_string(), "C major");
        // The weights: the last C's time counted twice, the notes before it once.
        let refs: Vec<&Played> = phrase.iter().collect();
        let w = phrase_weights(&refs);
        assert!((w[0] - (0.4 + 0.4 * LAST_NOTE_WEIGHT)).abs() < 1e-9 && (w[7] - 0.6).abs() < 1e-9, "{w:?}");
        // A closing chord C E G played within the spread: every note of it counts double.
        let mut chord = phrase.clone();
        chord.extend([64u8, 67].map(|pitch| Played { pitch, start: 3.01, end: 3.41, ..phrase[7] }));
        let refs: Vec<&Played> = chord.iter().collect();
        let w = phrase_weights(&refs);
        assert!((w[4] - (0.2 + 0.4 * LAST_NOTE_WEIGHT)).abs() < 1e-9, "{w:?}");
        // Asked for a key, the session keeps to it.
        let d = Key { tonic: 2, mode: crate::key::Mode::Major };
        assert_eq!(session_key(&phrase, Some(0.0), Some(d)), Some(d));
    }

    /// An answer keeps to the key the finder hears in the phrase and, with a cadence, opens and
    /// closes on its tonic chord, even from a model trained on chromatic runs (which alone
    /// wanders off any key).
    #[test]
    fn an_answer_keeps_to_the_key_and_closes_on_its_tonic_chord() {
        use crate::models::markov::{MarkovConfig, MarkovModel};
        let tokenizer = Tokenizer::new(crate::tokens::TokenizerConfig::default()).unwrap();
        let train: Vec<Vec<crate::tokens::TokenId>> = (0..8u64)
            .map(|k| {
                let notes = (0..40u64)
                    .map(|i| {
                        let (start, len) = (i * 240, if (i + k) % 3 == 0 { 480 } else { 240 });
                        let pitch = 48 + ((i * (k % 3 + 1) + k) % 30) as u8;
                        Note { start, end: start + len, pitch, velocity: 80 }
                    })
                    .collect();
                let piece = Piece::of_notes(TICKS, notes);
                tokenizer.encode(&piece)
            })
            .collect();
        let config = MarkovConfig { order: 2, ..MarkovConfig::default() };
        let model = MarkovModel::fit(&config, tokenizer.vocab_size(), &train, None).unwrap();
        let guard = crate::sampler::Guard { unguarded: false, max_polyphony: None, max_copy: None };
        let grid = Grid::at_bpm(120.0, 0.0);
        // A phrase in G major: G B D C B A F# G, in quarters.
        let history: Vec<Played> = [67u8, 71, 74, 72, 71, 69, 66, 67]
            .iter()
            .enumerate()
            .map(|(i, &pitch)| {
                let t = grid.time_of(i as f64);
                Played { pitch, velocity: 80, start: t, end: t + 0.4 }
            })
            .collect();
        let key = session_key(&history, Some(0.0), None).unwrap();
        assert_eq!(key.to_string(), "G major");
        let (scale, triad) = (scale_of(key), key.triad());
        let (open, close, end) = (grid.time_of(9.0), grid.time_of(12.0), grid.time_of(13.0));
        let mut off_chord_without = 0;
        for cadence in [true, false] {
            let mut opts = AnswerOptions { cadence, candidates: 1, ..AnswerOptions::default() };
            opts.sampler.notes = guard.rules_with_copies(&tokenizer, None).unwrap();
            let mut closes = 0;
            for index in 0..12 {
                let ask = Ask {
                    history: &history,
                    phrase_start: 0.0,
                    grid,
                    first_beat: 9,
                    beats: 4,
                    index,
                    below: None,
                    part_of: None,
                };
                let a = answer(&model, &tokenizer, &ask, &opts).unwrap();
                assert!(!a.notes.is_empty(), "answer {index} has notes");
                assert!(
                    (a.notes[0].start - open).abs() < 1e-9,
                    "answer {index} opens on its beat: {:?}",
                    a.notes
                );
                for n in &a.notes {
                    assert!(
                        scale.contains(&(n.pitch % 12)),
                        "answer {index}: {} is off G major's scale",
                        n.pitch
                    );
                    let (at_open, at_close) =
                        ((n.start - open).abs() < 1e-9, n.start >= close - 1e-9 && n.start < end);
                    closes += usize::from(at_close);
                    let in_chord = triad.contains(&(n.pitch % 12));
                    if cadence {
                        assert!(
                            !(at_open || at_close) || in_chord,
                            "answer {index}: {} at {:.3} s",
                            n.pitch,
                            n.start
                        );
                    } else if at_open || at_close {
                        off_chord_without += usize::from(!in_chord);
                    }
                }
            }
            assert!(closes > 0, "some answers have notes in their last beat (cadence {cadence})");
        }
        assert!(off_chord_without > 0, "without the cadence the model opens or closes off the chord");

        // The same answer in two parts of 2 beats: the first opens it, the second (reading the
        // first) closes it; where they meet, neither is held to the chord.
        let mut opts = AnswerOptions { candidates: 1, ..AnswerOptions::default() };
        opts.sampler.notes = guard.rules_with_copies(&tokenizer, None).unwrap();
        let (seam_from, seam_to) = (grid.time_of(10.0), grid.time_of(12.0));
        let (mut off_chord_at_seam, mut closes) = (0, 0);
        for index in 0..12 {
            let part = |history: &[Played], first_beat: i64| {
                let ask = Ask {
                    history,
                    phrase_start: 0.0,
                    grid,
                    first_beat,
                    beats: 2,
                    index,
                    below: None,
                    part_of: Some((9, 13)),
                };
                answer(&model, &tokenizer, &ask, &opts).unwrap().notes
            };
            let first = part(&history, 9);
            assert!((first[0].start - open).abs() < 1e-9, "part 1 of {index} opens on its beat: {first:?}");
            assert!(first.iter().all(|n| n.start < grid.time_of(11.0) && n.end <= grid.time_of(11.0) + 1e-9));
            let with_first: Vec<Played> = history.iter().chain(&first).copied().collect();
            let second = part(&with_first, 11);
            assert!(second.iter().all(|n| n.start >= grid.time_of(11.0) - 1e-9 && n.start < end));
            for n in first.iter().chain(&second) {
                assert!(scale.contains(&(n.pitch % 12)), "answer {index}: {} is off the key", n.pitch);
                let in_chord = triad.contains(&(n.pitch % 12));
                if (n.start - open).abs() < 1e-9 || n.start >= close - 1e-9 {
                    assert!(in_chord, "answer {index}: {} at {:.3} s", n.pitch, n.start);
                    closes += usize::from(n.start >= close - 1e-9);
                } else if n.start >= seam_from - 1e-9 && n.start < seam_to {
                    off_chord_at_seam += usize::from(!in_chord);
                }
            }
        }
        assert!(closes > 0, "the second parts close on the chord");
        assert!(off_chord_at_seam > 0, "the parts' seam is not a cadence");
    }

    /// A session that keeps its grid primes a network by extending its last primer, so only the
    /// new tokens are fed, while the context's start stays (issue 27: a new phrase costs only
    /// its own tokens).
    #[cfg(feature = "lstm")]
    #[test]
    fn answers_on_one_grid_feed_a_network_only_the_new_tokens() {
        use crate::models::transformer::TransformerModel;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints/bach.transformer");
        let (model, header) = TransformerModel::load(&path, tch::Device::Cpu).unwrap();
        let tokenizer = header.tokenizer().unwrap();
        let guard = crate::sampler::Guard { unguarded: false, max_polyphony: None, max_copy: None };
        let mut opts = AnswerOptions { context_beats: 32, candidates: 2, ..AnswerOptions::default() };
        opts.sampler.notes = guard.rules_with_copies(&tokenizer, None).unwrap();
        let grid = Grid::at_bpm(120.0, 0.0);
        let mut history: Vec<Played> = Vec::new();
        let mut fed = Vec::new();
        // Context 32 beats moving by 16: answers on beats 4, 16, 28 and 40 all read from beat 0.
        for k in 0..4i64 {
            let base = 12 * k;
            for (i, pitch) in [60u8, 62, 64, 65].into_iter().enumerate() {
                let t = grid.time_of((base + i as i64) as f64);
                history.push(Played { pitch, velocity: 80, start: t, end: t + 0.4 });
            }
            let phrase_start = grid.time_of(base as f64);
            let ask = Ask {
                history: &history,
                phrase_start,
                grid,
                first_beat: base + 4,
                beats: 8,
                index: 0,
                below: None,
                part_of: None,
            };
            let before = model.primed_tokens();
            let a = answer(&model, &tokenizer, &ask, &opts).unwrap();
            assert!(!a.notes.is_empty(), "answer {k} has notes");
            fed.push((model.primed_tokens() - before, a.primer_tokens));
            history.extend(a.notes);
        }
        eprintln!("(tokens fed, primer tokens) per answer: {fed:?}");
        assert_eq!(fed[0].0, fed[0].1, "the first primer is fed whole: {fed:?}");
        for w in fed.windows(2) {
            assert!(w[1].1 > w[0].1, "the primers grow: {fed:?}");
            assert_eq!(w[1].0, w[1].1 - w[0].1, "only the new tokens are fed: {fed:?}");
        }
    }
}
