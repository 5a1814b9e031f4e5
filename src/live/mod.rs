//! Live: a player plays a phrase on a MIDI keyboard and the model answers on the beat
//! (`cadenza live`).
//!
//! - [`input`]: MIDI bytes into note messages (running status, velocity-0 note-ons; everything
//!   else skipped);
//! - [`tempo`]: the player's beat grid from a phrase's onsets;
//! - [`answer`]: the session on that grid primes any model, which writes an answer under the
//!   sampler's constraints (first note on the answer's first beat, the answer's length exact);
//! - [`listener`]: the keys held and the notes played, from the input port;
//! - [`player`]: the thread that sends the session's notes at their times, every note released
//!   however the session ends;
//! - [`session`]: the loop that samples each answer as soon as the player lets go of the keys
//!   and plays it at its time, withdrawn or interrupted when the player plays again;
//! - [`accompany`]: the loop that plays bar by bar under the player instead.
//!
//! The ports themselves (JACK, ALSA) are in `crate::play`, which turns them into
//! [`session::Incoming`] and a [`session::Sink`].
//!
//! [`prepare`] times one answer before the session and fits the work to the wait: a slow model
//! answers in parts ([`auto_part_beats`]), a quick one chooses each answer among more candidates
//! ([`auto_candidates`]).

pub mod accompany;
pub mod answer;
pub mod input;
pub mod listener;
pub mod player;
pub mod session;
pub mod tempo;

pub use answer::{answer, Answer, AnswerOptions, Ask, Played};
pub use session::{run, AnswerReport, Incoming, Mode, SessionOptions, Sink, Summary};
pub use tempo::Grid;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Receiver;

use crate::error::Result;
use crate::models::saved;
use crate::sampler::Guard;

/// A live job: which model answers, and how.
#[derive(Debug, Clone)]
pub struct LiveRequest {
    pub checkpoint: PathBuf,
    /// Device for libtorch models: `auto`, `cpu`, `cuda`, `cuda:N`.
    pub device: String,
    /// How answers are sampled (their note rules are made from `guard`).
    pub answer: AnswerOptions,
    pub session: SessionOptions,
    pub guard: Guard,
    /// With `guard.max_copy`: the corpus whose training split answers may not copy (`None`:
    /// the one the checkpoint records).
    pub copy_corpus: Option<PathBuf>,
    /// Answering, choose each answer from more candidates than `answer.candidates` when the
    /// model is quick enough to sample them within the wait (see [`auto_candidates`]).
    pub auto_candidates: bool,
    /// Threads libtorch samples with on the CPU, for the whole process (`None`: libtorch's
    /// own choice, every core). One keeps a small network's answers on time on a busy machine:
    /// an answer is many small steps, and a second thread waiting for a core that another
    /// program holds stalls each of them (on the 2-core VM beside a training run, the Bach
    /// Transformer's 1-beat parts took 0.4-0.9 s on two threads; its 4-beat parts fit the wait
    /// on one).
    pub cpu_threads: Option<usize>,
}

/// A model loaded and checked for a live session (see [`prepare`]).
pub struct Prepared {
    loaded: saved::LoadedModel,
    opts: AnswerOptions,
    session: SessionOptions,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("session", &self.session).finish_non_exhaustive()
    }
}

/// Load the model `request` names and check it answers (before any port is opened): a first
/// answer to one note checks the model and the options and warms the model up (its first call
/// pays for allocations); a second one times it, the session's first guess of how long
/// sampling takes.
pub fn prepare(request: &LiveRequest) -> Result<Prepared> {
    request.session.validate()?;
    request.answer.validate()?;
    if let Some(threads) = request.cpu_threads {
        crate::models::neural::set_cpu_threads(threads);
    }
    let loaded = saved::load(&request.checkpoint, &request.device)?;
    let copies = crate::generate::copies_for(
        &loaded,
        &request.guard,
        request.copy_corpus.as_deref(),
        &crate::progress::Silent,
    )?;
    let mut opts = request.answer.clone();
    opts.sampler.notes = request.guard.rules_with_copies(&loaded.tokenizer, copies)?;
    opts.sampler.validate()?;
    let grid = Grid::at_bpm(tempo::DEFAULT_BPM, 0.0);
    let warm = [Played { pitch: 60, velocity: 64, start: 0.0, end: 0.4 }];
    let warm_up = |index: usize| Ask {
        history: &warm,
        phrase_start: 0.0,
        grid,
        first_beat: 1,
        beats: request.session.beats,
        index,
        below: None,
        part_of: None,
    };
    answer(&loaded.model, &loaded.tokenizer, &warm_up(usize::MAX), &opts)?;
    let t0 = std::time::Instant::now();
    answer(&loaded.model, &loaded.tokenizer, &warm_up(usize::MAX - 1), &opts)?;
    let mut whole = t0.elapsed().as_secs_f64();
    let mut session = request.session.clone();
    if session.mode == Mode::Answer && request.auto_candidates {
        let candidates = auto_candidates(whole, opts.candidates, session.wait);
        whole *= candidates as f64 / opts.candidates.max(1) as f64;
        opts.candidates = candidates;
    }
    if session.mode == Mode::Answer && session.part_beats.is_none() {
        session.part_beats = auto_part_beats(whole, session.beats, session.wait);
    }
    let first_part = whole * f64::from(session.part()) / f64::from(session.beats);
    session.expected_sampling = session.expected_sampling.max(first_part);
    Ok(Prepared { loaded, opts, session })
}

/// Share of the wait that sampling an answer's first part may take when parts are picked, or
/// a whole answer when candidates are.
const PART_SHARE_OF_WAIT: f64 = 0.4;

/// Most candidates [`auto_candidates`] picks.
pub const MAX_AUTO_CANDIDATES: usize = 16;

/// The candidates an answer is chosen from when a whole answer from `candidates` of them
/// takes `whole` seconds to sample and the session waits `wait` seconds: as many as still fit
/// in [`PART_SHARE_OF_WAIT`] of the wait, reckoning their time in proportion (batched sampling
/// grows more slowly), from `candidates` up to [`MAX_AUTO_CANDIDATES`]. A quick model spends
/// the wait choosing: of more answers, the one that states the key best is played (the
/// Markov chain's answers were in the phrase's key 9 times in 20 from 4, 16 from 16).
pub fn auto_candidates(whole: f64, candidates: usize, wait: f64) -> usize {
    let candidates = candidates.max(1);
    let per_candidate = whole / candidates as f64;
    let fit =
        if per_candidate > 0.0 { (PART_SHARE_OF_WAIT * wait / per_candidate).floor() } else { f64::INFINITY };
    if fit.is_nan() {
        return candidates;
    }
    (fit.min(MAX_AUTO_CANDIDATES as f64) as usize).max(candidates)
}

/// The parts an answer of `beats` beats is sampled in when a whole one takes `whole` seconds to
/// sample and the session waits `wait` seconds: `None` (the whole answer at once) when that
/// fits in [`PART_SHARE_OF_WAIT`] of the wait, else parts of as many beats as do (at least 1).
/// The share leaves room for primers longer than the one timed and for a busy machine.
pub fn auto_part_beats(whole: f64, beats: u32, wait: f64) -> Option<u32> {
    let budget = PART_SHARE_OF_WAIT * wait;
    if whole <= budget || beats <= 1 {
        return None;
    }
    let per_beat = whole / f64::from(beats);
    Some(((budget / per_beat).floor() as u32).clamp(1, beats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_model_answers_in_parts_that_fit_the_wait() {
        // 8 beats in 10 ms: at once.
        assert_eq!(auto_part_beats(0.01, 8, 0.5), None);
        // 8 beats in 0.6 s (the Bach Transformer's four four-voice candidates): 0.2 s for the
        // first part, 75 ms a beat: parts of 2 beats.
        assert_eq!(auto_part_beats(0.6, 8, 0.5), Some(2));
        // Slower still: one beat at a time; a one-beat answer cannot be cut.
        assert_eq!(auto_part_beats(5.0, 8, 0.5), Some(1));
        assert_eq!(auto_part_beats(5.0, 1, 0.5), None);
        // No wait: every answer is late anyway, in parts of one beat.
        assert_eq!(auto_part_beats(0.01, 8, 0.0), Some(1));
    }

    #[test]
    fn a_quick_model_chooses_among_as_many_candidates_as_fit_the_wait() {
        // 4 candidates in 2 ms (the Markov chain): the most, 16.
        assert_eq!(auto_candidates(0.002, 4, 0.5), MAX_AUTO_CANDIDATES);
        // 4 in 40 ms, 10 ms each: 0.2 s holds 20, so 16; in 80 ms: 10.
        assert_eq!(auto_candidates(0.04, 4, 0.5), 16);
        assert_eq!(auto_candidates(0.08, 4, 0.5), 10);
        // A slow model (answers in parts) keeps the candidates asked for, never fewer.
        assert_eq!(auto_candidates(0.6, 4, 0.5), 4);
        assert_eq!(auto_candidates(0.3, 1, 0.5), 1);
        // No wait: no time to choose; no time measured: the most.
        assert_eq!(auto_candidates(0.01, 4, 0.0), 4);
        assert_eq!(auto_candidates(0.0, 4, 0.5), MAX_AUTO_CANDIDATES);
    }
}

impl Prepared {
    /// The beats of each part answers are sampled in (`None`: whole), as [`prepare`] set them.
    pub fn part_beats(&self) -> Option<u32> {
        self.session.part_beats
    }

    /// The candidates each answer is chosen from, as [`prepare`] set them.
    pub fn candidates(&self) -> usize {
        self.opts.candidates
    }

    /// Answer the player on `input` through `sink` until `stop` (see [`session::run`]);
    /// `report` hears of each answer.
    pub fn serve(
        &self,
        input: &Receiver<Incoming>,
        sink: Box<dyn Sink>,
        stop: &AtomicBool,
        report: &mut dyn FnMut(&AnswerReport),
    ) -> Result<Summary> {
        let (loaded, opts) = (&self.loaded, &self.opts);
        let respond = |ask: &Ask| answer(&loaded.model, &loaded.tokenizer, ask, opts).map(|a| a.notes);
        session::run(input, sink, stop, &self.session, respond, report)
    }
}

/// [`prepare`] then [`Prepared::serve`]: the one entry point of a live job.
pub fn serve(
    request: &LiveRequest,
    input: &Receiver<Incoming>,
    sink: Box<dyn Sink>,
    stop: &AtomicBool,
    report: &mut dyn FnMut(&AnswerReport),
) -> Result<Summary> {
    prepare(request)?.serve(input, sink, stop, report)
}
