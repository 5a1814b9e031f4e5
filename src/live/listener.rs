//! What a live session hears: stamped MIDI from the input port ([`Incoming`]) into the keys
//! held, the notes played (with the session's own notes as they sound) and the onsets of the
//! phrase under way, on the session's clock (seconds from its start). Both ways of playing
//! along, answering ([`super::session`]) and accompanying ([`super::accompany`]), listen
//! through it.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::answer::Played;
use super::input::{Message, Parser};
use crate::error::{Error, Result};

/// What an input port hands the session.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// MIDI bytes and when they arrived.
    Midi { at: Instant, bytes: Vec<u8> },
    /// The port (or its server) went away.
    Closed(String),
}

/// History older than this many seconds is forgotten.
const MEMORY: f64 = 300.0;

/// How long one [`Listener::poll`] waits for input.
const POLL: Duration = Duration::from_millis(10);

/// The session's keys and notes.
pub(super) struct Listener {
    pub(super) base: Instant,
    parser: Parser,
    messages: Vec<Message>,
    /// (channel, pitch, velocity, start) of the keys held.
    held: Vec<(u8, u8, u8, f64)>,
    /// Everything that sounded (the player's notes and the session's notes as far as they
    /// played), oldest first.
    pub(super) history: Vec<Played>,
    /// The player's notes alone.
    keys: Vec<Played>,
    /// Onsets and notes of the phrase under way.
    pub(super) onsets: Vec<f64>,
    pub(super) phrase_notes: usize,
    /// When the last key went up (every key is up since).
    pub(super) released: Option<f64>,
}

impl Listener {
    pub(super) fn new() -> Listener {
        Listener {
            base: Instant::now(),
            parser: Parser::new(),
            messages: Vec::new(),
            held: Vec::new(),
            history: Vec::new(),
            keys: Vec::new(),
            onsets: Vec::new(),
            phrase_notes: 0,
            released: None,
        }
    }

    /// `at` in seconds of the session's clock.
    pub(super) fn seconds(&self, at: Instant) -> f64 {
        if at >= self.base {
            (at - self.base).as_secs_f64()
        } else {
            -(self.base - at).as_secs_f64()
        }
    }

    pub(super) fn now(&self) -> f64 {
        self.seconds(Instant::now())
    }

    /// Whether a key is held.
    pub(super) fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// Wait a little for input and take in what came: `before_key(self, t)` runs before each
    /// key press at `t` is taken in. A port that closed is an error naming why.
    pub(super) fn poll(
        &mut self,
        input: &Receiver<Incoming>,
        before_key: &mut dyn FnMut(&mut Listener, f64),
    ) -> Result<()> {
        match input.recv_timeout(POLL) {
            Ok(Incoming::Midi { at, bytes }) => {
                let t = self.seconds(at);
                let mut messages = std::mem::take(&mut self.messages);
                messages.clear();
                self.parser.feed(&bytes, &mut messages);
                for &m in &messages {
                    match m {
                        Message::NoteOn { channel, pitch, velocity } => {
                            before_key(self, t);
                            if let Some(i) = self.held_at(channel, pitch) {
                                self.release(i, t); // a key pressed twice: the first note ends
                            }
                            self.held.push((channel, pitch, velocity, t));
                            self.onsets.push(t);
                            self.released = None;
                        }
                        Message::NoteOff { channel, pitch } => {
                            if let Some(i) = self.held_at(channel, pitch) {
                                self.release(i, t);
                            }
                        }
                        Message::AllOff { channel } => {
                            while let Some(i) = self.held.iter().position(|h| h.0 == channel) {
                                self.release(i, t);
                            }
                        }
                    }
                }
                self.messages = messages;
                Ok(())
            }
            Ok(Incoming::Closed(why)) => Err(Error::Live(why)),
            Err(RecvTimeoutError::Timeout) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => Err(Error::Live("the input port went away".into())),
        }
    }

    /// Where the key `pitch` of `channel` is among the keys held.
    fn held_at(&self, channel: u8, pitch: u8) -> Option<usize> {
        self.held.iter().position(|h| h.0 == channel && h.1 == pitch)
    }

    fn release(&mut self, idx: usize, t: f64) {
        let (_, pitch, velocity, start) = self.held.swap_remove(idx);
        let note = Played { pitch, velocity, start, end: t.max(start) };
        self.history.push(note);
        self.keys.push(note);
        self.phrase_notes += 1;
        if self.held.is_empty() {
            self.released = Some(t);
        }
    }

    /// The phrase under way is over (answered, or cut by a key during its answer).
    pub(super) fn end_phrase(&mut self) {
        self.onsets.clear();
        self.phrase_notes = 0;
    }

    /// Forget what ended more than [`MEMORY`] seconds before `now`.
    pub(super) fn forget(&mut self, now: f64) {
        self.history.retain(|n| n.end >= now - MEMORY);
        self.keys.retain(|n| n.end >= now - MEMORY);
        self.onsets.retain(|&t| t >= now - MEMORY);
    }

    /// The session up to `t`: the history and the keys held, as notes sounding until `t`.
    pub(super) fn heard_until(&self, t: f64) -> Vec<Played> {
        let mut notes = self.history.clone();
        notes.extend(self.held.iter().map(|&(_, pitch, velocity, start)| Played {
            pitch,
            velocity,
            start,
            end: t.max(start),
        }));
        notes
    }

    /// When the player last pressed a key.
    pub(super) fn last_onset(&self) -> Option<f64> {
        let held = self.held.iter().map(|h| h.3);
        self.keys.iter().map(|n| n.start).chain(held).reduce(f64::max)
    }

    /// The lowest pitch the player sounded at or after `t` (the keys held included).
    pub(super) fn lowest_since(&self, t: f64) -> Option<u8> {
        let held = self.held.iter().map(|h| h.1);
        self.keys.iter().filter(|n| n.end >= t).map(|n| n.pitch).chain(held).min()
    }
}
