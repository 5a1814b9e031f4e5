//! The studio's HTTP API as a pure function, [`handle`], from a [`Request`] to a [`Response`].
//!
//! Routes: `GET /` (the page), `GET /api/checkpoints`, `GET /api/corpus`, `POST /api/uploads`
//! (raw MIDI bytes), `POST /api/generate`, `GET /api/samples/<id>.mid|.wav|.json`,
//! `POST /api/trials`, `POST /api/votes`, `GET /api/results[?format=csv]`, and (in [`super::ports`])
//! `GET /api/ports`, `POST /api/ports/play`, and (in [`super::jobs`]) `POST /api/jobs`,
//! `GET /api/jobs/<id>`, and (in [`super::edit`]) `POST /api/infill`, `POST /api/harmonize`,
//! `GET /api/uploads/<id>.json`, and (in [`super::live`]) `POST /api/live/answer`. Names from requests
//! never become paths unchecked: checkpoints are plain file names of the checkpoints folder,
//! corpus pieces must be among the corpus's listed files, ids must be of [`store::check_id`]'s
//! form.
//!
//! Every sampling request (generation, jobs, compare, trials, edits) may set `max_copy`: no
//! sampled note may end a copy of more than that many notes of the checkpoint's training split,
//! whose index [`super::models::Copies`] builds on first use and keeps. A checkpoint whose
//! training corpus is not on this machine cannot serve it: 422. Generation, jobs, compare and
//! trials may set `key` ("A minor"): a key-relative checkpoint writes in it (the best of
//! [`crate::key::DEFAULT_KEY_CANDIDATES`] samples each); any other checkpoint answers 422. They
//! may also set `instruments` ("seed", "any", or names, numbers and "drums"), `tempo` (bpm) and
//! `density` ("low", "medium", "high").

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde_json::{json, Value};

use super::jobs::{Jobs, Tracker};
use super::models::{Copies, Models, COPY_FIELD};
use super::store::{self, SampleMeta, Store};
use super::votes::{self, Trial, Vote, Votes};
use super::Config;
use crate::checkpoint::{self, ModelKind};
use crate::corpus::files::{find_midi, Walk};
use crate::corpus::{assign_split, split_hashes_of_file, MusicKey, Split, SplitKey, SplitRatios};
use crate::error::{Error, Result, StudioError};
use crate::generate::{self, GenerateOptions, Sample};
use crate::midi::{self, Piece, TempoMap};
use crate::sampler::{Guard, Sampler};
use crate::tokens::DecodeOptions;

/// The page, built into the binary.
pub const PAGE: &str = include_str!("page.html");

/// Longest generation asked in one request, in tokens.
pub const MAX_LENGTH: usize = 8192;
/// Most variations in one request.
pub const MAX_VARIATIONS: usize = 16;
/// Most checkpoints one compare request continues the primer with.
pub const MAX_COMPARED: usize = 8;

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Upper case: `GET`, `POST`.
    pub method: String,
    /// Path and query, as sent.
    pub url: String,
    /// The Host and Content-Type headers, if sent.
    pub host: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Offered as a download under this name.
    pub download: Option<String>,
}

impl Response {
    /// `value` as one line of JSON.
    pub fn json(status: u16, value: &Value) -> Response {
        let mut body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        body.push(b'\n');
        Response { status, content_type: "application/json", body, download: None }
    }

    /// The one-line JSON answer for `e`, with its status.
    pub fn error_of(e: &Error) -> Response {
        let msg = e.to_string().replace(['\n', '\r'], " ");
        Response::json(status_of(e), &json!({ "error": msg }))
    }

    fn bytes(content_type: &'static str, body: Vec<u8>, download: Option<String>) -> Response {
        Response { status: 200, content_type, body, download }
    }
}

/// The HTTP status for an error: 4xx for everything a request can get wrong.
pub fn status_of(e: &Error) -> u16 {
    match e {
        Error::Studio(s) => match s {
            StudioError::NoRoute { .. }
            | StudioError::NotFound { .. }
            | StudioError::NoAudio(_)
            | StudioError::NoPort(_) => 404,
            StudioError::TooLarge { .. } => 413,
            StudioError::ForeignHost(_) => 403,
            StudioError::ContentType { .. } => 415,
            StudioError::AlreadyVoted(_) | StudioError::Exists { .. } => 409,
            StudioError::Database { .. } => 500,
            _ => 400,
        },
        // A copy limit on a checkpoint whose training music is not here (see `Copies::get`).
        Error::Setting { name: COPY_FIELD, .. } => 422,
        // A key asked of a checkpoint trained without key-relative pieces; instruments of one
        // that merges them; a tempo of one on the seconds grid (or out of range).
        // A fine-tuning base that is no neural checkpoint.
        Error::Setting { name: "key" | "instruments" | "tempo" | "base", .. } => 422,
        Error::InvalidMidi { .. } | Error::Setting { .. } | Error::Tokenizer(_) | Error::Edit { .. } => 400,
        Error::Checkpoint { .. } | Error::Format { .. } | Error::Bytes(_) | Error::Model(_) => 422,
        _ => 500,
    }
}

/// What the handlers share: the settings, the store, the votes.
#[derive(Debug)]
pub struct State {
    pub config: Config,
    pub store: Store,
    pub votes: Votes,
    /// The checkpoints kept loaded between requests.
    pub models: Models,
    /// Generation jobs running in the background, and the recent finished ones.
    pub jobs: Jobs,
    /// The copy indexes of checkpoints' training splits, for `max_copy`.
    pub copies: Copies,
    corpus: OnceLock<Vec<CorpusEntry>>,
}

/// A file of the corpus that requests may name.
#[derive(Debug, Clone)]
struct CorpusEntry {
    /// Relative to the corpus root, `/`-separated.
    name: String,
    /// What its split is computed from, under either [`SplitKey`].
    hash: [u8; 32],
    music: MusicKey,
}

impl CorpusEntry {
    /// The piece's split under `key` (the default ratios, as `train` splits).
    fn split(&self, key: SplitKey) -> Split {
        assign_split(&SplitRatios::default(), key, &self.hash, &self.music)
    }
}

impl State {
    /// Open the store and the database `config` names.
    pub fn open(config: Config) -> Result<State> {
        let store = Store::open(&config.data)?;
        let votes = Votes::open(&config.db)?;
        let models = Models::new(config.cached_models, &config.device);
        let copies = Copies::new(config.cached_models);
        Ok(State { config, store, votes, models, jobs: Jobs::default(), copies, corpus: OnceLock::new() })
    }

    fn corpus(&self) -> Result<(&Path, &[CorpusEntry])> {
        let root = self.config.corpus.as_deref().ok_or(StudioError::NoCorpus)?;
        let entries = self.corpus.get_or_init(|| list_corpus(root));
        Ok((root, entries))
    }

    /// The path of corpus piece `name`, which must be one of the listed files.
    fn corpus_piece(&self, name: &str) -> Result<(PathBuf, &CorpusEntry)> {
        let (root, entries) = self.corpus()?;
        if name.starts_with('/') || name.contains('\\') || name.split('/').any(|c| c == ".." || c.is_empty())
        {
            return Err(StudioError::UnsafeName { what: "corpus piece", name: name.to_string() }.into());
        }
        let entry = entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| StudioError::NotFound { what: "corpus piece", name: name.to_string() })?;
        Ok((root.join(&entry.name), entry))
    }

    /// The path of checkpoint `name`: a plain file name of the checkpoints folder.
    pub(super) fn checkpoint(&self, name: &str) -> Result<PathBuf> {
        check_file_name(name, "checkpoint")?;
        let path = self.config.checkpoints.join(name);
        if !path.is_file() {
            return Err(StudioError::NotFound { what: "checkpoint", name: name.to_string() }.into());
        }
        Ok(path)
    }
}

/// `name` if it is one plain file name: no separator, no `..`, no leading dot, nothing odd.
pub fn check_file_name<'a>(name: &'a str, what: &'static str) -> Result<&'a str> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'));
    if ok {
        Ok(name)
    } else {
        Err(StudioError::UnsafeName { what, name: name.to_string() }.into())
    }
}

/// The corpus's MIDI files, as names requests may use: up to 8 folders deep, symbolic links not
/// followed (so no name leads outside the corpus), names that are not UTF-8 or not readable
/// MIDI left out.
fn list_corpus(root: &Path) -> Vec<CorpusEntry> {
    let walk = Walk { file_links: false, max_depth: Some(8) };
    let files = find_midi(root, walk).unwrap_or_default();
    files
        .iter()
        .filter_map(|path| {
            let name = path.strip_prefix(root).ok()?.to_str()?.to_string();
            if name.is_empty() {
                return None; // `root` is itself a file: no names under it
            }
            let bytes = std::fs::read(path).ok()?;
            let (hash, music) = split_hashes_of_file(&bytes, path)?;
            Some(CorpusEntry { name, hash, music })
        })
        .collect()
}

/// Answer `req`; never panics on bad input.
pub fn handle(state: &Arc<State>, req: &Request) -> Response {
    route(state, req).unwrap_or_else(|e| Response::error_of(&e))
}

/// Whether `host` (a Host header) names the loopback interface.
pub fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or("", |(h, _)| h),
        None => host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        }),
    };
    matches!(name.to_ascii_lowercase().as_str(), "localhost" | "127.0.0.1" | "::1")
}

/// Refuse a POST body whose type is not `expected` (its main type; parameters ignored).
fn check_type(req: &Request, expected: &[&'static str]) -> Result<()> {
    let found = req.content_type.as_deref().unwrap_or("");
    let main = found.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if expected.contains(&main.as_str()) {
        Ok(())
    } else {
        Err(StudioError::ContentType { found: found.to_string(), expected: expected[0] }.into())
    }
}

fn route(state: &Arc<State>, req: &Request) -> Result<Response> {
    let (path, query) = req.url.split_once('?').unwrap_or((&req.url, ""));
    let no_route = || StudioError::NoRoute { method: req.method.clone(), path: path.to_string() };
    if state.config.bind.is_loopback() {
        if let Some(host) = req.host.as_deref().filter(|h| !is_loopback_host(h)) {
            return Err(StudioError::ForeignHost(host.to_string()).into());
        }
    }
    if req.method == "POST" {
        if path == "/api/uploads" {
            check_type(req, &["audio/midi", "audio/x-midi", "application/octet-stream"])?;
        } else {
            check_type(req, &["application/json"])?;
        }
    }
    match (req.method.as_str(), path) {
        ("GET", "/" | "/index.html") => {
            Ok(Response::bytes("text/html; charset=utf-8", PAGE.as_bytes().to_vec(), None))
        }
        ("GET", "/api/checkpoints") => checkpoints(state),
        ("GET", "/api/corpus") => corpus(state),
        ("POST", "/api/uploads") => upload(state, &req.body),
        ("POST", "/api/generate") => generate(state, &req.body),
        ("POST", "/api/jobs") => start_job(state, &req.body),
        ("GET", p) if p.starts_with("/api/jobs/") => {
            Ok(Response::json(200, &state.jobs.status(&p["/api/jobs/".len()..])?))
        }
        ("POST", "/api/compare") => compare(state, &req.body),
        #[cfg(feature = "lstm")]
        ("POST", "/api/finetune") => super::finetune::start(state, &req.body),
        ("POST", "/api/infill") => super::edit::infill(state, &req.body),
        ("POST", "/api/harmonize") => super::edit::harmonize(state, &req.body),
        ("POST", "/api/live/answer") => super::live::answer(state, &req.body),
        ("GET", p) if p.starts_with("/api/uploads/") => super::edit::upload_roll(state, p),
        ("POST", "/api/trials") => trial(state, &req.body),
        ("POST", "/api/votes") => vote(state, &req.body),
        ("GET", "/api/results") => results(state, query),
        ("GET", "/api/ports") => super::ports::list(state),
        ("POST", "/api/ports/play") => super::ports::play(state, &req.body),
        ("GET", p) if p.starts_with("/api/samples/") => {
            let file = &p["/api/samples/".len()..];
            let (id, ext) = file.split_once('.').unwrap_or((file, ""));
            store::check_id(id, "sample")?;
            match ext {
                "mid" => Ok(Response::bytes(
                    "audio/midi",
                    state.store.sample_midi(id)?,
                    Some(format!("sample-{id}.mid")),
                )),
                "json" => piano_roll(state, id),
                "wav" => wav(state, id),
                _ => Err(no_route().into()),
            }
        }
        _ => Err(no_route().into()),
    }
}

/// The fields of [`SamplingBody`].
const SAMPLING_FIELDS: &[&str] = &[
    "seed_upload",
    "seed_piece",
    "seed_beats",
    "length",
    "temperature",
    "top_k",
    "top_p",
    "rng_seed",
    "unguarded",
    "max_polyphony",
    "max_copy",
    "key",
    "instruments",
    "tempo",
    "density",
];

/// `body` as a JSON object with no field outside `fields` (and [`SAMPLING_FIELDS`] when
/// `sampling`), read as a `T`.
pub(super) fn parse<T: serde::de::DeserializeOwned>(
    body: &[u8],
    fields: &[&str],
    sampling: bool,
) -> Result<T> {
    let value: Value = serde_json::from_slice(body).map_err(StudioError::BadJson)?;
    let Some(object) = value.as_object() else {
        return Err(bad("body", "must be a JSON object"));
    };
    if let Some(k) = object
        .keys()
        .find(|k| !(fields.contains(&k.as_str()) || sampling && SAMPLING_FIELDS.contains(&k.as_str())))
    {
        return Err(bad("body", format!("unknown field `{k}`")));
    }
    serde_json::from_value(value).map_err(|e| StudioError::BadJson(e).into())
}

pub(super) fn bad(field: &'static str, problem: impl Into<String>) -> Error {
    StudioError::BadField { field, problem: problem.into() }.into()
}

fn checkpoints(state: &State) -> Result<Response> {
    let dir = &state.config.checkpoints;
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut names: Vec<String> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| check_file_name(n, "checkpoint").is_ok())
        .collect();
    names.sort();
    let mut list = Vec::new();
    for name in names {
        let Ok(h) = checkpoint::load_header(&dir.join(&name)) else { continue };
        if h.kind == ModelKind::Classifier {
            continue;
        }
        list.push(json!({
            "name": name,
            "kind": h.kind.name(),
            "created": h.created,
            "tokenizer": h.tokenizer,
            "bpe": h.bpe.is_some(),
            "vocab": h.vocab.len(),
            "corpus": h.corpus.as_ref().map(|c| c.root.clone()),
            "metrics": h.metrics,
        }));
    }
    Ok(Response::json(200, &json!({ "checkpoints": list })))
}

fn corpus(state: &State) -> Result<Response> {
    let (_, entries) = state.corpus()?;
    let pieces: Vec<Value> = entries
        .iter()
        .map(|e| {
            let (music, bytes) = (e.split(SplitKey::Music), e.split(SplitKey::FileBytes));
            json!({"name": e.name, "split": music.name(), "split_file_bytes": bytes.name()})
        })
        .collect();
    Ok(Response::json(200, &json!({ "pieces": pieces })))
}

fn upload(state: &State, body: &[u8]) -> Result<Response> {
    if body.is_empty() {
        return Err(bad("upload", "empty body; send the MIDI file's bytes"));
    }
    let piece = midi::read_bytes(body, Path::new("upload"), &midi::ReadOptions::default())?;
    if piece.note_count() == 0 {
        return Err(bad("upload", "the MIDI file has no notes"));
    }
    let id = state.store.add_upload(body)?;
    Ok(Response::json(
        200,
        &json!({"upload": id, "notes": piece.note_count(), "seconds": piece.duration_seconds()}),
    ))
}

/// Sampling settings shared by generation and trials.
#[derive(Debug, Clone, Deserialize)]
struct SamplingBody {
    #[serde(default)]
    seed_upload: Option<String>,
    #[serde(default)]
    seed_piece: Option<String>,
    #[serde(default)]
    seed_beats: Option<f64>,
    #[serde(default = "default_length")]
    length: usize,
    #[serde(default)]
    unguarded: bool,
    /// The key to write in, as "A minor" (a key-relative checkpoint; see [`crate::key::plan`]).
    #[serde(default)]
    key: Option<String>,
    /// The instruments to play: "seed" (the default), "any", or General MIDI names, program
    /// numbers and "drums", separated by commas.
    #[serde(default)]
    instruments: Option<String>,
    /// The tempo of the pieces in quarter notes a minute (beats-grid checkpoints).
    #[serde(default)]
    tempo: Option<f64>,
    /// "low", "medium" or "high" (empty: any), chosen among candidates ([`crate::density`]).
    #[serde(default)]
    density: Option<String>,
    #[serde(flatten)]
    draw: DrawBody,
}

/// The fields of [`DrawBody`], for the routes that list the fields they accept.
pub(super) const DRAW_FIELDS: &[&str] =
    &["temperature", "top_k", "top_p", "rng_seed", "max_polyphony", "max_copy"];

/// How each token is drawn: the fields generation, trials and edits share.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct DrawBody {
    #[serde(default = "one")]
    pub temperature: f64,
    #[serde(default)]
    pub top_k: usize,
    #[serde(default = "one")]
    pub top_p: f64,
    #[serde(default)]
    pub rng_seed: Option<u64>,
    #[serde(default)]
    pub max_polyphony: Option<usize>,
    /// The copy limit in notes, as sent (read by [`DrawBody::max_copy()`], checked by
    /// [`DrawBody::check`]: kept raw so that a bad value gets an error naming the field).
    #[serde(default)]
    pub max_copy: Option<Value>,
}

impl DrawBody {
    /// A polyphony limit of at least 1, a copy limit that is a whole number of at least 1, and
    /// valid sampler options (a 400 otherwise).
    pub(super) fn check(&self) -> Result<()> {
        if self.max_polyphony == Some(0) {
            return Err(bad("max_polyphony", "must be at least 1"));
        }
        if let Some(v) = self.max_copy.as_ref().filter(|v| !v.is_null()) {
            if self.max_copy().is_none() {
                return Err(bad(COPY_FIELD, format!("must be a whole number of notes, at least 1, got {v}")));
            }
        }
        self.sampler().validate()
    }

    /// The copy limit asked for (`None`: none, or not a valid one, which [`DrawBody::check`]
    /// refuses).
    pub(super) fn max_copy(&self) -> Option<usize> {
        let n = self.max_copy.as_ref()?.as_u64().filter(|&n| n >= 1)?;
        usize::try_from(n).ok()
    }

    /// The sampler these fields ask for (note rules are set by the job).
    pub(super) fn sampler(&self) -> Sampler {
        Sampler { temperature: self.temperature, top_k: self.top_k, top_p: self.top_p, notes: None }
    }
}

fn default_length() -> usize {
    512
}
fn one() -> f64 {
    1.0
}
pub(super) fn one_usize() -> usize {
    1
}

#[derive(Debug, Deserialize)]
struct GenerateBody {
    checkpoint: String,
    #[serde(default = "one_usize")]
    variations: usize,
    #[serde(default)]
    strip_primer: bool,
    #[serde(flatten)]
    sampling: SamplingBody,
}

impl SamplingBody {
    fn check(&self) -> Result<()> {
        if self.length == 0 || self.length > MAX_LENGTH {
            return Err(bad("length", format!("must be 1 to {MAX_LENGTH} tokens, got {}", self.length)));
        }
        if let Some(b) = self.seed_beats {
            if !(b.is_finite() && b > 0.0 && b <= 10_000.0) {
                return Err(bad("seed_beats", format!("must be a positive number of beats, got {b}")));
            }
        }
        if self.seed_upload.is_some() && self.seed_piece.is_some() {
            return Err(bad("seed", "give seed_upload or seed_piece, not both"));
        }
        self.draw.check()?;
        self.key()?;
        self.instruments()?;
        self.density()?;
        if self.unguarded && self.draw.max_copy().is_some() {
            return Err(bad(COPY_FIELD, "needs the note guard: leave unguarded off to limit copies"));
        }
        Ok(())
    }

    fn sampler(&self) -> Sampler {
        self.draw.sampler()
    }

    /// The instruments asked for (see [`SamplingBody::instruments`]); a 400 naming the one that
    /// is no instrument.
    fn instruments(&self) -> Result<generate::Instruments> {
        match self.instruments.as_deref().map(str::trim).unwrap_or("") {
            "" => Ok(generate::Instruments::Seed),
            text => text.parse().map_err(|e| match e {
                Error::Setting { value, expected, .. } => {
                    bad("instruments", format!("must be {expected}, got {value}"))
                }
                other => other,
            }),
        }
    }

    /// The density asked for (empty: none); a 400 naming the field otherwise.
    fn density(&self) -> Result<Option<crate::density::Density>> {
        match self.density.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            None => Ok(None),
            Some(d) => d
                .parse()
                .map(Some)
                .map_err(|_| bad("density", format!("must be low, medium or high, got {d:?}"))),
        }
    }

    /// The key asked for (empty: none); a 400 naming the field when it is no key.
    fn key(&self) -> Result<Option<crate::key::Key>> {
        parse_key(self.key.as_deref())
    }

    fn guard(&self) -> Guard {
        Guard {
            unguarded: self.unguarded,
            max_polyphony: self.draw.max_polyphony,
            max_copy: self.draw.max_copy(),
        }
    }

    /// The seed file asked for, if any.
    fn seed_file(&self, state: &State) -> Result<Option<PathBuf>> {
        if let Some(id) = &self.seed_upload {
            let path = state.store.upload_path(id)?;
            if !path.is_file() {
                return Err(StudioError::NotFound { what: "upload", name: id.clone() }.into());
            }
            return Ok(Some(path));
        }
        match &self.seed_piece {
            Some(name) => Ok(Some(state.corpus_piece(name)?.0)),
            None => Ok(None),
        }
    }
}

/// Where a primer cut from the seed at `path` ends, in beats: `seed_beats` (the whole seed when
/// `None`), at most the seed's own length.
fn primer_beats(path: &Path, seed_beats: Option<f64>) -> Result<f64> {
    let seed = midi::read_file(path, &midi::ReadOptions::default())?;
    let length = seed.end_tick() as f64 / f64::from(seed.ticks_per_beat.max(1));
    Ok(seed_beats.map_or(length, |b| b.min(length)))
}

/// What [`sample_into_store`] made: the sample ids, the sampling seconds, the new tokens,
/// whether the model was already loaded, and under a copy limit each piece's longest copy and
/// whether the copy index was already built.
struct Stored {
    ids: Vec<String>,
    seconds: f64,
    new_tokens: usize,
    cached: bool,
    longest_copy: Vec<Option<usize>>,
    copies_cached: Option<bool>,
}

impl Stored {
    /// Add to a generation's answer the copy limit, each sample's longest copy and whether the
    /// index was kept from before (nothing without a limit).
    fn copies_into(&self, max_copy: Option<usize>, answer: &mut Value) {
        if let Some(max) = max_copy {
            answer["max_copy"] = json!(max);
            answer["longest_copy"] = json!(self.longest_copy);
            answer["copy_index_cached"] = json!(self.copies_cached);
        }
    }
}

/// How many pieces to draw, from which rng seed, with or without the primer's notes, and
/// whether for a blind trial (whose samples' metadata must not tell them apart).
#[derive(Debug, Clone, Copy)]
struct Draw {
    count: usize,
    rng_seed: u64,
    strip_primer: bool,
    blind: bool,
}

impl Draw {
    /// One piece with its primer: a clip to compare.
    fn clip(rng_seed: u64) -> Draw {
        Draw { count: 1, rng_seed, strip_primer: false, blind: false }
    }

    /// A listening trial's clip.
    fn blind_clip(rng_seed: u64) -> Draw {
        Draw { blind: true, ..Draw::clip(rng_seed) }
    }
}

/// Draw pieces from checkpoint `name` (loaded, or kept from an earlier request) and store them.
fn sample_into_store(
    state: &State,
    name: &str,
    seed_file: Option<PathBuf>,
    s: &SamplingBody,
    draw: Draw,
    progress: &Tracker,
) -> Result<Stored> {
    let Draw { count, rng_seed, strip_primer, blind } = draw;
    let checkpoint = state.checkpoint(name)?;
    let primer_beats = match (&seed_file, strip_primer) {
        (Some(seed), false) => Some(primer_beats(seed, s.seed_beats)?),
        _ => None,
    };
    let options = GenerateOptions {
        count,
        length: s.length,
        sampler: s.sampler(),
        rng_seed,
        seed_beats: s.seed_beats,
        seed_seconds: None,
        strip_primer,
        key: s.key()?,
        candidates: crate::key::DEFAULT_KEY_CANDIDATES,
        density: s.density()?,
        instruments: s.instruments()?,
        tempo: s.tempo,
    };
    progress.phase("model", 0, 1);
    let (model, cached) = state.models.get(&checkpoint)?;
    let max_copy = s.draw.max_copy();
    let (sampled, copies_cached) = {
        let loaded = model.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (copies, copies_cached) = match max_copy {
            Some(_) => {
                progress.phase("copies", 0, 1);
                let (index, kept) = state.copies.get(&checkpoint, name, &loaded)?;
                (Some(index), Some(kept))
            }
            None => (None, None),
        };
        progress.phase("sampling", 0, count);
        (generate::sample_loaded(&loaded, seed_file.as_deref(), &options, &s.guard(), copies)?, copies_cached)
    };
    let mut ids = Vec::new();
    for (i, piece) in sampled.pieces.iter().enumerate() {
        progress.phase("storing", i, count);
        let meta = SampleMeta {
            source: name.to_string(),
            primer_tokens: piece.primer.len(),
            new_tokens: piece.continuation.len(),
            rng_seed,
            primer_beats,
            max_copy: max_copy.filter(|_| !blind),
            longest_copy: piece.longest_copy.filter(|_| !blind),
        };
        ids.push(state.store.add_sample(&midi::write_to_bytes(&piece.piece), &meta)?);
    }
    Ok(Stored {
        ids,
        seconds: sampled.seconds,
        new_tokens: sampled.new_tokens,
        cached,
        longest_copy: sampled.pieces.iter().map(|p| p.longest_copy).collect(),
        copies_cached,
    })
}

/// A generation request, checked: the body, its seed file and its rng seed.
struct Checked {
    body: GenerateBody,
    seed_file: Option<PathBuf>,
    rng_seed: u64,
}

fn check_generate(state: &State, body: &[u8]) -> Result<Checked> {
    let b: GenerateBody = parse(body, &["checkpoint", "variations", "strip_primer"], true)?;
    b.sampling.check()?;
    if b.variations == 0 || b.variations > MAX_VARIATIONS {
        return Err(bad("variations", format!("must be 1 to {MAX_VARIATIONS}, got {}", b.variations)));
    }
    check_file_name(&b.checkpoint, "checkpoint")?;
    let seed_file = b.sampling.seed_file(state)?;
    state.checkpoint(&b.checkpoint)?;
    let rng_seed = b.sampling.draw.rng_seed.unwrap_or_else(rand::random);
    Ok(Checked { body: b, seed_file, rng_seed })
}

/// Run a checked generation request; with `audio`, also render each sample's WAV (when a
/// SoundFont is there), so that a job's samples play at once.
fn run_generate(state: &State, c: Checked, progress: &Tracker, audio: bool) -> Result<Value> {
    let t0 = std::time::Instant::now();
    let b = &c.body;
    let draw = Draw { count: b.variations, rng_seed: c.rng_seed, strip_primer: b.strip_primer, blind: false };
    let stored = sample_into_store(state, &b.checkpoint, c.seed_file, &b.sampling, draw, progress)?;
    if audio {
        for (i, id) in stored.ids.iter().enumerate() {
            progress.phase("audio", i, stored.ids.len());
            // No SoundFont: the page's player says so when it asks for the WAV.
            let _ = wav(state, id);
        }
    }
    let mut answer = json!({
        "samples": stored.ids,
        "rng_seed": c.rng_seed,
        "sampling_seconds": stored.seconds,
        "total_seconds": t0.elapsed().as_secs_f64(),
        "new_tokens": stored.new_tokens,
        "model_cached": stored.cached,
    });
    stored.copies_into(b.sampling.draw.max_copy(), &mut answer);
    Ok(answer)
}

fn generate(state: &State, body: &[u8]) -> Result<Response> {
    let checked = check_generate(state, body)?;
    Ok(Response::json(200, &run_generate(state, checked, &Tracker::none(), false)?))
}

/// `POST /api/jobs`: check now, generate on a thread, answer the job's id (see [`super::jobs`]).
fn start_job(state: &Arc<State>, body: &[u8]) -> Result<Response> {
    let checked = check_generate(state, body)?;
    let (id, tracker) = state.jobs.start();
    let state = Arc::clone(state);
    std::thread::spawn(move || {
        let work = std::panic::AssertUnwindSafe(|| run_generate(&state, checked, &tracker, true));
        match std::panic::catch_unwind(work) {
            Ok(answer) => tracker.finish(answer),
            Err(_) => tracker.fail(500, "internal error"),
        }
    });
    Ok(Response::json(202, &json!({ "job": id })))
}

#[derive(Debug, Deserialize)]
struct TrialBody {
    /// A checkpoint name.
    a: String,
    /// A checkpoint name, or `real` for a test-split corpus piece.
    b: String,
    #[serde(flatten)]
    sampling: SamplingBody,
}

#[derive(Debug, Deserialize)]
struct CompareBody {
    checkpoints: Vec<String>,
    #[serde(flatten)]
    sampling: SamplingBody,
}

/// `POST /api/compare`: one primer (the seed) continued by each of several checkpoints, with the
/// same length, sampling settings and rng seed; the samples in the order asked, named.
fn compare(state: &State, body: &[u8]) -> Result<Response> {
    let b: CompareBody = parse(body, &["checkpoints"], true)?;
    b.sampling.check()?;
    let n = b.checkpoints.len();
    if !(2..=MAX_COMPARED).contains(&n) {
        return Err(bad("checkpoints", format!("must name 2 to {MAX_COMPARED} checkpoints, got {n}")));
    }
    for (i, name) in b.checkpoints.iter().enumerate() {
        check_file_name(name, "checkpoint")?;
        state.checkpoint(name)?;
        if b.checkpoints[..i].contains(name) {
            return Err(bad("checkpoints", format!("{name} is named twice")));
        }
    }
    let seed = b.sampling.seed_file(state)?;
    let rng_seed = b.sampling.draw.rng_seed.unwrap_or_else(rand::random);
    let t0 = std::time::Instant::now();
    let mut samples = Vec::with_capacity(n);
    for name in &b.checkpoints {
        let stored = sample_into_store(
            state,
            name,
            seed.clone(),
            &b.sampling,
            Draw::clip(rng_seed),
            &Tracker::none(),
        )?;
        let mut sample =
            json!({"checkpoint": name, "sample": stored.ids[0], "new_tokens": stored.new_tokens});
        if let Some(longest) = stored.longest_copy[0] {
            sample["longest_copy"] = json!(longest);
        }
        samples.push(sample);
    }
    let mut answer =
        json!({"samples": samples, "rng_seed": rng_seed, "total_seconds": t0.elapsed().as_secs_f64()});
    if let Some(max) = b.sampling.draw.max_copy() {
        answer["max_copy"] = json!(max);
    }
    Ok(Response::json(200, &answer))
}

/// A new blind trial: two clips with the same primer and length, in random order.
fn trial(state: &State, body: &[u8]) -> Result<Response> {
    let mut t: TrialBody = parse(body, &["a", "b"], true)?;
    t.sampling.check()?;
    check_file_name(&t.a, "checkpoint")?;
    let rng_seed = t.sampling.draw.rng_seed.unwrap_or_else(rand::random);
    let none = Tracker::none();
    let (clip_a, clip_b, source_b) = if t.b == "real" {
        // The real piece must be held out from model A: a test piece of A's own split.
        let a_path = state.checkpoint(&t.a)?;
        let header = crate::checkpoint::load_header(&a_path)?;
        let key = crate::corpus::LoadOptions::default().as_recorded(header.corpus.as_ref()).split_key;
        let (root, entries) = state.corpus()?;
        let name = match &t.sampling.seed_piece {
            Some(n) => n.clone(),
            None => {
                let tests: Vec<&CorpusEntry> =
                    entries.iter().filter(|e| e.split(key) == Split::Test).collect();
                let pick = tests.get((rng_seed % tests.len().max(1) as u64) as usize).ok_or_else(|| {
                    bad("b", format!("the corpus {} has no test-split piece", root.display()))
                })?;
                pick.name.clone()
            }
        };
        let (path, entry) = state.corpus_piece(&name)?;
        let split = entry.split(key);
        if split != Split::Test {
            return Err(bad(
                "seed_piece",
                format!(
                    "{name} is in the {split} split of {} (split by {key}); a real clip must be a test piece",
                    t.a
                ),
            ));
        }
        if t.sampling.seed_beats.is_none() {
            t.sampling.seed_beats = Some(8.0);
        }
        t.sampling.seed_piece = Some(name.clone());
        t.sampling.seed_upload = None;
        let stored = sample_into_store(
            state,
            &t.a,
            Some(path.clone()),
            &t.sampling,
            Draw::blind_clip(rng_seed),
            &none,
        )?;
        let real = real_clip(state, &t.a, &path, &name, &t.sampling, stored.new_tokens)?;
        (stored.ids[0].clone(), real, "real".to_string())
    } else {
        check_file_name(&t.b, "checkpoint")?;
        state.checkpoint(&t.b)?;
        let seed = t.sampling.seed_file(state)?;
        let clip = Draw::blind_clip(rng_seed);
        let a = sample_into_store(state, &t.a, seed.clone(), &t.sampling, clip, &none)?;
        let b = sample_into_store(state, &t.b, seed, &t.sampling, clip, &none)?;
        (a.ids[0].clone(), b.ids[0].clone(), t.b.clone())
    };
    let mut clips = [clip_a, clip_b];
    let mut sources = [t.a.clone(), source_b];
    if rand::random::<bool>() {
        clips.swap(0, 1);
        sources.swap(0, 1);
    }
    let trial = Trial { id: store::new_id(), clips: clips.clone(), sources };
    state.votes.add_trial(&trial)?;
    Ok(Response::json(200, &json!({ "trial": trial.id, "clips": clips })))
}

/// The real piece at `path`, primed as `s` says and continued by its own next `length` tokens
/// (in checkpoint `ckpt`'s tokenizer), stored as a sample.
fn real_clip(
    state: &State,
    ckpt: &str,
    path: &Path,
    name: &str,
    s: &SamplingBody,
    length: usize,
) -> Result<String> {
    let header = checkpoint::load_header(&state.checkpoint(ckpt)?)?;
    let tokenizer = header.tokenizer()?;
    let piece = midi::read_file(path, &tokenizer.read_options())?;
    let full = tokenizer.encode(&piece);
    let primer = tokenizer.encode_prefix(&piece, s.seed_beats, None);
    let start = primer.len().min(full.len());
    let cont = &full[start..(start + length.max(1)).min(full.len())];
    let mut sampler = s.sampler();
    sampler.notes = s.guard().rules(&tokenizer);
    let sample = Sample::new(&sampler, &primer, cont);
    let decoded = sample.piece(&tokenizer, &DecodeOptions::from_piece(&piece));
    let meta = SampleMeta {
        source: format!("real:{name}"),
        primer_tokens: primer.len(),
        new_tokens: cont.len(),
        rng_seed: 0,
        primer_beats: Some(primer_beats(path, s.seed_beats)?),
        max_copy: None,
        longest_copy: None,
    };
    state.store.add_sample(&midi::write_to_bytes(&decoded), &meta)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteBody {
    trial: String,
    choice: u8,
    #[serde(default)]
    ratings: Option<[u8; 2]>,
}

fn vote(state: &State, body: &[u8]) -> Result<Response> {
    let v: VoteBody = parse(body, &["trial", "choice", "ratings"], false)?;
    store::check_id(&v.trial, "trial")?;
    if v.choice > 1 {
        return Err(bad("choice", format!("must be 0 or 1, got {}", v.choice)));
    }
    if let Some(r) = v.ratings {
        if r.iter().any(|x| !(1..=5).contains(x)) {
            return Err(bad("ratings", format!("must be 1 to 5, got {r:?}")));
        }
    }
    state.votes.vote(&v.trial, Vote { choice: v.choice, ratings: v.ratings })?;
    Ok(Response::json(200, &json!({ "ok": true, "votes": state.votes.count()? })))
}

fn results(state: &State, query: &str) -> Result<Response> {
    let results = state.votes.results()?;
    let csv = query.split('&').any(|kv| kv == "format=csv");
    if csv {
        return Ok(Response::bytes("text/csv; charset=utf-8", votes::to_csv(&results).into_bytes(), None));
    }
    if !query.is_empty() && !query.split('&').all(|kv| kv == "format=json") {
        return Err(bad("format", "must be csv or json"));
    }
    Ok(Response::json(200, &json!({ "pairs": results, "z": votes::Z95 })))
}

/// A piece's notes as the page's piano rolls read them: seconds (through its tempo map), beats,
/// pitch, velocity, channel, program, drum; instrument by instrument.
pub(super) fn roll_notes(piece: &Piece) -> Vec<Value> {
    let tempo = TempoMap::new(piece);
    let tpb = f64::from(piece.ticks_per_beat.max(1));
    let mut notes = Vec::new();
    for inst in &piece.instruments {
        for n in &inst.notes {
            notes.push(json!({
                "start": tempo.seconds_at(n.start),
                "end": tempo.seconds_at(n.end),
                "start_beat": n.start as f64 / tpb,
                "end_beat": n.end as f64 / tpb,
                "pitch": n.pitch,
                "velocity": n.velocity,
                "channel": inst.channel,
                "program": inst.program,
                "drum": inst.is_drum,
            }));
        }
    }
    notes
}

fn piano_roll(state: &State, id: &str) -> Result<Response> {
    let bytes = state.store.sample_midi(id)?;
    let meta = state.store.sample_meta(id)?;
    let piece: Piece = midi::read_bytes(&bytes, Path::new("sample"), &midi::ReadOptions::default())?;
    let notes = roll_notes(&piece);
    let tempo = TempoMap::new(&piece);
    let tpb = f64::from(piece.ticks_per_beat.max(1));
    let mut roll = json!({
        "id": id,
        "seconds": piece.duration_seconds(),
        "ticks_per_beat": piece.ticks_per_beat,
        "primer_tokens": meta.primer_tokens,
        "primer_seconds": meta.primer_beats.map(|b| tempo.seconds_at((b * tpb).round() as u64)),
        "new_tokens": meta.new_tokens,
        "max_copy": meta.max_copy,
        "longest_copy": meta.longest_copy,
        "notes": notes,
    });
    super::edit::annotate_roll(state, id, &piece, &mut roll)?;
    Ok(Response::json(200, &roll))
}

#[cfg(feature = "audio")]
fn wav(state: &State, id: &str) -> Result<Response> {
    state.store.sample_midi(id)?;
    let wav = state.store.sample_path(id, "wav")?;
    if !wav.is_file() {
        let soundfont = state.config.soundfont.clone().or_else(crate::doctor::find_soundfont);
        let soundfont = soundfont.filter(|p| p.is_file()).ok_or_else(|| {
            StudioError::NoAudio(
                "no SoundFont found on the server; install timgm6mb-soundfont, set CADENZA_SOUNDFONT \
                 or start the studio with --soundfont PATH"
                    .into(),
            )
        })?;
        let opts = crate::play::PlayOptions {
            output: crate::play::Output::Wav(wav.clone()),
            soundfont: Some(soundfont),
            ..Default::default()
        };
        crate::play::play_file(&state.store.sample_path(id, "mid")?, &opts)?;
    }
    let bytes = std::fs::read(&wav).map_err(|e| Error::io(&wav, e))?;
    Ok(Response::bytes("audio/wav", bytes, Some(format!("sample-{id}.wav"))))
}

#[cfg(not(feature = "audio"))]
fn wav(state: &State, id: &str) -> Result<Response> {
    state.store.sample_midi(id)?;
    Err(StudioError::NoAudio("this cadenza was built without the `audio` feature".into()).into())
}

/// A body's `key` field (empty or absent: none); a 400 naming the field when it is no key. The
/// generation and edit routes read it alike.
pub(super) fn parse_key(field: Option<&str>) -> Result<Option<crate::key::Key>> {
    match field.map(str::trim).filter(|k| !k.is_empty()) {
        None => Ok(None),
        Some(k) => k.parse().map(Some).map_err(|_| {
            bad("key", format!("must be a tonic and a mode, such as \"A minor\" or \"F# major\", got {k:?}"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(dir: &Path) -> Arc<State> {
        let ck = dir.join("checkpoints");
        std::fs::create_dir_all(&ck).unwrap();
        let mut c = Config::new(ck);
        c.data = dir.join("data");
        c.db = dir.join("data/votes.sqlite");
        Arc::new(State::open(c).unwrap())
    }

    fn req(method: &str, url: &str, body: &[u8]) -> Request {
        let content_type = if url == "/api/uploads" { "audio/midi" } else { "application/json" };
        Request {
            method: method.into(),
            url: url.into(),
            host: Some("127.0.0.1:8080".into()),
            content_type: Some(content_type.into()),
            body: body.to_vec(),
        }
    }

    fn error_line(r: &Response) -> String {
        let text = String::from_utf8(r.body.clone()).unwrap();
        assert_eq!(text.trim_end().lines().count(), 1, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        v["error"].as_str().unwrap().to_string()
    }

    #[test]
    fn bad_requests_get_4xx_and_one_line_of_json() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path());
        let cases: &[(&str, &str, &[u8], u16)] = &[
            ("GET", "/nope", b"", 404),
            ("POST", "/api/generate", b"{not json", 400),
            ("POST", "/api/generate", br#"{"checkpoint": "../x.markov"}"#, 400),
            ("POST", "/api/generate", br#"{"checkpoint": "/etc/passwd"}"#, 400),
            ("POST", "/api/generate", br#"{"checkpoint": "a/b.markov"}"#, 400),
            ("POST", "/api/generate", br#"{"checkpoint": "..%2fx"}"#, 400),
            ("POST", "/api/generate", br#"{"checkpoint": "missing.markov"}"#, 404),
            ("POST", "/api/generate", br#"{"checkpoint": "m", "length": 0}"#, 400),
            ("POST", "/api/generate", br#"{"checkpoint": "m", "temperature": -1}"#, 400),
            ("POST", "/api/generate", br#"{"checkpoint": "m", "seed_upload": "../../x"}"#, 400),
            ("POST", "/api/generate", br#"{"checkpoint": "m", "bogus": 1}"#, 400),
            ("POST", "/api/uploads", b"", 400),
            ("POST", "/api/uploads", b"MThd garbage", 400),
            ("GET", "/api/samples/../../etc/passwd", b"", 400),
            ("GET", "/api/samples/%2e%2e%2f%2e%2e%2fetc.mid", b"", 400),
            ("GET", "/api/samples/0123456789abcdef0123456789abcdef.mid", b"", 404),
            ("GET", "/api/samples/0123456789abcdef0123456789abcdef.exe", b"", 404),
            ("POST", "/api/votes", br#"{"trial": "x", "choice": 0}"#, 400),
            ("POST", "/api/votes", br#"{"trial": "0123456789abcdef0123456789abcdef", "choice": 0}"#, 404),
            ("POST", "/api/votes", br#"{"trial": "0123456789abcdef0123456789abcdef", "choice": 2}"#, 400),
            ("GET", "/api/corpus", b"", 400),
            ("GET", "/api/results?format=xml", b"", 400),
            ("POST", "/api/ports/play", br#"{"sample": "../x", "port": "jack:a"}"#, 400),
            (
                "POST",
                "/api/ports/play",
                br#"{"sample": "0123456789abcdef0123456789abcdef", "port": ""}"#,
                400,
            ),
            (
                "POST",
                "/api/ports/play",
                br#"{"sample": "0123456789abcdef0123456789abcdef", "port": "a\u0000"}"#,
                400,
            ),
            (
                "POST",
                "/api/ports/play",
                br#"{"sample": "0123456789abcdef0123456789abcdef", "port": "a"}"#,
                404,
            ),
            ("POST", "/api/ports/play", br#"{"sample": "0123456789abcdef0123456789abcdef"}"#, 400),
        ];
        for (m, u, b, want) in cases {
            let r = handle(&s, &req(m, u, b));
            assert_eq!(
                r.status,
                *want,
                "{m} {u} {}: {}",
                String::from_utf8_lossy(b),
                String::from_utf8_lossy(&r.body)
            );
            assert!(!error_line(&r).is_empty());
        }
    }

    #[test]
    fn a_copy_limit_is_a_whole_number_of_notes() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path());
        for v in ["0", "-1", "\"x\"", "2.5", "1e3", "{}"] {
            for body in [
                format!(r#"{{"checkpoint": "m", "max_copy": {v}}}"#),
                format!(r#"{{"checkpoints": ["m", "n"], "max_copy": {v}}}"#),
            ] {
                let url = if body.contains("checkpoints") { "/api/compare" } else { "/api/generate" };
                let r = handle(&s, &req("POST", url, body.as_bytes()));
                assert_eq!(r.status, 400, "{body}");
                assert!(error_line(&r).starts_with("max_copy: "), "{body}: {}", error_line(&r));
            }
        }
        let r = handle(
            &s,
            &req("POST", "/api/generate", br#"{"checkpoint": "m", "unguarded": true, "max_copy": 3}"#),
        );
        assert_eq!(r.status, 400);
        assert!(error_line(&r).contains("max_copy"));
        // Well formed: on to the checkpoint, which is not there.
        for v in ["null", "1", "64"] {
            let body = format!(r#"{{"checkpoint": "m", "max_copy": {v}}}"#);
            assert_eq!(handle(&s, &req("POST", "/api/generate", body.as_bytes())).status, 404, "{body}");
        }
        let gone = Error::setting(COPY_FIELD, "set for m", "left out");
        assert_eq!(status_of(&gone), 422);
        assert_eq!(status_of(&Error::setting("max-copy", 0, "at least 1")), 400);
    }

    #[test]
    fn foreign_hosts_and_cross_site_body_types_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path());
        let mut r = req("GET", "/api/checkpoints", b"");
        r.host = Some("evil.example:8080".into());
        assert_eq!(handle(&s, &r).status, 403);
        for ok in ["localhost", "localhost:80", "127.0.0.1:8080", "[::1]:8080", "LOCALHOST"] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in ["127.0.0.1.evil.example", "evil.example", "[::2]:80", "localhost.evil:80"] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
        let mut r = req("POST", "/api/votes", br#"{"trial": "x", "choice": 0}"#);
        r.content_type = Some("text/plain".into());
        assert_eq!(handle(&s, &r).status, 415);
        let mut r = req("POST", "/api/uploads", b"MThd");
        r.content_type = Some("multipart/form-data; boundary=x".into());
        assert_eq!(handle(&s, &r).status, 415);
    }

    #[test]
    fn file_names_are_plain() {
        for bad in ["", ".", "..", "../a", "a/b", "a\\b", "/abs", ".hidden", "a\0b", "a%2fb", "é"] {
            assert!(check_file_name(bad, "checkpoint").is_err(), "{bad:?}");
        }
        for good in ["bach.markov", "folk-2.lstm", "a_b+c.transformer"] {
            assert!(check_file_name(good, "checkpoint").is_ok(), "{good:?}");
        }
    }

    #[test]
    fn the_page_and_empty_listings_answer() {
        let dir = tempfile::tempdir().unwrap();
        let s = state(dir.path());
        let r = handle(&s, &req("GET", "/", b""));
        assert_eq!(r.status, 200);
        assert!(String::from_utf8_lossy(&r.body).contains("<html"));
        let r = handle(&s, &req("GET", "/api/checkpoints", b""));
        assert_eq!(r.status, 200);
        let r = handle(&s, &req("GET", "/api/results?format=csv", b""));
        assert_eq!(r.status, 200);
        assert!(r.body.starts_with(b"a,b,votes"));
    }
}
