//! A live session: listen to a player, answer each phrase on the beat.
//!
//! The loop reads stamped MIDI from the input port ([`Incoming`]) and keeps the keys held and
//! the notes played. Once every key has been up for the wait less the time sampling is expected
//! to take (learned from each answer), it samples the answer to the phrase ahead of time, on the
//! player's beat grid ([`super::tempo`]): the answer's first beat is the first beat at or after
//! the release plus `wait` (or, when sampling took longer than that, the first beat after the
//! answer is ready: the answer moves by whole beats). The answer is handed to a player thread
//! that sends each message at its time; a key pressed before the answer's first beat withdraws
//! it silently (the phrase goes on), a key pressed while it plays interrupts it (its sounding
//! notes are released at once) and starts a new phrase. Whatever stops the session (the stop
//! flag, a port that disappears) releases every note the session sounded and sends all notes
//! off on its channel, so no note is left stuck.
//!
//! The model is called through a closure, so the loop knows nothing of models and is tested
//! with a scripted one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::answer::Played;
use super::input::{all_notes_off, note_off, note_on, Message, Parser};
use super::tempo::{self, Grid};
use crate::error::{Error, Result};

/// What an input port hands the session.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// MIDI bytes and when they arrived.
    Midi { at: Instant, bytes: Vec<u8> },
    /// The port (or its server) went away.
    Closed(String),
}

/// Where the session's MIDI goes.
pub trait Sink: Send {
    /// Send one message now; false when the port is gone.
    fn send(&mut self, bytes: &[u8]) -> bool;

    /// How long after [`Sink::send`] a message reaches the port (JACK: one period); the player
    /// sends this much early.
    fn latency(&self) -> Duration {
        Duration::ZERO
    }
}

/// How the session listens and answers.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionOptions {
    /// Seconds of silence (every key up) after which a phrase is answered.
    pub wait: f64,
    /// The player's tempo; `None`: estimated from each phrase.
    pub bpm: Option<f64>,
    /// MIDI channel of the answers (0-15).
    pub channel: u8,
    /// End the session after this many answers (`None`: when stopped).
    pub max_answers: Option<usize>,
    /// Seconds an answer is expected to take to sample (the session then learns it from each
    /// answer): sampling starts this long (and a margin) before the wait is over, so short gaps
    /// between the notes of a phrase cost nothing and the answer is ready by its first beat.
    pub expected_sampling: f64,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions { wait: 0.5, bpm: None, channel: 0, max_answers: None, expected_sampling: 0.0 }
    }
}

impl SessionOptions {
    /// A wait of 0-60 s, a tempo of 20-400 bpm, a channel of 0-15.
    pub fn validate(&self) -> Result<()> {
        if !(self.wait.is_finite() && (0.0..=60.0).contains(&self.wait)) {
            return Err(Error::setting("wait", self.wait, "seconds between 0 and 60"));
        }
        if let Some(bpm) = self.bpm.filter(|b| !(b.is_finite() && (20.0..=400.0).contains(b))) {
            return Err(Error::setting("bpm", bpm, "a tempo between 20 and 400"));
        }
        if self.channel > 15 {
            return Err(Error::setting("channel", self.channel + 1, "a MIDI channel, 1-16"));
        }
        Ok(())
    }
}

/// Sampling starts this much earlier than the expected sampling time asks.
const MARGIN: f64 = 0.05;

/// The tempo assumed for a phrase too short to have one when none is given.
pub const DEFAULT_BPM: f64 = 120.0;

/// One answer, as the session reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerReport {
    /// 0 for the first answer.
    pub index: usize,
    /// Notes of the phrase answered.
    pub phrase_notes: usize,
    pub bpm: f64,
    /// Seconds from the release of the last key to the sampled answer being ready.
    pub ready_after: f64,
    /// Seconds the sampling itself took.
    pub sampling: f64,
    /// Seconds from the release of the last key to the answer's first beat (a beat or more
    /// after the first beat past the wait when the answer was not ready by then).
    pub due_after: f64,
    pub notes: usize,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Answers sampled, played in full, withdrawn and interrupted.
    pub answered: usize,
    pub played: usize,
    pub withdrawn: usize,
    pub interrupted: usize,
}

/// A message for the player thread.
#[derive(Debug, Clone, Copy)]
struct Timed {
    at: Instant,
    answer: usize,
    bytes: [u8; 3],
}

#[derive(Default)]
struct Queue {
    events: VecDeque<Timed>,
    /// Answers below this are cancelled.
    cancel_below: usize,
    stop: bool,
    /// Set by the player when the port is gone.
    failed: bool,
}

/// The thread that sends answers at their times.
struct Player {
    shared: Arc<(Mutex<Queue>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

/// Ask the OS for real-time scheduling of the calling thread, as JACK clients do; refused
/// without the right (most desktops grant it to the audio group), which is not an error.
pub fn try_realtime_priority() -> bool {
    // SAFETY: sched_setscheduler on the calling thread with a valid parameter.
    unsafe {
        let param = libc::sched_param { sched_priority: 20 };
        libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0
    }
}

impl Player {
    fn start(mut sink: Box<dyn Sink>, channel: u8) -> Player {
        let shared: Arc<(Mutex<Queue>, Condvar)> = Arc::default();
        let theirs = Arc::clone(&shared);
        let early = sink.latency();
        let handle = std::thread::spawn(move || {
            try_realtime_priority();
            let (lock, cvar) = &*theirs;
            // (answer, pitch) of the notes sounding.
            let mut sounding: Vec<(usize, u8)> = Vec::new();
            let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let cancel = q.cancel_below;
                q.events.retain(|e| e.answer >= cancel);
                let mut out: Vec<[u8; 3]> = Vec::new();
                sounding.retain(|&(a, p)| {
                    let keep = a >= cancel && !q.stop;
                    if !keep {
                        out.push(note_off(channel, p));
                    }
                    keep
                });
                if q.stop {
                    out.push(all_notes_off(channel));
                }
                let now = Instant::now() + early;
                while q.events.front().is_some_and(|e| e.at <= now + Duration::from_micros(200)) {
                    let e = q.events.pop_front().expect("a front event");
                    match e.bytes[0] & 0xf0 {
                        0x90 => sounding.push((e.answer, e.bytes[1])),
                        _ => sounding.retain(|&(a, p)| !(a == e.answer && p == e.bytes[1])),
                    }
                    out.push(e.bytes);
                }
                let stop = q.stop;
                if !out.is_empty() {
                    drop(q);
                    let ok = out.iter().all(|m| sink.send(m));
                    q = lock.lock().unwrap_or_else(|e| e.into_inner());
                    if !ok {
                        q.failed = true;
                    }
                }
                if stop || q.failed {
                    return;
                }
                let wait = q.events.front().map_or(Duration::from_millis(50), |e| {
                    e.at.saturating_duration_since(Instant::now() + early).min(Duration::from_millis(50))
                });
                if !wait.is_zero() {
                    q = cvar.wait_timeout(q, wait).unwrap_or_else(|e| e.into_inner()).0;
                }
            }
        });
        Player { shared, handle: Some(handle) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Queue) -> T) -> T {
        let (lock, cvar) = &*self.shared;
        let out = f(&mut lock.lock().unwrap_or_else(|e| e.into_inner()));
        cvar.notify_all();
        out
    }

    fn failed(&self) -> bool {
        self.with(|q| q.failed)
    }

    /// Stop, release everything and wait for the thread.
    fn finish(&mut self) {
        self.with(|q| q.stop = true);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.finish();
    }
}

/// An answer handed to the player.
struct Scheduled {
    index: usize,
    /// Its first beat and its end (session seconds).
    due: f64,
    end: f64,
    notes: Vec<Played>,
}

/// The session's state between messages.
struct State {
    base: Instant,
    parser: Parser,
    /// (channel, pitch, velocity, start) of the keys held.
    held: Vec<(u8, u8, u8, f64)>,
    /// Everything that sounded (the player's notes and the answers' notes as far as they
    /// played), oldest first.
    history: Vec<Played>,
    /// Onsets and notes of the phrase under way.
    onsets: Vec<f64>,
    phrase_notes: usize,
    /// When the last key went up; the phrase is due an answer.
    released: Option<f64>,
    grid: Option<Grid>,
    scheduled: Option<Scheduled>,
}

/// History older than this many seconds is forgotten.
const MEMORY: f64 = 300.0;

impl State {
    fn seconds(&self, at: Instant) -> f64 {
        if at >= self.base {
            (at - self.base).as_secs_f64()
        } else {
            -(self.base - at).as_secs_f64()
        }
    }

    /// Where the key `pitch` of `channel` is among the keys held.
    fn held_at(&self, channel: u8, pitch: u8) -> Option<usize> {
        self.held.iter().position(|h| h.0 == channel && h.1 == pitch)
    }

    /// The phrase under way is over (answered, or cut by a key during its answer).
    fn end_phrase(&mut self) {
        self.onsets.clear();
        self.phrase_notes = 0;
    }

    fn release(&mut self, idx: usize, t: f64) {
        let (_, pitch, velocity, start) = self.held.swap_remove(idx);
        self.history.push(Played { pitch, velocity, start, end: t.max(start) });
        self.phrase_notes += 1;
        if self.held.is_empty() {
            self.released = Some(t);
        }
    }
}

/// Run a session until `stop` is set, `opts.max_answers` answers have played, or a port goes
/// away (an error naming why). `answer(history, grid, first_beat, index)` samples an answer;
/// `report` hears of each.
pub fn run(
    input: &Receiver<Incoming>,
    sink: Box<dyn Sink>,
    stop: &AtomicBool,
    opts: &SessionOptions,
    mut answer: impl FnMut(&[Played], Grid, i64, usize) -> Result<Vec<Played>>,
    report: &mut dyn FnMut(&AnswerReport),
) -> Result<Summary> {
    opts.validate()?;
    let mut player = Player::start(sink, opts.channel);
    let mut s = State {
        base: Instant::now(),
        parser: Parser::new(),
        held: Vec::new(),
        history: Vec::new(),
        onsets: Vec::new(),
        phrase_notes: 0,
        released: None,
        grid: None,
        scheduled: None,
    };
    let mut summary = Summary { answered: 0, played: 0, withdrawn: 0, interrupted: 0 };
    let mut expected = opts.expected_sampling.max(0.0);
    let mut messages = Vec::new();
    let outcome = loop {
        if stop.load(Ordering::SeqCst) {
            break Ok(());
        }
        if player.failed() {
            break Err(Error::Live("the output port went away".into()));
        }
        match input.recv_timeout(Duration::from_millis(10)) {
            Ok(Incoming::Midi { at, bytes }) => {
                let t = s.seconds(at);
                messages.clear();
                s.parser.feed(&bytes, &mut messages);
                for &m in &messages {
                    match m {
                        Message::NoteOn { channel, pitch, velocity } => {
                            if let Some(sch) = s.scheduled.take() {
                                player.with(|q| q.cancel_below = sch.index + 1);
                                if t < sch.due {
                                    summary.withdrawn += 1;
                                } else {
                                    summary.interrupted += 1;
                                    s.history.extend(
                                        sch.notes
                                            .iter()
                                            .filter(|n| n.start < t)
                                            .map(|n| Played { end: n.end.min(t), ..*n }),
                                    );
                                    s.end_phrase();
                                }
                            }
                            if let Some(i) = s.held_at(channel, pitch) {
                                s.release(i, t); // a key pressed twice: the first note ends
                            }
                            s.held.push((channel, pitch, velocity, t));
                            s.onsets.push(t);
                            s.released = None;
                        }
                        Message::NoteOff { channel, pitch } => {
                            if let Some(i) = s.held_at(channel, pitch) {
                                s.release(i, t);
                            }
                        }
                        Message::AllOff { channel } => {
                            while let Some(i) = s.held.iter().position(|h| h.0 == channel) {
                                s.release(i, t);
                            }
                        }
                    }
                }
            }
            Ok(Incoming::Closed(why)) => break Err(Error::Live(why)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break Err(Error::Live("the input port went away".into())),
        }
        let now = s.seconds(Instant::now());
        if let Some(sch) = s.scheduled.as_ref().filter(|sch| now >= sch.end) {
            s.history.extend(sch.notes.iter().copied());
            s.scheduled = None;
            s.end_phrase();
            summary.played += 1;
            s.history.retain(|n| n.end >= now - MEMORY);
            if opts.max_answers.is_some_and(|m| summary.played >= m) {
                break Ok(());
            }
        }
        let Some(released) = s.released.filter(|_| s.scheduled.is_none() && !s.onsets.is_empty()) else {
            continue;
        };
        // Every key is up: sample the answer ahead of its first beat, as late as the expected
        // sampling time allows (a gap inside a phrase is usually shorter).
        if now - released < (opts.wait - expected - MARGIN).max(0.0) {
            continue;
        }
        let grid = match opts.bpm {
            Some(bpm) => Grid::at_bpm(bpm, s.onsets[0]).refit_phase(&s.onsets),
            None => tempo::estimate(&s.onsets).unwrap_or_else(|| {
                let beat = s.grid.map_or(60.0 / DEFAULT_BPM, |g| g.beat);
                Grid { anchor: s.onsets[0], beat }.refit_phase(&s.onsets)
            }),
        };
        s.grid = Some(grid);
        let first = grid.next_beat(released + opts.wait);
        let index = summary.answered;
        let t0 = Instant::now();
        let notes = match answer(&s.history, grid, first, index) {
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        let sampling = t0.elapsed().as_secs_f64();
        // Learn the sampling time: at once when it grows, slowly when it shrinks.
        expected =
            if sampling * 1.25 > expected { sampling * 1.25 } else { 0.7 * expected + 0.3 * sampling * 1.25 };
        let ready = s.seconds(Instant::now());
        // Ready after its first beat (sampling took longer than the wait): the whole answer moves
        // on by whole beats to the next beat, rather than its overdue notes bursting out at once.
        let late_beats = (grid.beats_at(ready + 0.005) - first as f64).ceil().max(0.0);
        let (first, notes) = if late_beats > 0.0 {
            let shift = late_beats * grid.beat;
            (
                first + late_beats as i64,
                notes
                    .into_iter()
                    .map(|n| Played { start: n.start + shift, end: n.end + shift, ..n })
                    .collect(),
            )
        } else {
            (first, notes)
        };
        summary.answered += 1;
        let due = grid.time_of(first as f64);
        let end = notes.iter().map(|n| n.end).fold(due, f64::max);
        report(&AnswerReport {
            index,
            phrase_notes: s.phrase_notes,
            bpm: grid.bpm(),
            ready_after: ready - released,
            sampling,
            due_after: due - released,
            notes: notes.len(),
        });
        let at = |t: f64| s.base + Duration::from_secs_f64(t.max(0.0));
        let mut events: Vec<Timed> = Vec::with_capacity(notes.len() * 2);
        for n in &notes {
            events.push(Timed {
                at: at(n.start),
                answer: index,
                bytes: note_on(opts.channel, n.pitch, n.velocity),
            });
            events.push(Timed { at: at(n.end), answer: index, bytes: note_off(opts.channel, n.pitch) });
        }
        // In time order, offs before ons at the same time, so a repeated pitch sounds again.
        player.with(|q| {
            q.events.extend(events);
            q.events.make_contiguous().sort_by_key(|e| (e.at, e.bytes[0] & 0xf0 == 0x90));
        });
        s.released = None;
        s.scheduled = Some(Scheduled { index, due, end, notes });
    };
    player.finish();
    outcome.map(|()| summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{channel, Sender};

    type Log = Arc<Mutex<Vec<(Instant, [u8; 3])>>>;

    struct Recorder(Log);

    impl Sink for Recorder {
        fn send(&mut self, bytes: &[u8]) -> bool {
            let mut m = [0u8; 3];
            m[..bytes.len().min(3)].copy_from_slice(&bytes[..bytes.len().min(3)]);
            self.0.lock().unwrap().push((Instant::now(), m));
            true
        }
    }

    /// An answer of `beats` notes, one a beat from the first beat, each 0.8 beat long.
    fn scripted(beats: i64) -> impl FnMut(&[Played], Grid, i64, usize) -> Result<Vec<Played>> {
        move |_, grid, first, index| {
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

    fn key(tx: &Sender<Incoming>, bytes: &[u8]) {
        tx.send(Incoming::Midi { at: Instant::now(), bytes: bytes.to_vec() }).unwrap();
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

    fn offs_follow_ons(log: &[(Instant, [u8; 3])]) {
        let mut sounding = std::collections::BTreeMap::new();
        for (_, m) in log {
            match m[0] & 0xf0 {
                0x90 => *sounding.entry(m[1]).or_insert(0) += 1,
                0x80 => *sounding.entry(m[1]).or_insert(0) -= 1,
                _ => {}
            }
        }
        assert!(sounding.values().all(|&n| n <= 0), "stuck notes: {sounding:?} in {log:?}");
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
        let released = Instant::now();
        // The answer's first beat: the first beat of the 150 bpm grid after release + wait.
        let grid_beat = Duration::from_millis(400);
        let mut due = first_on;
        while due < released + Duration::from_millis(200) {
            due += grid_beat;
        }
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
