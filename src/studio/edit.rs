//! Editing in the studio: `POST /api/infill` regenerates the notes that start in a region of a
//! stored sample or an uploaded piece and keeps every other note; `POST /api/harmonize` locks an
//! uploaded melody (or a sample that is one) as the top voice and lets the model write voices
//! under it. Both run [`crate::edit::edit_loaded`] on a checkpoint from the studio's cache and
//! store each result as a sample.
//!
//! Which notes of an edited sample are new is recorded when it is made, in `<id>.edit.json`
//! beside the sample: the new notes' `(tick, pitch, program, drum)` as the stored MIDI file reads
//! back. `GET /api/samples/ID.json` then flags each note (`"new": true|false`) and says what the
//! edit was (`"edit"`), so the page draws the kept part differently from the new one. Every
//! piano roll also carries its tempo map (`"tempos"`), so that the page can turn a selection in
//! seconds into beats; `GET /api/uploads/ID.json` is the piano roll of an uploaded piece.
//!
//! With `max_copy`, no new note may end a copy of more than that many notes of the checkpoint's
//! training split (the kept notes are walked but not checked), and each result records the
//! longest copy that ends at one of its new notes.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::api::{
    bad, check_file_name, one_usize, parse, DrawBody, Response, State, DRAW_FIELDS, MAX_VARIATIONS,
};
use super::store::{self, SampleMeta};
use crate::copies::{self, CopyIndex};
use crate::edit::{edit_loaded, Edit, EditOptions, Region};
use crate::error::{Error, Result, StudioError};
use crate::midi::{self, Piece, TempoMap};

/// Most candidates per output (as `cadenza infill --candidates`).
pub const MAX_CANDIDATES: usize = 1024;
/// Most voices harmonize writes under the melody.
pub const MAX_VOICES: usize = 8;

/// The fields both routes take (with [`DRAW_FIELDS`]).
const COMMON_FIELDS: &[&str] = &["checkpoint", "sample", "upload", "candidates", "variations", "key"];

fn default_candidates() -> usize {
    16
}
fn default_voices() -> usize {
    3
}

/// The body of either route (each accepts only its own fields).
#[derive(Debug, Deserialize)]
struct EditBody {
    checkpoint: String,
    #[serde(default)]
    sample: Option<String>,
    #[serde(default)]
    upload: Option<String>,
    #[serde(default)]
    start_beat: Option<f64>,
    #[serde(default)]
    end_beat: Option<f64>,
    #[serde(default)]
    bars: Option<[u32; 2]>,
    #[serde(default = "default_voices")]
    voices: usize,
    #[serde(default = "default_candidates")]
    candidates: usize,
    #[serde(default = "one_usize")]
    variations: usize,
    /// The key the new notes are asked for (checkpoints with key tokens; see
    /// [`crate::edit::EditOptions::key`]).
    #[serde(default)]
    key: Option<String>,
    #[serde(flatten)]
    draw: DrawBody,
}

/// The piece an edit starts from: a stored sample or an upload.
#[derive(Debug, Clone)]
enum Source {
    Sample(String),
    Upload(String),
}

impl Source {
    /// Its name in errors and in the edit's record.
    fn label(&self) -> &'static str {
        match self {
            Source::Sample(_) => "sample",
            Source::Upload(_) => "upload",
        }
    }

    fn id(&self) -> &str {
        match self {
            Source::Sample(id) | Source::Upload(id) => id,
        }
    }

    /// Its MIDI bytes (404 when there is no such sample or upload).
    fn midi(&self, state: &State) -> Result<Vec<u8>> {
        match self {
            Source::Sample(id) => state.store.sample_midi(id),
            Source::Upload(id) => state.store.upload_midi(id),
        }
    }
}

/// What `<id>.edit.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditRecord {
    /// `infill` or `harmonize`.
    pub kind: String,
    /// The edited sample or upload: `sample` or `upload`, and its id.
    pub from: String,
    pub from_id: String,
    /// Infill: the region, in beats.
    #[serde(default)]
    pub region_beats: Option<[f64; 2]>,
    /// The new notes, as the stored MIDI file reads back.
    pub new: Vec<NoteKey>,
}

/// What tells a note apart in a piano roll: (start tick, pitch, program, drum).
pub type NoteKey = (u64, u8, u8, bool);

fn keys(piece: &Piece) -> impl Iterator<Item = NoteKey> + '_ {
    piece
        .instruments
        .iter()
        .flat_map(|i| i.notes.iter().map(move |n| (n.start, n.pitch, i.program, i.is_drum)))
}

fn counts(keys: impl Iterator<Item = NoteKey>) -> HashMap<NoteKey, usize> {
    let mut m = HashMap::new();
    for k in keys {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

/// Take one `key` from the multiset `m`; whether it was there.
fn take(m: &mut HashMap<NoteKey, usize>, key: &NoteKey) -> bool {
    match m.get_mut(key) {
        Some(n) if *n > 0 => {
            *n -= 1;
            true
        }
        _ => false,
    }
}

/// A piece as its MIDI file reads back (what the piano roll shows).
fn read_back(bytes: &[u8]) -> Result<Piece> {
    midi::read_bytes(bytes, Path::new("sample"), &midi::ReadOptions::default())
}

/// The notes of the stored `result` (its MIDI bytes) that are not among `kept`'s, both as their
/// files read back.
fn new_notes(result: &[u8], kept: &Piece) -> Result<Vec<NoteKey>> {
    let mut kept = counts(keys(&read_back(&midi::write_to_bytes(kept))?));
    Ok(keys(&read_back(result)?).filter(|k| !take(&mut kept, k)).collect())
}

/// The longest copy of `index`'s music, in notes, that ends at one of `new`, the new notes of
/// the stored result `result` (its MIDI bytes), both as the file reads back (0: no new note).
fn longest_new_copy(index: &CopyIndex, result: &[u8], new: &[NoteKey]) -> Result<usize> {
    let piece = read_back(result)?;
    let tpb = piece.ticks_per_beat;
    let new: HashSet<copies::NoteKey> = new
        .iter()
        .filter(|k| !k.3)
        .map(|&(tick, pitch, _, _)| copies::NoteKey { onset: copies::onset_step(tick, tpb), pitch })
        .collect();
    let keys = copies::note_keys(&piece);
    let matches = index.matches(&keys);
    Ok(keys.iter().zip(&matches).filter(|(k, _)| new.contains(k)).map(|(_, m)| m.notes()).max().unwrap_or(0))
}

/// Check a body: the checkpoint's path, the source, the options (4xx before any work).
fn check(state: &State, b: &EditBody) -> Result<(std::path::PathBuf, Source, Vec<u8>, EditOptions)> {
    let source = match (&b.sample, &b.upload) {
        (Some(id), None) => Source::Sample(store::check_id(id, "sample")?.to_string()),
        (None, Some(id)) => Source::Upload(store::check_id(id, "upload")?.to_string()),
        (Some(_), Some(_)) => return Err(bad("sample", "give sample or upload, not both")),
        (None, None) => return Err(bad("sample", "name the piece to edit: sample or upload")),
    };
    if !(1..=MAX_CANDIDATES).contains(&b.candidates) {
        return Err(bad("candidates", format!("must be 1 to {MAX_CANDIDATES}, got {}", b.candidates)));
    }
    if !(1..=MAX_VARIATIONS).contains(&b.variations) {
        return Err(bad("variations", format!("must be 1 to {MAX_VARIATIONS}, got {}", b.variations)));
    }
    b.draw.check()?;
    check_file_name(&b.checkpoint, "checkpoint")?;
    let checkpoint = state.checkpoint(&b.checkpoint)?;
    let bytes = source.midi(state)?;
    let options = EditOptions {
        count: b.variations,
        candidates: b.candidates,
        sampler: b.draw.sampler(),
        rng_seed: b.draw.rng_seed.unwrap_or_else(rand::random),
        max_polyphony: b.draw.max_polyphony,
        key: super::api::parse_key(b.key.as_deref())?,
        ..EditOptions::default()
    };
    Ok((checkpoint, source, bytes, options))
}

/// `POST /api/infill`.
pub(super) fn infill(state: &State, body: &[u8]) -> Result<Response> {
    let fields: Vec<&str> =
        COMMON_FIELDS.iter().chain(DRAW_FIELDS).copied().chain(["start_beat", "end_beat", "bars"]).collect();
    let b: EditBody = parse(body, &fields, false)?;
    let region = match (b.start_beat, b.end_beat, b.bars) {
        (Some(a), Some(e), None) => Region::Beats(a, e),
        (None, None, Some([first, last])) => Region::Bars(first, last),
        (None, None, None) => {
            return Err(bad("start_beat", "give the region: start_beat and end_beat, or bars"))
        }
        (_, _, Some(_)) => return Err(bad("bars", "give start_beat and end_beat, or bars, not both")),
        _ => return Err(bad("end_beat", "give both start_beat and end_beat")),
    };
    run(state, &b, Edit::Infill { region })
}

/// `POST /api/harmonize`.
pub(super) fn harmonize(state: &State, body: &[u8]) -> Result<Response> {
    let fields: Vec<&str> = COMMON_FIELDS.iter().chain(DRAW_FIELDS).copied().chain(["voices"]).collect();
    let b: EditBody = parse(body, &fields, false)?;
    if !(1..=MAX_VOICES).contains(&b.voices) {
        return Err(bad("voices", format!("must be 1 to {MAX_VOICES}, got {}", b.voices)));
    }
    run(state, &b, Edit::Harmonize { voices: b.voices })
}

/// Edit, store each result with its record of new notes, answer.
fn run(state: &State, b: &EditBody, edit: Edit) -> Result<Response> {
    let t0 = Instant::now();
    let (checkpoint, source, bytes, mut options) = check(state, b)?;
    let max_copy = b.draw.max_copy();
    let (model, cached) = state.models.get(&checkpoint)?;
    let sampling = Instant::now();
    let mut copies: Option<(Arc<CopyIndex>, bool)> = None;
    let (edited, region, kept) = {
        let loaded = model.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(max) = max_copy {
            let (index, kept) = state.copies.get(&checkpoint, &b.checkpoint, &loaded)?;
            options.copy_limit = Some(crate::tokens::CopyLimit::new(Arc::clone(&index), max));
            copies = Some((index, kept));
        }
        let name = Path::new(source.label());
        let piece = midi::read_bytes(&bytes, name, &loaded.tokenizer.read_options())?;
        let (edited, region) = edit_loaded(&loaded, &piece, name, &edit, &options)?;
        let kept = match region {
            Some(beats) => crate::edit::kept_by_infill(&loaded.tokenizer, &piece, beats),
            None => piece,
        };
        (edited, region, kept)
    };
    let sampling_seconds = sampling.elapsed().as_secs_f64();
    let kind = match edit {
        Edit::Infill { .. } => "infill",
        Edit::Harmonize { .. } => "harmonize",
    };
    let mut ids = Vec::with_capacity(edited.len());
    let mut longest = Vec::with_capacity(edited.len());
    for e in &edited {
        let midi_bytes = midi::write_to_bytes(&e.piece);
        let record = EditRecord {
            kind: kind.to_string(),
            from: source.label().to_string(),
            from_id: source.id().to_string(),
            region_beats: region.map(|(a, b)| [a, b]),
            new: new_notes(&midi_bytes, &kept)?,
        };
        let longest_copy = match &copies {
            Some((index, _)) => Some(longest_new_copy(index, &midi_bytes, &record.new)?),
            None => None,
        };
        longest.push(longest_copy);
        let record =
            serde_json::to_vec(&record).map_err(|source| Error::Json { what: "edit record", source })?;
        let meta = SampleMeta {
            source: b.checkpoint.clone(),
            primer_tokens: 0,
            new_tokens: 0,
            rng_seed: options.rng_seed,
            primer_beats: None,
            max_copy,
            longest_copy,
        };
        ids.push(state.store.add_sample_with(&midi_bytes, &meta, &[("edit.json", &record)])?);
    }
    let mut answer = json!({
        "samples": ids,
        "candidates": options.candidates,
        "chosen": edited.iter().map(|e| e.chosen).collect::<Vec<_>>(),
        "joint_log_prob": edited.iter().map(|e| e.joint_log_prob).collect::<Vec<_>>(),
        "scores": edited.iter().map(|e| e.candidates.clone()).collect::<Vec<_>>(),
        "new_notes": edited.iter().map(|e| e.new_notes).collect::<Vec<_>>(),
        "missed_locked": edited.iter().map(|e| e.missed_locked).collect::<Vec<_>>(),
        "rng_seed": options.rng_seed,
        "model_cached": cached,
        "sampling_seconds": sampling_seconds,
        "total_seconds": t0.elapsed().as_secs_f64(),
    });
    if let Some((a, e)) = region {
        answer["region"] = json!([a, e]);
    }
    if let (Some(max), Some((_, kept))) = (max_copy, &copies) {
        answer["max_copy"] = json!(max);
        answer["longest_copy"] = json!(longest);
        answer["copy_index_cached"] = json!(kept);
    }
    Ok(Response::json(200, &answer))
}

/// The piece's tempo map for the page: `[beat, seconds, seconds per beat]` where each tempo
/// starts (120 bpm from 0 until the first).
fn tempos(piece: &Piece) -> Value {
    let tpb = f64::from(piece.ticks_per_beat.max(1));
    let map = TempoMap::new(piece);
    let mut points: Vec<(u64, u32)> = vec![(0, 500_000)];
    for t in &piece.tempos {
        match points.last_mut() {
            Some(last) if last.0 >= t.tick => last.1 = t.micros_per_beat,
            _ => points.push((t.tick, t.micros_per_beat)),
        }
    }
    points
        .iter()
        .map(|&(tick, micros)| {
            json!([tick as f64 / tpb, map.seconds_at(tick), f64::from(micros.max(1)) / 1e6])
        })
        .collect()
}

/// Add to a sample's piano roll (`GET /api/samples/ID.json`, built from `piece`) its tempo map
/// and, for an edited sample, `"edit"` and each note's `"new"` flag.
pub(super) fn annotate_roll(state: &State, id: &str, piece: &Piece, roll: &mut Value) -> Result<()> {
    roll["tempos"] = tempos(piece);
    let record = match state.store.sample_extra(id, "edit.json")? {
        Some(bytes) => serde_json::from_slice::<EditRecord>(&bytes).ok(),
        None => None,
    };
    let Some(record) = record else {
        roll["edit"] = Value::Null;
        return Ok(());
    };
    let mut new = counts(record.new.iter().copied());
    if let Some(notes) = roll["notes"].as_array_mut() {
        for (note, key) in notes.iter_mut().zip(keys(piece)) {
            note["new"] = json!(take(&mut new, &key));
        }
    }
    let tempo = TempoMap::new(piece);
    let tpb = f64::from(piece.ticks_per_beat.max(1));
    let seconds = |beat: f64| tempo.seconds_at((beat.max(0.0) * tpb).round() as u64);
    roll["edit"] = json!({
        "kind": record.kind,
        "from": record.from,
        "from_id": record.from_id,
        "region_beats": record.region_beats,
        "region_seconds": record.region_beats.map(|[a, b]| [seconds(a), seconds(b)]),
        "new_notes": record.new.len(),
    });
    Ok(())
}

/// `GET /api/uploads/ID.json`: an uploaded piece's piano roll, in the form of a sample's.
pub(super) fn upload_roll(state: &State, path: &str) -> Result<Response> {
    let file = path.strip_prefix("/api/uploads/").unwrap_or(path);
    let (id, ext) = file.split_once('.').unwrap_or((file, ""));
    store::check_id(id, "upload")?;
    if ext != "json" {
        return Err(StudioError::NoRoute { method: "GET".into(), path: path.to_string() }.into());
    }
    let bytes = state.store.upload_midi(id)?;
    let piece = read_back(&bytes)?;
    let notes = super::api::roll_notes(&piece);
    Ok(Response::json(
        200,
        &json!({
            "id": id,
            "upload": true,
            "seconds": piece.duration_seconds(),
            "ticks_per_beat": piece.ticks_per_beat,
            "primer_seconds": null,
            "notes": notes,
            "tempos": tempos(&piece),
            "edit": null,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{Instrument, Note, TempoChange};

    fn piece(notes: &[(u64, u8)]) -> Piece {
        let mut p = Piece::new(480);
        let notes =
            notes.iter().map(|&(s, pitch)| Note { start: s, end: s + 240, pitch, velocity: 80 }).collect();
        p.instruments.push(Instrument { notes, ..Instrument::default() });
        p
    }

    #[test]
    fn new_notes_are_those_not_kept_counted_with_repeats() {
        let kept = piece(&[(0, 60), (480, 62)]);
        let mut result = piece(&[(0, 60), (480, 62), (960, 64), (960, 64)]);
        result.instruments[0].notes.truncate(3);
        result.instruments[0].notes.push(Note { start: 960, end: 1000, pitch: 67, velocity: 1 });
        let new = new_notes(&midi::write_to_bytes(&result), &kept).unwrap();
        assert_eq!(new, [(960, 64, 0, false), (960, 67, 0, false)]);
        let mut m = counts([(1, 2, 3, false), (1, 2, 3, false)].into_iter());
        assert!(take(&mut m, &(1, 2, 3, false)) && take(&mut m, &(1, 2, 3, false)));
        assert!(!take(&mut m, &(1, 2, 3, false)));
    }

    #[test]
    fn tempo_maps_start_at_120_bpm() {
        let mut p = piece(&[(0, 60)]);
        p.tempos = vec![TempoChange { tick: 960, micros_per_beat: 1_000_000 }];
        assert_eq!(tempos(&p), json!([[0.0, 0.0, 0.5], [2.0, 1.0, 1.0]]));
        p.tempos = vec![TempoChange { tick: 0, micros_per_beat: 250_000 }];
        assert_eq!(tempos(&p), json!([[0.0, 0.0, 0.25]]));
    }
}
