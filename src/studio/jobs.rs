//! Generation as a background job whose progress the page polls: `POST /api/jobs` (the body of
//! `POST /api/generate`) checks the request, starts the work on a thread of its own and answers
//! `202 {"job": ID}` at once; `GET /api/jobs/ID` tells the job's state (`running`, `done`,
//! `failed`), its phase (`model`, `copies` (indexing the training split for `max_copy`),
//! `sampling`, `storing`, `audio`) with `done` of `total` steps, the seconds since it started (or
//! that it took, once ended), and when it ends the answer `POST /api/generate` would have given
//! (`result`) or its one-line error (`error`, with the `status` that answer would have had).
//!
//! Only the most recent [`MAX_JOBS`] jobs are remembered.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::{json, Value};

use super::store;
use crate::error::{Error, Result, StudioError};

/// Jobs remembered; the oldest are forgotten first.
pub const MAX_JOBS: usize = 64;

#[derive(Debug)]
struct Status {
    started: Instant,
    phase: &'static str,
    done: usize,
    total: usize,
    /// `None` while running; then the answer (status, body) and the seconds the job took.
    outcome: Option<(u16, Value)>,
    seconds: Option<f64>,
}

/// The progress end of one job, handed to the work.
#[derive(Debug, Clone)]
pub struct Tracker(Arc<Mutex<Status>>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Tracker {
    /// A tracker nobody reads (synchronous generation).
    pub fn none() -> Tracker {
        Tracker(Arc::new(Mutex::new(Status {
            started: Instant::now(),
            phase: "model",
            done: 0,
            total: 1,
            outcome: None,
            seconds: None,
        })))
    }

    /// The job is at step `done` of `total` of `phase`.
    pub fn phase(&self, phase: &'static str, done: usize, total: usize) {
        let mut s = lock(&self.0);
        (s.phase, s.done, s.total) = (phase, done, total);
    }

    /// The job ended with `answer`: its body, or its error.
    pub fn finish(&self, answer: Result<Value>) {
        match answer {
            Ok(v) => self.end((200, v)),
            Err(e) => self.fail(super::api::status_of(&e), &e.to_string()),
        }
    }

    fn end(&self, outcome: (u16, Value)) {
        let mut s = lock(&self.0);
        s.seconds = Some(s.started.elapsed().as_secs_f64());
        s.outcome = Some(outcome);
    }

    /// The job failed with `status` and the one-line `error`.
    pub fn fail(&self, status: u16, error: &str) {
        self.end((status, json!({ "error": error.replace(['\n', '\r'], " ") })));
    }
}

/// The jobs of a studio.
#[derive(Debug, Default)]
pub struct Jobs {
    jobs: Mutex<Vec<(String, Tracker)>>,
}

impl Jobs {
    /// A new job: its id and its tracker.
    pub fn start(&self) -> (String, Tracker) {
        let id = store::new_id();
        let tracker = Tracker::none();
        let mut jobs = lock(&self.jobs);
        jobs.push((id.clone(), tracker.clone()));
        if jobs.len() > MAX_JOBS {
            let extra = jobs.len() - MAX_JOBS;
            jobs.drain(..extra);
        }
        (id, tracker)
    }

    /// What `GET /api/jobs/ID` answers.
    pub fn status(&self, id: &str) -> Result<Value> {
        store::check_id(id, "job")?;
        let tracker = lock(&self.jobs)
            .iter()
            .find(|(j, _)| j == id)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| Error::from(StudioError::NotFound { what: "job", name: id.to_string() }))?;
        let s = lock(&tracker.0);
        let (state, status, result, error) = match &s.outcome {
            None => ("running", Value::Null, Value::Null, Value::Null),
            Some((200, v)) => ("done", json!(200), v.clone(), Value::Null),
            Some((code, v)) => ("failed", json!(code), Value::Null, v["error"].clone()),
        };
        Ok(json!({
            "job": id,
            "state": state,
            "phase": s.phase,
            "done": s.done,
            "total": s.total,
            "elapsed_seconds": s.seconds.unwrap_or_else(|| s.started.elapsed().as_secs_f64()),
            "status": status,
            "result": result,
            "error": error,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_runs_then_ends_done_or_failed() {
        let jobs = Jobs::default();
        let (id, t) = jobs.start();
        t.phase("sampling", 1, 3);
        let s = jobs.status(&id).unwrap();
        assert_eq!(
            (s["state"].as_str(), s["phase"].as_str(), s["done"].as_u64()),
            (Some("running"), Some("sampling"), Some(1))
        );
        t.finish(Ok(json!({"samples": []})));
        let done = jobs.status(&id).unwrap();
        assert_eq!(done["state"], "done");
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(
            jobs.status(&id).unwrap()["elapsed_seconds"],
            done["elapsed_seconds"],
            "frozen once ended"
        );
        let (id2, t2) = jobs.start();
        t2.finish(Err(StudioError::NotFound { what: "checkpoint", name: "x".into() }.into()));
        let s = jobs.status(&id2).unwrap();
        assert_eq!((s["state"].as_str(), s["status"].as_u64()), (Some("failed"), Some(404)));
        assert!(s["error"].as_str().unwrap().contains("checkpoint"));
        assert!(jobs.status("0123456789abcdef0123456789abcdef").is_err());
        assert!(jobs.status("../x").is_err());
        for _ in 0..MAX_JOBS {
            jobs.start();
        }
        assert!(jobs.status(&id).is_err(), "the oldest are forgotten");
    }
}
