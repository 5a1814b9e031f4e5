//! Fine-tuning from the page (issue 26): `POST /api/finetune` with `base` (an LSTM or
//! Transformer checkpoint of the studio's folder), `uploads` (ids of MIDI files sent to
//! `POST /api/uploads`), `name` (the new checkpoint's, without extension) and optionally `steps`
//! (default [`DEFAULT_STEPS`]) starts a background job (`202 {"job": ID}`) that fine-tunes the
//! base on the uploads, as `cadenza finetune` does, and writes `NAME.KIND` into the checkpoint
//! folder. `GET /api/jobs/ID` shows its progress (phase `training`, step of steps) and, when
//! done, `{"checkpoint", "steps", "valid_bits_per_note"}`.
//!
//! Refused before any work: a base that is no LSTM or Transformer (422), an unknown base or
//! upload (404), fewer than [`MIN_UPLOADS`] uploads or a bad name or step count (400), a name
//! already taken (409).

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use super::api::{bad, check_file_name, parse, Response, State};
use super::jobs::Tracker;
use crate::error::{Error, Result, StudioError};
use crate::models::ModelKind;

/// Steps of a fine-tuning job unless asked otherwise.
pub const DEFAULT_STEPS: u64 = 200;
/// Uploads a job needs at least (a tenth of them is held out for early stopping).
pub const MIN_UPLOADS: usize = 2;
/// Uploads one job takes at most.
pub const MAX_UPLOADS: usize = 500;

#[derive(Debug, Deserialize)]
struct FinetuneBody {
    base: String,
    uploads: Vec<String>,
    name: String,
    #[serde(default)]
    steps: Option<u64>,
}

/// What a checked request will do.
struct Checked {
    base: std::path::PathBuf,
    uploads: Vec<std::path::PathBuf>,
    out: std::path::PathBuf,
    steps: u64,
}

fn check(state: &State, body: &[u8]) -> Result<Checked> {
    let b: FinetuneBody = parse(body, &["base", "uploads", "name", "steps"], false)?;
    let base = state.checkpoint(&b.base)?;
    let header = crate::checkpoint::load_header(&base)?;
    if !matches!(header.kind, ModelKind::Lstm | ModelKind::Transformer) {
        return Err(Error::setting("base", &b.base, "an LSTM or Transformer checkpoint"));
    }
    if !(MIN_UPLOADS..=MAX_UPLOADS).contains(&b.uploads.len()) {
        return Err(bad(
            "uploads",
            format!("must list {MIN_UPLOADS} to {MAX_UPLOADS} uploads, got {}", b.uploads.len()),
        ));
    }
    let uploads = b.uploads.iter().map(|id| state.store.upload_path(id)).collect::<Result<Vec<_>>>()?;
    if let Some((id, _)) = b.uploads.iter().zip(&uploads).find(|(_, p)| !p.is_file()) {
        return Err(StudioError::NotFound { what: "upload", name: id.clone() }.into());
    }
    let ok_name = !b.name.is_empty()
        && b.name.len() <= 64
        && b.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if !ok_name {
        return Err(bad("name", "must be 1 to 64 letters, digits, '_' or '-'"));
    }
    let file = format!("{}.{}", b.name, header.kind);
    check_file_name(&file, "checkpoint")?;
    let out = state.config.checkpoints.join(&file);
    if out.exists() {
        return Err(StudioError::Exists { what: "checkpoint", name: file }.into());
    }
    let steps = b.steps.unwrap_or(DEFAULT_STEPS);
    if !(1..=5000).contains(&steps) {
        return Err(bad("steps", format!("must be 1 to 5000, got {steps}")));
    }
    Ok(Checked { base, uploads, out, steps })
}

/// `POST /api/finetune`: check, then start the job.
pub(super) fn start(state: &Arc<State>, body: &[u8]) -> Result<Response> {
    let checked = check(state, body)?;
    let (id, tracker) = state.jobs.start();
    std::thread::spawn(move || {
        let work = std::panic::AssertUnwindSafe(|| run(checked, &tracker));
        match std::panic::catch_unwind(work) {
            Ok(answer) => tracker.finish(answer),
            Err(_) => tracker.fail(500, "internal error"),
        }
    });
    Ok(Response::json(202, &json!({ "job": id })))
}

/// The job's progress as the page polls it.
struct Progress<'a>(&'a Tracker);

impl crate::progress::Progress for Progress<'_> {
    fn update(&self, done: u64, total: u64, _note: &str) {
        self.0.phase("training", done as usize, total.max(1) as usize);
    }
}

fn run(c: Checked, tracker: &Tracker) -> Result<serde_json::Value> {
    use crate::corpus::LoadOptions;
    use crate::train::{finetune_request, train_on, FinetuneOptions};

    tracker.phase("reading", 0, c.uploads.len());
    let folder = tempfile::tempdir().map_err(|e| Error::io(Path::new("temporary folder"), e))?;
    for (i, upload) in c.uploads.iter().enumerate() {
        let to = folder.path().join(format!("upload{i:04}.mid"));
        std::fs::copy(upload, &to).map_err(|e| Error::io(upload, e))?;
    }
    let opts =
        FinetuneOptions { steps: c.steps, load: LoadOptions::cached(true), ..FinetuneOptions::default() };
    let request = finetune_request(&c.base, folder.path(), &c.out, &opts)?;
    request.check()?;
    let corpus = crate::corpus::Corpus::load(&request.corpus, &request.tokenizer, &request.load)?;
    let trained = train_on(&corpus, &request, &Progress(tracker))?;
    // The resume checkpoint is of no use to the page.
    let _ = std::fs::remove_file(crate::models::neural::last_path(&c.out));
    Ok(json!({
        "checkpoint": c.out.file_name().map(|n| n.to_string_lossy().into_owned()),
        "steps": trained.lstm.as_ref().map(|r| r.state.step),
        "valid_bits_per_note": trained.valid_bits_per_note,
    }))
}
