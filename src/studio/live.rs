//! The studio's Live panel: `POST /api/live/answer` answers a phrase that the page heard on a
//! MIDI keyboard (the browser's Web MIDI API) with the library code `cadenza live` answers a
//! port with: the phrase's beat grid ([`crate::live::tempo::phrase_grid`]), the first beat at or
//! after the release plus the wait, and [`crate::live::answer`] under the sampler's constraints.
//!
//! The page keeps the session (the player's notes and the answers as far as they played) on its
//! own clock, `performance.now()` in seconds, and sends it with each phrase; the answer's notes
//! come back on that clock, so the page schedules them with Web MIDI timestamps (or its own
//! synth) without translating times. The server keeps nothing between requests but the loaded
//! model (the studio's cache), so a stale request costs the page nothing but being ignored.

use std::time::Instant;

use serde::Deserialize;
use serde_json::json;

use super::api::{bad, check_file_name, parse_key, DrawBody, Response, State, DRAW_FIELDS};
use crate::error::Result;
use crate::live::{self, tempo, AnswerOptions, Ask, Grid, Played, SessionOptions};
use crate::sampler::Guard;

/// Most notes of the session one request may carry.
pub const MAX_NOTES: usize = 4096;
/// Longest answer, in beats.
pub const MAX_ANSWER_BEATS: u32 = 64;
/// Most candidates an answer is chosen from.
pub const MAX_CANDIDATES: usize = 64;
/// Most beats of context.
pub const MAX_CONTEXT_BEATS: u32 = 256;

fn half() -> f64 {
    0.5
}
fn eight() -> u32 {
    8
}
fn four() -> usize {
    crate::live::answer::DEFAULT_CANDIDATES
}
fn sixteen() -> u32 {
    16
}
fn yes() -> bool {
    true
}
fn tonic_weight() -> f64 {
    crate::live::answer::DEFAULT_TONIC_WEIGHT
}

/// A note as the page sends it: the `Played` of the library, seconds on the page's clock.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    pitch: u8,
    velocity: u8,
    start: f64,
    end: f64,
}

#[derive(Debug, Deserialize)]
struct LiveBody {
    checkpoint: String,
    /// The session so far: the player's notes and the answers' notes as far as they sounded.
    notes: Vec<NoteBody>,
    /// The phrase to answer is the notes that start at or after this (default: all of them).
    #[serde(default)]
    phrase_start: Option<f64>,
    /// When the last key of the phrase went up.
    released: f64,
    #[serde(default = "half")]
    wait: f64,
    #[serde(default = "eight")]
    answer_beats: u32,
    #[serde(default = "sixteen")]
    context_beats: u32,
    /// The player's tempo; empty: from the phrase.
    #[serde(default)]
    bpm: Option<f64>,
    /// The tempo of the previous answer, for a phrase too short to have one.
    #[serde(default)]
    last_bpm: Option<f64>,
    /// The answer's number in the session (its sampling stream).
    #[serde(default)]
    index: u64,
    #[serde(default)]
    key: Option<String>,
    /// Answers sampled for the one played (see [`AnswerOptions::candidates`]).
    #[serde(default = "four")]
    candidates: usize,
    /// Let the answer leave the session's key (see [`AnswerOptions::keep_key`]).
    #[serde(default)]
    chromatic: bool,
    /// Open and close on the key's tonic chord (see [`AnswerOptions::cadence`]).
    #[serde(default = "yes")]
    cadence: bool,
    /// How much more likely the tonic chord's notes are (see [`AnswerOptions::tonic_weight`]).
    #[serde(default = "tonic_weight")]
    tonic_weight: f64,
    #[serde(flatten)]
    draw: DrawBody,
}

/// The fields the route takes (with [`DRAW_FIELDS`]).
const FIELDS: &[&str] = &[
    "checkpoint",
    "notes",
    "phrase_start",
    "released",
    "wait",
    "answer_beats",
    "context_beats",
    "bpm",
    "last_bpm",
    "index",
    "key",
    "chromatic",
    "cadence",
    "tonic_weight",
    "candidates",
];
/// The session's notes, checked (a 400 naming the first bad one).
fn notes(b: &LiveBody) -> Result<Vec<Played>> {
    if b.notes.len() > MAX_NOTES {
        return Err(bad("notes", format!("at most {MAX_NOTES} notes, got {}", b.notes.len())));
    }
    b.notes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if n.pitch > 127 || !(1..=127).contains(&n.velocity) {
                return Err(bad(
                    "notes",
                    format!("note {i}: pitch 0-127 and velocity 1-127, got {} and {}", n.pitch, n.velocity),
                ));
            }
            if !(n.start.is_finite() && n.end.is_finite() && n.start <= n.end) {
                return Err(bad("notes", format!("note {i}: start and end must be seconds, start <= end")));
            }
            Ok(Played { pitch: n.pitch, velocity: n.velocity, start: n.start, end: n.end })
        })
        .collect()
}

/// `POST /api/live/answer`.
pub(super) fn answer(state: &State, body: &[u8]) -> Result<Response> {
    let t0 = Instant::now();
    let fields: Vec<&str> = FIELDS.iter().chain(DRAW_FIELDS).copied().collect();
    let b: LiveBody = super::api::parse(body, &fields, false)?;
    let history = notes(&b)?;
    if !b.released.is_finite() {
        return Err(bad("released", "must be seconds on the notes' clock"));
    }
    SessionOptions { wait: b.wait, bpm: b.bpm, ..SessionOptions::default() }.validate()?;
    if let Some(bpm) = b.last_bpm.filter(|x| !(x.is_finite() && (20.0..=400.0).contains(x))) {
        return Err(bad("last_bpm", format!("must be a tempo between 20 and 400, got {bpm}")));
    }
    if !(1..=MAX_ANSWER_BEATS).contains(&b.answer_beats) {
        return Err(bad("answer_beats", format!("must be 1 to {MAX_ANSWER_BEATS}, got {}", b.answer_beats)));
    }
    if !(1..=MAX_CONTEXT_BEATS).contains(&b.context_beats) {
        return Err(bad(
            "context_beats",
            format!("must be 1 to {MAX_CONTEXT_BEATS}, got {}", b.context_beats),
        ));
    }
    let from = b.phrase_start.unwrap_or(f64::NEG_INFINITY);
    let onsets: Vec<f64> =
        history.iter().map(|n| n.start).filter(|&t| t >= from && t <= b.released).collect();
    if onsets.is_empty() {
        return Err(bad("notes", "no note of the phrase: none starts between phrase_start and released"));
    }
    if !(1..=MAX_CANDIDATES).contains(&b.candidates) {
        return Err(bad("candidates", format!("must be 1 to {MAX_CANDIDATES}, got {}", b.candidates)));
    }
    if !crate::live::answer::TONIC_WEIGHTS.contains(&b.tonic_weight) {
        return Err(bad("tonic_weight", format!("must be a weight from 1 to 100, got {}", b.tonic_weight)));
    }
    b.draw.check()?;
    let key = parse_key(b.key.as_deref())?;
    check_file_name(&b.checkpoint, "checkpoint")?;
    let checkpoint = state.checkpoint(&b.checkpoint)?;
    let (model, cached) = state.models.get(&checkpoint)?;
    let loaded = model.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let max_copy = b.draw.max_copy();
    let copies = match max_copy {
        Some(_) => Some(state.copies.get(&checkpoint, &b.checkpoint, &loaded)?.0),
        None => None,
    };
    let guard = Guard { unguarded: false, max_polyphony: b.draw.max_polyphony, max_copy };
    let mut sampler = b.draw.sampler();
    sampler.notes = guard.rules_with_copies(&loaded.tokenizer, copies)?;
    let rng_seed = b.draw.rng_seed.unwrap_or_else(rand::random);
    let opts = AnswerOptions {
        context_beats: b.context_beats,
        sampler,
        rng_seed,
        key,
        keep_key: !b.chromatic,
        cadence: b.cadence,
        tonic_weight: b.tonic_weight,
        candidates: b.candidates,
        ..AnswerOptions::default()
    };
    let grid = tempo::phrase_grid(&onsets, b.bpm, b.last_bpm.map(|bpm| Grid::at_bpm(bpm, 0.0)));
    let first = grid.next_beat(b.released + b.wait);
    let sampling = Instant::now();
    let ask = Ask {
        history: &history,
        phrase_start: from,
        grid,
        first_beat: first,
        beats: b.answer_beats,
        index: usize::try_from(b.index).map_err(|_| bad("index", "too large"))?,
        below: None,
        part_of: None,
    };
    let answer = live::answer(&loaded.model, &loaded.tokenizer, &ask, &opts)?;
    let sampling_seconds = sampling.elapsed().as_secs_f64();
    let notes: Vec<_> = answer
        .notes
        .iter()
        .map(|n| json!({"pitch": n.pitch, "velocity": n.velocity, "start": n.start, "end": n.end}))
        .collect();
    Ok(Response::json(
        200,
        &json!({
            "bpm": grid.bpm(),
            "beat": grid.beat,
            "first_beat": grid.time_of(first as f64),
            "end": grid.time_of((first + i64::from(b.answer_beats)) as f64),
            "notes": notes,
            "primer_tokens": answer.primer_tokens,
            "sampled_tokens": answer.sampled_tokens,
            "rng_seed": rng_seed,
            "model_cached": cached,
            "sampling_seconds": sampling_seconds,
            "total_seconds": t0.elapsed().as_secs_f64(),
        }),
    ))
}
