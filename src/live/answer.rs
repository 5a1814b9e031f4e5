//! What a model answers to a phrase: the session so far, placed on the player's beat grid,
//! primes any generator, which writes `beats` beats under the sampler's constraints (see
//! [`crate::tokens::Constraints`]): its first note starts exactly on the answer's first beat
//! ([`Constraints::open_at`]), notes start only inside the answer, and the sample ends once its
//! time reaches the answer's end ([`Constraints::end_by`]; not a stop that its time must land
//! on exactly, which would leave a model that wants to move on only notes to write). Keys, the copy limit and the note guard come with the sampler and
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

/// A note that sounded in the session (seconds on the session's clock).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Played {
    pub pitch: u8,
    pub velocity: u8,
    pub start: f64,
    pub end: f64,
}

/// How a model answers.
#[derive(Debug, Clone)]
pub struct AnswerOptions {
    /// Length of an answer in beats.
    pub beats: u32,
    /// Beats of the session before the answer that prime the model.
    pub context_beats: u32,
    /// The sampler, its note rules set for the model's tokenizer (the constraints of each
    /// answer are added to them).
    pub sampler: Sampler,
    pub rng_seed: u64,
    /// Answer in this key (a key-relative checkpoint; see [`crate::key::plan`]).
    pub key: Option<Key>,
    /// Most tokens an answer may take.
    pub max_tokens: usize,
}

impl Default for AnswerOptions {
    fn default() -> Self {
        AnswerOptions {
            beats: 8,
            context_beats: 16,
            sampler: Sampler::default(),
            rng_seed: 0,
            key: None,
            max_tokens: 1024,
        }
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

/// `model`'s answer `index` (its sampling stream) to `history`, starting on beat `start_beat`
/// of `grid`.
pub fn answer(
    model: &dyn Generator,
    tokenizer: &Tokenizer,
    history: &[Played],
    grid: Grid,
    start_beat: i64,
    index: u64,
    opts: &AnswerOptions,
) -> Result<Answer> {
    let spb = tokenizer.steps_per_beat().ok_or_else(|| {
        Error::setting(
            "checkpoint",
            "a model on the seconds grid",
            "a model on the beats grid (a live answer follows the player's beat)",
        )
    })?;
    if opts.beats == 0 {
        return Err(Error::setting("answer-beats", 0, "at least 1 beat"));
    }
    let earliest = history
        .iter()
        .map(|p| grid.beats_at(p.start).floor() as i64)
        .filter(|&b| b < start_beat)
        .min()
        .unwrap_or(start_beat);
    let from = earliest.max(start_beat - i64::from(opts.context_beats));
    let piece = session_piece(history, grid, from, start_beat);
    let lead = (start_beat - from) as u64;
    let (a, b) = (lead * u64::from(spb), (lead + u64::from(opts.beats)) * u64::from(spb));
    let constraints = Arc::new(Constraints::new().free_between(a, b).open_at(a).end_by(b));
    let mut sampler = opts.sampler.clone();
    sampler.notes = sampler.notes.map(|r| r.with_constraints(Some(constraints)));
    let gen_opts = GenerateOptions {
        count: 1,
        length: opts.max_tokens,
        sampler,
        rng_seed: opts.rng_seed.wrapping_add(index),
        seed_beats: Some(lead as f64),
        seed_seconds: None,
        strip_primer: false,
        key: opts.key,
        candidates: 1,
        density: None,
        instruments: Instruments::Any,
        tempo: Some(grid.bpm().clamp(10.0, 400.0)),
    };
    let generated = generate::generate(model, tokenizer, Some(&piece), &gen_opts)?;
    let Some(g) = generated.into_iter().next() else {
        return Ok(Answer { notes: Vec::new(), primer_tokens: 0, sampled_tokens: 0 });
    };
    let tpb = f64::from(g.piece.ticks_per_beat);
    let beat_of = |tick: u64| from as f64 + tick as f64 / tpb;
    let (first, last) = (start_beat as f64, (start_beat + i64::from(opts.beats)) as f64);
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
    Ok(Answer { notes, primer_tokens: g.primer.len(), sampled_tokens: g.continuation.len() })
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
}
