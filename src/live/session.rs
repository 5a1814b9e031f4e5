//! A live session: listen to a player and play along, in one of two [`Mode`]s.
//!
//! **Answer** (this module's loop): once every key has been up for the wait less the time
//! sampling is expected to take (learned from each answer), the answer to the phrase is sampled
//! ahead of time, on the player's beat grid ([`super::tempo`]): its first beat is the first beat
//! at or after the release plus `wait` (or, when sampling took longer than that, the first beat
//! after the answer is ready: the answer moves by whole beats). A model too slow to sample a
//! whole answer within the wait answers in parts ([`SessionOptions::part_beats`]): the first part
//! is sampled ahead as above, each next one while the one before plays (a part ready late moves
//! the rest of the answer by whole beats). The answer is handed to the
//! player thread ([`super::player`]) that sends each message at its time; a key pressed before
//! the answer's first beat withdraws it silently (the phrase goes on), a key pressed while it
//! plays interrupts it (its sounding notes are released at once) and starts a new phrase.
//!
//! **Accompany** ([`super::accompany`]): bar by bar under the player.
//!
//! Whatever stops a session (the stop flag, a port that disappears) releases every note it
//! sounded and sends all notes off on its channel, so no note is left stuck. The model is
//! called through a closure ([`Ask`] in, notes out), so the loops know nothing of models and are
//! tested with scripted ones.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Instant;

use super::answer::{Ask, Played};
pub use super::listener::Incoming;
use super::listener::Listener;
use super::player::Player;
pub use super::player::Sink;
use super::tempo::{self, Grid};
use crate::error::{Error, Result};

/// How a session plays along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Answer each phrase once the player lets go.
    #[default]
    Answer,
    /// Play bar by bar under the player.
    Accompany,
}

impl std::str::FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Mode> {
        match s {
            "answer" => Ok(Mode::Answer),
            "accompany" => Ok(Mode::Accompany),
            other => Err(Error::setting("mode", other, "answer or accompany")),
        }
    }
}

/// How the session listens and answers.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionOptions {
    pub mode: Mode,
    /// Seconds of silence (every key up) after which a phrase is answered.
    pub wait: f64,
    /// Beats of an answer; accompanying, of a bar.
    pub beats: u32,
    /// The player's tempo; `None`: estimated from each phrase (accompanying: from the first
    /// notes, then kept).
    pub bpm: Option<f64>,
    /// MIDI channel of the answers (0-15).
    pub channel: u8,
    /// End the session after this many answers, or bars accompanied (`None`: when stopped).
    pub max_answers: Option<usize>,
    /// Seconds an answer (its first part) is expected to take to sample (the session then
    /// learns it from each answer): sampling starts this long (and a margin) before the wait is
    /// over, so short gaps between the notes of a phrase cost nothing and the answer is ready by
    /// its first beat.
    pub expected_sampling: f64,
    /// Answering, sample each answer in parts of this many beats, each part played while the
    /// next is sampled (`None`: the whole answer at once; [`super::prepare`] picks parts when a
    /// whole answer would not be ready within the wait). Not for accompanying.
    pub part_beats: Option<u32>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            mode: Mode::Answer,
            wait: 0.5,
            beats: 8,
            bpm: None,
            channel: 0,
            max_answers: None,
            expected_sampling: 0.0,
            part_beats: None,
        }
    }
}

impl SessionOptions {
    /// Beats of each part an answer is sampled in: [`SessionOptions::part_beats`], or the whole
    /// answer, at most the answer's beats.
    pub fn part(&self) -> u32 {
        self.part_beats.unwrap_or(self.beats).clamp(1, self.beats.max(1))
    }

    /// A wait of 0-60 s, 1-256 beats, a tempo of 20-400 bpm, a channel of 0-15.
    pub fn validate(&self) -> Result<()> {
        if !(self.wait.is_finite() && (0.0..=60.0).contains(&self.wait)) {
            return Err(Error::setting("wait", self.wait, "seconds between 0 and 60"));
        }
        if !(1..=256).contains(&self.beats) {
            return Err(Error::setting("answer-beats", self.beats, "1 to 256 beats"));
        }
        if let Some(bpm) = self.bpm.filter(|b| !(b.is_finite() && (20.0..=400.0).contains(b))) {
            return Err(Error::setting("bpm", bpm, "a tempo between 20 and 400"));
        }
        if let Some(p) = self.part_beats.filter(|p| !(1..=256).contains(p)) {
            return Err(Error::setting("part-beats", p, "1 to 256 beats"));
        }
        if self.channel > 15 {
            return Err(Error::setting("channel", self.channel + 1, "a MIDI channel, 1-16"));
        }
        Ok(())
    }
}

/// Sampling starts this much earlier than the expected sampling time asks.
pub(super) const MARGIN: f64 = 0.05;

/// One answer (accompanying: one bar), as the session reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerReport {
    /// 0 for the first answer.
    pub index: usize,
    /// Notes of the phrase answered (accompanying: the player's notes since the last bar).
    pub phrase_notes: usize,
    pub bpm: f64,
    /// Seconds from the release of the last key (accompanying: from the start of sampling) to
    /// the sampled answer being ready.
    pub ready_after: f64,
    /// Seconds the sampling itself took.
    pub sampling: f64,
    /// Seconds from the release of the last key (accompanying: from the start of sampling) to
    /// the answer's first beat (answering, a beat or more after the first beat past the wait
    /// when the answer was not ready by then).
    pub due_after: f64,
    pub notes: usize,
    /// Answering in parts: which part this is (0: the first, or the whole answer), of how many.
    pub part: usize,
    pub parts: usize,
    /// Whole beats the answer was moved on from this part on because the part was ready after
    /// its first beat (0: on time).
    pub moved_beats: u32,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// Answers (or bars) sampled, played in full, withdrawn and interrupted (answering), or
    /// dropped notes that were ready too late (accompanying: counted in `withdrawn`).
    pub answered: usize,
    pub played: usize,
    pub withdrawn: usize,
    pub interrupted: usize,
}

/// An answer handed to the player.
struct Scheduled {
    index: usize,
    /// Its first beat and its end (session seconds; the end is not known while parts of the
    /// answer are still to be sampled).
    due: f64,
    end: f64,
    notes: Vec<Played>,
    /// The parts of the answer still to sample.
    rest: Option<Rest>,
}

/// What sampling the rest of an answer in parts needs.
#[derive(Debug, Clone, Copy)]
struct Rest {
    /// The grid the answer is written on; the answer's first and end beats there, and the first
    /// beat of its next part.
    grid: Grid,
    first: i64,
    end: i64,
    next: i64,
    /// Seconds the answer's notes moved from the written grid (onto the phrase's beat, and by
    /// whole beats when a part was ready late).
    moved: f64,
    phrase_start: f64,
    released: f64,
    /// The next part's number, of `parts`.
    part: usize,
    parts: usize,
}

/// Whole beats of `beat` seconds a part due at `due` moves on when it is ready at `ready`.
fn late_beats(ready: f64, due: f64, beat: f64) -> f64 {
    ((ready + 0.005 - due) / beat).ceil().max(0.0)
}

/// Learn the sampling time from one that took `sampling` seconds: at once when it grows, slowly
/// when it shrinks.
pub(super) fn learn(expected: f64, sampling: f64) -> f64 {
    if sampling * 1.25 > expected {
        sampling * 1.25
    } else {
        0.7 * expected + 0.3 * sampling * 1.25
    }
}

/// Sample the next part of `sch`, an answer in parts of `part_beats` beats (reading the parts
/// before it), hand it to the player on `channel` and report it; a part ready after its first
/// beat moves it and the rest of the answer on by whole beats.
fn next_part(
    s: &Listener,
    sch: &mut Scheduled,
    part_beats: u32,
    channel: u8,
    player: &Player,
    sample: &mut impl FnMut(&Ask) -> Result<Vec<Played>>,
    report: &mut dyn FnMut(&AnswerReport),
) -> Result<()> {
    let Some(rest) = sch.rest else { return Ok(()) };
    let beats = (rest.end - rest.next).min(i64::from(part_beats)) as u32;
    let mut history = s.history.clone();
    history.extend(sch.notes.iter().map(|n| n.later(-rest.moved)));
    let ask = Ask {
        history: &history,
        phrase_start: rest.phrase_start,
        grid: rest.grid,
        first_beat: rest.next,
        beats,
        index: sch.index,
        below: None,
        part_of: Some((rest.first, rest.end)),
    };
    let t0 = Instant::now();
    let notes = sample(&ask)?;
    let sampling = t0.elapsed().as_secs_f64();
    let ready = s.now();
    let due = rest.grid.time_of(rest.next as f64) + rest.moved;
    let late = late_beats(ready, due, rest.grid.beat);
    let moved = rest.moved + late * rest.grid.beat;
    let notes: Vec<Played> = notes.into_iter().map(|n| n.later(moved)).collect();
    report(&AnswerReport {
        index: sch.index,
        phrase_notes: s.phrase_notes,
        bpm: 60.0 / rest.grid.beat,
        ready_after: ready - rest.released,
        sampling,
        due_after: due + late * rest.grid.beat - rest.released,
        notes: notes.len(),
        part: rest.part,
        parts: rest.parts,
        moved_beats: late as u32,
    });
    player.schedule(s.base, sch.index, channel, &notes);
    sch.notes.extend(notes);
    let next = rest.next + i64::from(beats);
    sch.rest = (next < rest.end).then_some(Rest { next, moved, part: rest.part + 1, ..rest });
    if sch.rest.is_none() {
        sch.end = sch.notes.iter().map(|n| n.end).fold(sch.due, f64::max);
    }
    Ok(())
}

/// One turn of a session's loop: `Ok(false)` once `stop` is set, an error once a port has gone
/// away, else whatever came in taken in (`before_key` runs before each key press).
pub(super) fn listen(
    stop: &AtomicBool,
    player: &Player,
    s: &mut Listener,
    input: &Receiver<Incoming>,
    before_key: &mut dyn FnMut(&mut Listener, f64),
) -> Result<bool> {
    if stop.load(Ordering::SeqCst) {
        return Ok(false);
    }
    if player.failed() {
        return Err(Error::Live("the output port went away".into()));
    }
    s.poll(input, before_key)?;
    Ok(true)
}

/// Run a session until `stop` is set, `opts.max_answers` answers have played, or a port goes
/// away (an error naming why). `sample` writes what the session asks for ([`Ask`]); `report`
/// hears of each answer.
pub fn run(
    input: &Receiver<Incoming>,
    sink: Box<dyn Sink>,
    stop: &AtomicBool,
    opts: &SessionOptions,
    mut sample: impl FnMut(&Ask) -> Result<Vec<Played>>,
    report: &mut dyn FnMut(&AnswerReport),
) -> Result<Summary> {
    opts.validate()?;
    if opts.mode == Mode::Accompany {
        return super::accompany::run(input, sink, stop, opts, sample, report);
    }
    let mut player = Player::start(sink, opts.channel);
    let mut s = Listener::new();
    let mut scheduled: Option<Scheduled> = None;
    let mut grid: Option<Grid> = None;
    // The grid the session's past is written on (see `tempo::session_grid`).
    let mut written: Option<Grid> = None;
    let mut summary = Summary::default();
    let mut expected = opts.expected_sampling.max(0.0);
    let part_beats = opts.part();
    let outcome = loop {
        // A key withdraws the answer before its first beat, interrupts it after.
        let mut on_key = |s: &mut Listener, t: f64| {
            let Some(sch) = scheduled.take() else { return };
            player.cancel_through(sch.index);
            if t < sch.due {
                summary.withdrawn += 1;
            } else {
                summary.interrupted += 1;
                s.history.extend(
                    sch.notes.iter().filter(|n| n.start < t).map(|n| Played { end: n.end.min(t), ..*n }),
                );
                s.end_phrase();
            }
        };
        match listen(stop, &player, &mut s, input, &mut on_key) {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
        let now = s.now();
        if let Some(sch) = scheduled.as_ref().filter(|sch| now >= sch.end) {
            s.history.extend(sch.notes.iter().copied());
            scheduled = None;
            s.end_phrase();
            summary.played += 1;
            s.forget(now);
            if opts.max_answers.is_some_and(|m| summary.played >= m) {
                break Ok(());
            }
        }
        // The next part of an answer in parts, sampled as soon as the one before is handed over
        // (a key pressed meanwhile is heard once it is sampled).
        if let Some(sch) = scheduled.as_mut().filter(|sch| sch.rest.is_some()) {
            if let Err(e) = next_part(&s, sch, part_beats, opts.channel, &player, &mut sample, report) {
                break Err(e);
            }
            continue;
        }
        let Some(released) = s.released.filter(|_| scheduled.is_none() && !s.onsets.is_empty()) else {
            continue;
        };
        // Every key is up: sample the answer ahead of its first beat, as late as the expected
        // sampling time allows (a gap inside a phrase is usually shorter).
        if now - released < (opts.wait - expected - MARGIN).max(0.0) {
            continue;
        }
        let g = tempo::phrase_grid(&s.onsets, opts.bpm, grid);
        grid = Some(g);
        let first = g.next_beat(released + opts.wait);
        // Sampled on the session's grid, from its beat nearest the phrase's first beat, then
        // moved onto the phrase's own beat.
        let w = tempo::session_grid(written, g);
        written = Some(w);
        let (first_written, onto) = w.beat_on(g.time_of(first as f64));
        let index = summary.answered;
        let t0 = Instant::now();
        let whole = (first_written, first_written + i64::from(opts.beats));
        let ask = Ask {
            history: &s.history,
            phrase_start: s.onsets[0],
            grid: w,
            first_beat: first_written,
            beats: part_beats,
            index,
            below: None,
            part_of: (part_beats < opts.beats).then_some(whole),
        };
        let notes: Vec<Played> = match sample(&ask) {
            Ok(n) => n.into_iter().map(|n| n.later(onto)).collect(),
            Err(e) => break Err(e),
        };
        let sampling = t0.elapsed().as_secs_f64();
        expected = learn(expected, sampling);
        let ready = s.now();
        // Ready after its first beat (sampling took longer than the wait): the whole answer moves
        // on by whole beats to the next beat, rather than its overdue notes bursting out at once.
        let late = late_beats(ready, g.time_of(first as f64), g.beat);
        let shift = late * g.beat;
        let first = first + late as i64;
        let notes: Vec<Played> = notes.into_iter().map(|n| n.later(shift)).collect();
        summary.answered += 1;
        let due = g.time_of(first as f64);
        // Parts of `part_beats` beats, the last maybe shorter.
        let parts = opts.beats.div_ceil(part_beats) as usize;
        let rest = (parts > 1).then_some(Rest {
            grid: w,
            first: whole.0,
            end: whole.1,
            next: whole.0 + i64::from(part_beats),
            moved: onto + shift,
            phrase_start: s.onsets[0],
            released,
            part: 1,
            parts,
        });
        let end =
            if rest.is_some() { f64::INFINITY } else { notes.iter().map(|n| n.end).fold(due, f64::max) };
        report(&AnswerReport {
            index,
            phrase_notes: s.phrase_notes,
            bpm: g.bpm(),
            ready_after: ready - released,
            sampling,
            due_after: due - released,
            notes: notes.len(),
            part: 0,
            parts,
            moved_beats: late as u32,
        });
        player.schedule(s.base, index, opts.channel, &notes);
        s.released = None;
        scheduled = Some(Scheduled { index, due, end, notes, rest });
    };
    player.finish();
    outcome.map(|()| summary)
}

#[cfg(test)]
mod tests {
    use super::super::input::all_notes_off;
    use super::super::player::testing::{key, offs_follow_ons, Log, Recorder};
    use super::*;
    use std::sync::mpsc::{channel, Sender};
    use std::sync::Arc;
    use std::time::Duration;

    /// An answer of `beats` notes, one a beat from the first beat, each 0.8 beat long.
    fn scripted(beats: i64) -> impl FnMut(&Ask) -> Result<Vec<Played>> {
        move |ask| {
            let (grid, first, index) = (ask.grid, ask.first_beat, ask.index);
            Ok((0..beats)
                .map(|k| Played {
                    pitch: 70 + index as u8,
                    velocity: 64,
                    start: grid.time_of((first + k) as f64),
                    end: grid.time_of((first + k) as f64 + 0.8),
                })
                .collect())
        }
    }

    /// Four quarter notes at 150 bpm, 0.3 s each (ends `0.4 * 3 + 0.3` s after the first).
    fn phrase(tx: &Sender<Incoming>) {
        for (i, p) in [60u8, 62, 64, 65].iter().enumerate() {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(100));
            }
            key(tx, &[0x90, *p, 90]);
            std::thread::sleep(Duration::from_millis(300));
            key(tx, &[0x90, *p, 0]); // released by a note-on of velocity 0
        }
    }

    /// The answer's first beat to a [`phrase`] that began at `first_on` and ended at
    /// `released`: the first beat of its 150 bpm grid after the release and a wait of 0.2 s.
    fn first_beat_after_wait(first_on: Instant, released: Instant) -> Instant {
        let mut due = first_on;
        while due < released + Duration::from_millis(200) {
            due += Duration::from_millis(400);
        }
        due
    }

    #[test]
    fn a_phrase_is_answered_on_the_beat_then_an_interruption_silences_the_answer() {
        let (tx, rx) = channel();
        let log: Log = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let opts = SessionOptions { wait: 0.2, ..Default::default() };
        let (sink, theirs_stop) = (Box::new(Recorder(Arc::clone(&log))), Arc::clone(&stop));
        let mut reports = Vec::new();
        let session = std::thread::spawn(move || {
            let r = run(&rx, sink, &theirs_stop, &opts, scripted(8), &mut |a| reports.push(a.clone()));
            (r, reports)
        });
        let first_on = Instant::now();
        phrase(&tx);
        let (due, grid_beat) = (first_beat_after_wait(first_on, Instant::now()), Duration::from_millis(400));
        // Let three answer notes play, then interrupt with a key.
        std::thread::sleep(
            (due + grid_beat * 2 + Duration::from_millis(100)).saturating_duration_since(Instant::now()),
        );
        key(&tx, &[0x90, 48, 80]);
        let interrupted_at = Instant::now();
        std::thread::sleep(Duration::from_millis(300));
        key(&tx, &[0x80, 48, 0]);
        // A second phrase is answered too; a key before its first beat withdraws nothing here.
        std::thread::sleep(Duration::from_millis(600));
        stop.store(true, Ordering::SeqCst);
        let (result, reports) = session.join().unwrap();
        let summary = result.unwrap();
        let log = log.lock().unwrap().clone();
        offs_follow_ons(&log);
        assert_eq!(log.last().unwrap().1, all_notes_off(0), "all notes off at the end");
        let pitch = log.iter().find(|(_, m)| m[0] == 0x90).expect("an answer sounded").1[1];
        let first: Vec<&(Instant, [u8; 3])> = log.iter().filter(|(_, m)| m[1] == pitch).collect();
        let ons: Vec<Instant> = first.iter().filter(|(_, m)| m[0] == 0x90).map(|e| e.0).collect();
        assert!(
            (3..=4).contains(&ons.len()),
            "the first answer played until interrupted: {} note-ons; {reports:?} {log:?}, due {:?} after the start",
            ons.len(), due - first_on
        );
        // On time, within what a busy machine allows (the jitter is measured in the benchmark).
        let late = ons[0].saturating_duration_since(due).as_secs_f64();
        let early = due.saturating_duration_since(ons[0]).as_secs_f64();
        assert!(early < 0.04 && late < 0.25, "first note {early:.3} s early, {late:.3} s late");
        // Nothing of the first answer starts after the interruption, and its note is released.
        assert!(ons.iter().all(|&t| t < interrupted_at));
        // The gaps inside the phrase (0.1 s) are shorter than the wait less the margin: nothing
        // was sampled before the phrase ended.
        assert!(summary.interrupted == 1 && summary.withdrawn == 0, "{summary:?} {reports:?}");
        assert_eq!(pitch, 70, "the first answer answered the whole phrase");
        let r = &reports[usize::from(pitch - 70)];
        assert_eq!(r.phrase_notes, 4);
        assert!((r.bpm - 150.0).abs() < 7.5, "{r:?}");
        assert!(r.due_after >= 0.2 && r.due_after < 0.2 + 0.41, "{r:?}");
    }

    /// An answer of 8 beats in parts of 3: each part is asked for after the one before, with
    /// the parts before it in its history at their places on the written grid, and the whole
    /// answer plays on the beat, one note a beat, as if sampled at once.
    #[test]
    fn an_answer_in_parts_plays_each_part_on_the_beat_after_the_one_before() {
        let (tx, rx) = channel();
        let log: Log = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let opts =
            SessionOptions { wait: 0.2, part_beats: Some(3), max_answers: Some(1), ..Default::default() };
        let (sink, theirs_stop) = (Box::new(Recorder(Arc::clone(&log))), Arc::clone(&stop));
        type Seen = (i64, u32, Option<(i64, i64)>, Vec<f64>);
        let asks: Arc<std::sync::Mutex<Vec<Seen>>> = Arc::default();
        let theirs_asks = Arc::clone(&asks);
        let mut one_a_beat = scripted(8);
        let session = std::thread::spawn(move || {
            let mut reports = Vec::new();
            let sample = |ask: &Ask| {
                let answered: Vec<f64> = ask
                    .history
                    .iter()
                    .filter(|n| n.pitch >= 70)
                    .map(|n| ask.grid.beats_at(n.start))
                    .collect();
                theirs_asks.lock().unwrap().push((ask.first_beat, ask.beats, ask.part_of, answered));
                // A part takes a while to sample: 0.1 s, a quarter of a beat at 150 bpm.
                std::thread::sleep(Duration::from_millis(100));
                let notes = one_a_beat(ask)?;
                Ok(notes.into_iter().take(ask.beats as usize).collect())
            };
            let r = run(&rx, sink, &theirs_stop, &opts, sample, &mut |a| reports.push(a.clone()));
            (r, reports)
        });
        let first_on = Instant::now();
        phrase(&tx);
        let (due, grid_beat) = (first_beat_after_wait(first_on, Instant::now()), Duration::from_millis(400));
        let (result, reports) = session.join().unwrap();
        let summary = result.unwrap();
        assert_eq!((summary.answered, summary.played), (1, 1), "{summary:?} {reports:?}");
        let asks = asks.lock().unwrap().clone();
        let first = asks[0].0;
        let seen: Vec<(i64, u32, Option<(i64, i64)>)> = asks.iter().map(|a| (a.0, a.1, a.2)).collect();
        let whole = Some((first, first + 8));
        assert_eq!(
            seen,
            vec![(first, 3, whole), (first + 3, 3, whole), (first + 6, 2, whole)],
            "{reports:?}"
        );
        // Each part reads the parts before it, where they were written.
        for (k, a) in asks.iter().enumerate() {
            let expected: Vec<f64> = (0..3 * k as i64).map(|j| (first + j) as f64).collect();
            assert_eq!(a.3.len(), expected.len(), "part {k}: {:?}", a.3);
            assert!(a.3.iter().zip(&expected).all(|(x, y)| (x - y).abs() < 1e-6), "part {k}: {:?}", a.3);
        }
        assert_eq!(
            reports.iter().map(|r| (r.part, r.parts)).collect::<Vec<_>>(),
            vec![(0, 3), (1, 3), (2, 3)]
        );
        let log = log.lock().unwrap().clone();
        offs_follow_ons(&log);
        let ons: Vec<Instant> = log.iter().filter(|(_, m)| m[0] == 0x90).map(|e| e.0).collect();
        assert_eq!(ons.len(), 8, "{log:?}");
        // One note a beat from the first beat, within what a busy machine allows: no part late.
        if reports.iter().all(|r| r.moved_beats == 0) {
            for (k, &on) in ons.iter().enumerate() {
                let at = due + grid_beat * k as u32;
                let off = on.saturating_duration_since(at).max(at.saturating_duration_since(on));
                assert!(
                    off.as_secs_f64() < 0.25,
                    "note {k} {:.3} s off the beat; {reports:?}",
                    off.as_secs_f64()
                );
            }
        } else {
            // A loaded machine moved a part on by whole beats: the notes stay on the grid.
            let beats: Vec<f64> = ons.iter().map(|on| on.duration_since(due).as_secs_f64() / 0.4).collect();
            assert!(beats.iter().all(|b| (b - b.round()).abs() < 0.3), "{beats:?} {reports:?}");
        }
    }

    #[test]
    fn a_key_before_the_first_beat_withdraws_the_answer_and_a_closed_port_ends_the_session() {
        let (tx, rx) = channel();
        let log: Log = Arc::default();
        let stop = AtomicBool::new(false);
        // Sampling expected to take the whole wait: it starts as soon as the keys are up.
        let opts =
            SessionOptions { wait: 0.6, bpm: Some(120.0), expected_sampling: 0.6, ..Default::default() };
        let sink = Box::new(Recorder(Arc::clone(&log)));
        let handle = std::thread::spawn(move || {
            phrase(&tx);
            std::thread::sleep(Duration::from_millis(150));
            key(&tx, &[0x90, 67, 90]); // the phrase goes on
            std::thread::sleep(Duration::from_millis(100));
            key(&tx, &[0xb0, 123, 0]); // all notes off from the keyboard releases it
            std::thread::sleep(Duration::from_millis(50));
            key(&tx, &[0x90, 69, 90]);
            tx.send(Incoming::Closed("the keyboard was unplugged".into())).unwrap();
        });
        let mut n = 0;
        let err = run(&rx, sink, &stop, &opts, scripted(4), &mut |_| n += 1).unwrap_err();
        handle.join().unwrap();
        assert!(err.to_string().contains("unplugged"), "{err}");
        let log = log.lock().unwrap().clone();
        assert!(n >= 1, "an answer was sampled at the first release");
        assert!(log.iter().all(|(_, m)| m[0] & 0xf0 != 0x90), "withdrawn before it sounded: {log:?}");
        assert_eq!(log.last().unwrap().1, all_notes_off(0));
    }

    #[test]
    fn bad_settings_are_refused() {
        let (_tx, rx) = channel();
        let stop = AtomicBool::new(false);
        let opts = SessionOptions { wait: -1.0, ..Default::default() };
        let sink = Box::new(Recorder(Arc::default()));
        let err = run(&rx, sink, &stop, &opts, scripted(1), &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("wait"), "{err}");
    }
}
