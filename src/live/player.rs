//! The thread that plays a session's notes at their times: answers are queued as timed
//! messages, sent early by the sink's latency, at real-time priority where the OS allows it. An
//! answer can be cancelled (its queued messages dropped, its sounding notes released at once),
//! and however the thread stops it releases what sounds and sends all notes off.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::answer::Played;
use super::input::{all_notes_off, note_off, note_on};

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

/// A message for the player thread.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timed {
    pub(super) at: Instant,
    pub(super) answer: usize,
    pub(super) bytes: [u8; 3],
}

#[derive(Default)]
pub(super) struct Queue {
    pub(super) events: VecDeque<Timed>,
    /// Answers below this are cancelled.
    pub(super) cancel_below: usize,
    stop: bool,
    /// Set by the player when the port is gone.
    failed: bool,
}

/// The thread that sends answers at their times.
pub(super) struct Player {
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
    pub(super) fn start(mut sink: Box<dyn Sink>, channel: u8) -> Player {
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

    pub(super) fn with<T>(&self, f: impl FnOnce(&mut Queue) -> T) -> T {
        let (lock, cvar) = &*self.shared;
        let out = f(&mut lock.lock().unwrap_or_else(|e| e.into_inner()));
        cvar.notify_all();
        out
    }

    pub(super) fn failed(&self) -> bool {
        self.with(|q| q.failed)
    }

    /// Stop, release everything and wait for the thread.
    pub(super) fn finish(&mut self) {
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

impl Player {
    /// Queue answer `index`'s notes (times in seconds after `base`) on `channel`, in time order
    /// with offs before ons at one time, so that a repeated pitch sounds again.
    pub(super) fn schedule(&self, base: Instant, index: usize, channel: u8, notes: &[Played]) {
        let at = |t: f64| base + Duration::from_secs_f64(t.max(0.0));
        let mut events: Vec<Timed> = Vec::with_capacity(notes.len() * 2);
        for n in notes {
            events.push(Timed {
                at: at(n.start),
                answer: index,
                bytes: note_on(channel, n.pitch, n.velocity),
            });
            events.push(Timed { at: at(n.end), answer: index, bytes: note_off(channel, n.pitch) });
        }
        self.with(|q| {
            q.events.extend(events);
            q.events.make_contiguous().sort_by_key(|e| (e.at, e.bytes[0] & 0xf0 == 0x90));
        });
    }

    /// Cancel every answer up to `index`: their queued messages are dropped and their sounding
    /// notes released.
    pub(super) fn cancel_through(&self, index: usize) {
        self.with(|q| q.cancel_below = q.cancel_below.max(index + 1));
    }
}

#[cfg(test)]
pub(super) mod testing {
    //! A sink that records what it is sent, and checks on what it recorded.

    use std::sync::mpsc::Sender;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use super::super::listener::Incoming;
    use super::Sink;

    pub type Log = Arc<Mutex<Vec<(Instant, [u8; 3])>>>;

    pub struct Recorder(pub Log);

    impl Sink for Recorder {
        fn send(&mut self, bytes: &[u8]) -> bool {
            let mut m = [0u8; 3];
            m[..bytes.len().min(3)].copy_from_slice(&bytes[..bytes.len().min(3)]);
            self.0.lock().unwrap().push((Instant::now(), m));
            true
        }
    }

    pub fn key(tx: &Sender<Incoming>, bytes: &[u8]) {
        tx.send(Incoming::Midi { at: Instant::now(), bytes: bytes.to_vec() }).unwrap();
    }

    pub fn offs_follow_ons(log: &[(Instant, [u8; 3])]) {
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
}
