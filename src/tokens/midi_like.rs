//! The `midi-like` scheme (Performance RNN / MidiTok "MIDI-like"): NOTE_ON, NOTE_OFF, SHIFT,
//! VELOCITY on change, instrument tokens on change. Its encoder, decoder and grammar guard.
//!
//! **Encoding.** The stream is `BOS`, then the events in time order, then `EOS`:
//!
//! - Time advances with `SHIFT_n` tokens; a gap longer than `max_shift_steps` is written as
//!   several shifts, the longest first (`SHIFT_48 SHIFT_48 SHIFT_4` for 100 steps).
//! - At one step, every NOTE_OFF comes before every NOTE_ON; NOTE_OFFs are ordered by
//!   (instrument, pitch), NOTE_ONs by (instrument, pitch, end), instruments being ordered
//!   programs 0..=127 then drums.
//! - With [`ProgramMode::Programs`](super::ProgramMode::Programs), `PROGRAM_p` or `DRUMS` comes
//!   before a NOTE_ON or NOTE_OFF whenever its instrument differs from the current one (so
//!   always before the first note event). With `MergePiano` there are no instrument tokens.
//! - `VELOCITY_b` comes (after any instrument token) right before a NOTE_ON whose velocity bin
//!   differs from the current one; the velocity state is global, not per instrument, and there
//!   is no current bin at the start, so the first NOTE_ON always has one.
//!
//! **Decoding** is a small state machine over (time in steps, current instrument, current
//! velocity bin, open notes). Its rules, which make it total:
//!
//! - `PAD` and `BOS` are skipped; everything after the first `EOS` is ignored. Ids past the end
//!   of the vocabulary are skipped (and counted as dropped).
//! - `SHIFT_n` advances time by `n` steps. `VELOCITY_b` sets the bin of the NOTE_ONs that follow
//!   (before any: the middle bin, `velocity_bins / 2`). `PROGRAM_p` / `DRUMS` set the instrument
//!   of the note events that follow (before any: program 0).
//! - `NOTE_ON_p` opens a note of the current instrument at the current time. `NOTE_OFF_p` closes
//!   the oldest open note of (current instrument, `p`) — FIFO — and is ignored (dropped) when
//!   there is none. A note closed at the step it was opened is made one step long.
//! - A note still open `max_note_steps` steps after its start is closed there: as soon as time
//!   moves past `start + max_note_steps` (a NOTE_OFF exactly at that step still closes it
//!   normally), and likewise for every note still open at the end of the sequence.
//!
//! **Guard** ([`Guard`]): see the rules in [`super::guard`].

use std::collections::{BTreeMap, VecDeque};

use super::constraint::{Cursor, Effect};
use super::decode::{canonical_bin, Decoded};
use super::grid::{GridNote, Part};
use super::guard::{keep_allowed, NoteRules};
use super::vocab::{Event, Vocab};
use super::{TokenId, TokenizerConfig, BOS, EOS};

/// One event of the stream before it becomes tokens.
#[derive(Debug, Clone, Copy)]
struct Timed {
    step: u64,
    /// 0 for NOTE_OFF, 1 for NOTE_ON: offs first at one step.
    on: u8,
    part: Part,
    pitch: u8,
    /// End step of the note (orders NOTE_ONs of one pitch; 0 for NOTE_OFFs).
    end: u64,
    bin: u8,
}

/// The NOTE_ON and NOTE_OFF events of canonical `notes` in stream order: by step, offs first,
/// then instrument, pitch and (for NOTE_ONs) end.
fn ordered_events(notes: &[GridNote]) -> Vec<Timed> {
    let timed = |n: &GridNote, on: bool| {
        if on {
            Timed { step: n.start, on: 1, part: n.part, pitch: n.pitch, end: n.end, bin: n.bin }
        } else {
            Timed { step: n.end, on: 0, part: n.part, pitch: n.pitch, end: 0, bin: 0 }
        }
    };
    // Fast path (every real piece): one u64 per event holding step, on/off, instrument, pitch
    // and the note's index. Canonical notes are sorted by (instrument, pitch, start, end), so
    // among NOTE_ONs equal in step, instrument and pitch the index orders them by end, as the
    // full key does; NOTE_OFFs equal in those are the same token whatever their order.
    if notes.len() < 1 << 16 && notes.iter().all(|n| n.end < 1 << 28) {
        let mut keys: Vec<u64> = Vec::with_capacity(notes.len() * 2);
        for (i, n) in notes.iter().enumerate() {
            let low = u64::from(n.part.code()) << 23 | u64::from(n.pitch & 0x7F) << 16 | i as u64;
            keys.push(n.start << 36 | 1 << 35 | low);
            keys.push(n.end << 36 | low);
        }
        keys.sort_unstable();
        return keys.iter().map(|&k| timed(&notes[(k & 0xFFFF) as usize], k >> 35 & 1 == 1)).collect();
    }
    let mut events: Vec<Timed> = notes.iter().flat_map(|n| [timed(n, true), timed(n, false)]).collect();
    // Keys are unique but for identical NOTE_OFFs, so an unstable sort gives one order.
    events.sort_unstable_by_key(|e| (e.step, e.on, e.part, e.pitch, e.end));
    events
}

/// `BOS` followed by the events of canonical `notes` that lie strictly before step `cut`.
pub(super) fn encode(config: &TokenizerConfig, vocab: &Vocab, notes: &[GridNote], cut: f64) -> Vec<TokenId> {
    let events = ordered_events(notes);
    let programs = config.programs == super::ProgramMode::Programs;
    let max_shift = u64::from(config.max_shift_steps.max(1));
    let mut out = Vec::with_capacity(events.len() * 2 + 2);
    out.push(BOS);
    let push = |out: &mut Vec<TokenId>, event: Event| {
        // Every event built here exists in the vocabulary; `None` would be a bug, not bad input.
        debug_assert!(vocab.id(event).is_some(), "{event:?} not in vocabulary");
        if let Some(id) = vocab.id(event) {
            out.push(id);
        }
    };

    let mut now = 0u64;
    let mut part: Option<Part> = None;
    let mut bin: Option<u8> = None;
    for e in events {
        if e.step as f64 >= cut {
            break;
        }
        for shift in super::time_shifts(e.step - now, max_shift) {
            push(&mut out, shift);
        }
        now = e.step;
        if programs && part != Some(e.part) {
            push(&mut out, e.part.event());
            part = Some(e.part);
        }
        if e.on == 1 {
            if bin != Some(e.bin) {
                push(&mut out, Event::Velocity(e.bin));
                bin = Some(e.bin);
            }
            push(&mut out, Event::NoteOn(e.pitch));
        } else {
            push(&mut out, Event::NoteOff(e.pitch));
        }
    }
    out
}

/// The canonical grid notes that `tokens` describe, and how many tokens were dropped.
pub(super) fn decode(config: &TokenizerConfig, vocab: &Vocab, tokens: &[TokenId]) -> Decoded {
    let max_len = u64::from(config.max_note_steps.max(1));
    let canonical_bin = |b: u8| canonical_bin(vocab, b);
    let mut dropped = 0usize;

    let mut now = 0u64;
    let mut part = Part::program(0);
    let mut bin = canonical_bin(config.velocity_bins / 2);
    let mut open: BTreeMap<(Part, u8), VecDeque<(u64, u8)>> = BTreeMap::new();
    let mut notes = Vec::new();

    for &token in tokens {
        if usize::from(token) >= vocab.len() {
            dropped += 1;
            continue;
        }
        match vocab.event(token) {
            Event::Pad | Event::Bos => {}
            Event::Key(_) | Event::Tempo(_) | Event::Density(_) | Event::Instrument(_) => {}
            Event::Eos => break,
            Event::TimeShift(s) => {
                now = now.saturating_add(u64::from(s));
                if !open.is_empty() {
                    // Close overdue notes; drop emptied queues so this scan stays short.
                    open.retain(|&(p, pitch), queue| {
                        while let Some(&(start, b)) = queue.front() {
                            let limit = start.saturating_add(max_len);
                            if limit >= now {
                                break;
                            }
                            queue.pop_front();
                            notes.push(GridNote { part: p, pitch, start, end: limit, bin: b });
                        }
                        !queue.is_empty()
                    });
                }
            }
            Event::Velocity(b) => bin = canonical_bin(b),
            e @ (Event::Program(..) | Event::Drums(_)) => part = Part::of_event(e).unwrap_or(part),
            Event::NoteOn(pitch) => open.entry((part, pitch)).or_default().push_back((now, bin)),
            Event::NoteOff(pitch) => match open.get_mut(&(part, pitch)) {
                Some(queue) => {
                    if let Some((start, b)) = queue.pop_front() {
                        let end = now.max(start.saturating_add(1));
                        notes.push(GridNote { part, pitch, start, end, bin: b });
                    }
                    if queue.is_empty() {
                        open.remove(&(part, pitch));
                    }
                }
                None => dropped += 1,
            },
            // Not in this scheme's vocabulary (`event` never yields them here).
            Event::Pitch(_) | Event::Duration(_) | Event::Bar | Event::Position(_) | Event::TimeSig(..) => {
                dropped += 1
            }
        }
    }
    for (&(p, pitch), queue) in &open {
        for &(start, b) in queue {
            notes.push(GridNote { part: p, pitch, start, end: start.saturating_add(max_len), bin: b });
        }
    }
    Decoded::new(notes, config.max_note_steps, dropped, Vec::new(), now)
}

/// What the guard's rules depend on at one step (computed once per draw, not per token).
struct Step {
    room: u64,
    full: bool,
    due_here: bool,
}

/// The `midi-like` grammar guard: the state of one sequence as the decoder will read it (time,
/// current instrument and the start times of the sounding notes).
#[derive(Debug, Clone)]
pub(super) struct Guard {
    rules: NoteRules,
    now: u64,
    part: Part,
    /// Start steps of the sounding notes of each (instrument, pitch), oldest first.
    open: BTreeMap<(Part, u8), VecDeque<u64>>,
    /// (instrument, pitch) of the notes started at the current step, sounding or not.
    here: Vec<(Part, u8)>,
    /// An EOS was read: nothing after it counts.
    ended: bool,
    /// The velocity bin (canonical) the next NOTE_ON takes, as the decoder keeps it.
    velocity: u8,
}

impl Guard {
    /// A guard at the start of a sequence.
    pub fn new(rules: NoteRules) -> Self {
        let velocity = canonical_bin(&rules.vocab, rules.config.velocity_bins / 2);
        Guard {
            rules,
            now: 0,
            part: Part::program(0),
            open: BTreeMap::new(),
            here: Vec::new(),
            ended: false,
            velocity,
        }
    }

    /// Where the sequence is, for the constraints.
    pub fn cursor(&self) -> Cursor {
        Cursor { now: self.now, part: self.part, velocity: Some(self.velocity), pending: None }
    }

    /// What `token` (a base token) would do, for the constraints.
    pub fn effect(&self, token: TokenId) -> Effect {
        match self.rules.vocab.event(token) {
            Event::TimeShift(s) => Effect::Time(self.now.saturating_add(u64::from(s))),
            e @ (Event::Program(..) | Event::Drums(_)) => {
                Part::of_event(e).map_or(Effect::Other, Effect::Part)
            }
            Event::Velocity(b) => Effect::RunningVelocity(canonical_bin(&self.rules.vocab, b)),
            Event::NoteOn(p) => Effect::NoteStart { pitch: p, bin: Some(self.velocity) },
            Event::NoteOff(p) => Effect::NoteOff(p),
            Event::Eos => Effect::End,
            _ => Effect::Other,
        }
    }

    /// Read one token (as the decoder would).
    pub fn push(&mut self, token: TokenId) {
        if self.ended {
            return;
        }
        let max = self.rules.max_note_steps;
        match self.rules.vocab.event(token) {
            Event::Velocity(b) => self.velocity = canonical_bin(&self.rules.vocab, b),
            Event::Pad | Event::Bos => {}
            Event::Pitch(_) | Event::Duration(_) | Event::Bar | Event::Position(_) | Event::TimeSig(..) => {}
            Event::Key(_) | Event::Tempo(_) | Event::Density(_) | Event::Instrument(_) => {}
            Event::Eos => self.ended = true,
            e @ (Event::Program(..) | Event::Drums(_)) => self.part = Part::of_event(e).unwrap_or(self.part),
            Event::NoteOn(p) => {
                self.open.entry((self.part, p)).or_default().push_back(self.now);
                self.here.push((self.part, p));
            }
            Event::NoteOff(p) => {
                if let Some(q) = self.open.get_mut(&(self.part, p)) {
                    q.pop_front();
                    if q.is_empty() {
                        self.open.remove(&(self.part, p));
                    }
                }
            }
            Event::TimeShift(s) => {
                self.now += u64::from(s);
                self.here.clear();
                let now = self.now;
                // The decoder closes overdue notes at their cap; forget them likewise.
                self.open.retain(|_, q| {
                    while q.front().is_some_and(|&start| start + max < now) {
                        q.pop_front();
                    }
                    !q.is_empty()
                });
            }
        }
    }

    /// Number of sounding notes.
    pub fn sounding(&self) -> usize {
        self.open.values().map(VecDeque::len).sum()
    }

    /// The longest TIME_SHIFT (in steps) that keeps every sounding note within the cap.
    fn shift_room(&self) -> u64 {
        let max = self.rules.max_note_steps;
        self.open
            .values()
            .filter_map(|q| q.front())
            .map(|&start| (start + max).saturating_sub(self.now))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// What the rules depend on at this step: shift room left, whether the polyphony limit is
    /// reached, whether the current instrument has a due note.
    fn step(&self) -> Step {
        let room = self.shift_room();
        let full = self.rules.max_polyphony.is_some_and(|m| self.sounding() >= m);
        let due_here =
            room == 0 && self.open.keys().any(|&(part, pitch)| part == self.part && self.due(part, pitch));
        Step { room, full, due_here }
    }

    /// Whether `token` may come next at `step` (see [`super::guard`]).
    fn allowed_at(&self, step: &Step, token: TokenId) -> bool {
        if step.room == 0 {
            self.closes_due(token, step.due_here)
        } else {
            self.allowed(self.rules.vocab.event(token), step.room, step.full)
        }
    }

    /// Whether the rules allow `token` next (see [`super::guard`]); a base token.
    pub fn allows(&self, token: TokenId) -> bool {
        self.ended || self.allowed_at(&self.step(), token)
    }

    /// Set to zero the probability of every token the rules forbid next (see
    /// [`super::guard`]).
    pub fn mask(&self, probs: &mut [f64]) {
        if self.ended {
            return;
        }
        let step = self.step();
        keep_allowed(probs, self.rules.vocab.len(), |t| self.allowed_at(&step, t));
    }

    /// Whether `event` may come next when no note is due (`room` > 0 steps of shift left;
    /// `full`: the polyphony limit is reached).
    fn allowed(&self, event: Event, room: u64, full: bool) -> bool {
        match event {
            Event::NoteOff(p) => {
                self.open.get(&(self.part, p)).and_then(|q| q.front()).is_some_and(|&start| start < self.now)
            }
            // A second NOTE_ON of a pitch at one step would be a duplicate the decoder merges.
            Event::NoteOn(p) => !full && !self.here.contains(&(self.part, p)),
            Event::TimeShift(s) => u64::from(s) <= room,
            Event::Pad | Event::Bos => false,
            // Control tokens are the note guard's to allow (only in the prefix).
            Event::Key(_) | Event::Tempo(_) | Event::Density(_) | Event::Instrument(_) => false,
            _ => true,
        }
    }

    /// Whether the oldest sounding note of (`part`, `pitch`) is at its cap now.
    fn due(&self, part: Part, pitch: u8) -> bool {
        self.open
            .get(&(part, pitch))
            .and_then(|q| q.front())
            .is_some_and(|&s| s + self.rules.max_note_steps <= self.now)
    }

    /// Whether `token` helps close a due note; `due_here`: the current instrument has one.
    fn closes_due(&self, token: TokenId, due_here: bool) -> bool {
        let due_in = |p: Part| self.open.keys().any(|&(part, pitch)| part == p && self.due(part, pitch));
        match self.rules.vocab.event(token) {
            Event::NoteOff(p) => self.due(self.part, p),
            e @ (Event::Program(..) | Event::Drums(_)) if !due_here => Part::of_event(e).is_some_and(due_in),
            _ => false,
        }
    }

    /// The tokens that end every sounding note now: for each instrument with sounding notes
    /// (in order), its PROGRAM/DRUMS token when it is not the current one, then one NOTE_OFF per
    /// sounding note. Empty when nothing sounds. After an EOS these are the notes sounding when
    /// it came, which [`Guard::close`] puts before it.
    pub fn closing(&self) -> Vec<TokenId> {
        let v = self.rules.vocab;
        let mut out = Vec::new();
        let mut part = self.part;
        // The current instrument first, so the common one-instrument case needs no switch.
        let order = self
            .open
            .iter()
            .filter(|((p, _), _)| *p == self.part)
            .chain(self.open.iter().filter(|((p, _), _)| *p != self.part));
        for (&(p, pitch), q) in order {
            if p != part {
                out.extend(v.id(p.event()));
                part = p;
            }
            if let Some(off) = v.id(Event::NoteOff(pitch)) {
                out.extend(std::iter::repeat_n(off, q.len()));
            }
        }
        out
    }

    /// Append [`Guard::closing`] to a finished sequence, before its EOS if it has one.
    pub fn close(&self, continuation: &mut Vec<TokenId>) {
        let eos = continuation.last() == Some(&EOS);
        if eos {
            continuation.pop();
        }
        continuation.extend(self.closing());
        if eos {
            continuation.push(EOS);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::midi::{Instrument, Note, Piece, TempoChange};
    use crate::tokens::{ProgramMode, TimeMode, Tokenizer, TokenizerConfig};

    use crate::tokens::testing::{names, split};

    fn inst(program: u8, is_drum: bool, notes: Vec<Note>) -> Instrument {
        Instrument { program, channel: if is_drum { 9 } else { 0 }, is_drum, name: String::new(), notes }
    }

    fn note(pitch: u8, start: u64, end: u64, velocity: u8) -> Note {
        Note { start, end, pitch, velocity }
    }

    fn default_tok() -> Tokenizer {
        Tokenizer::new(TokenizerConfig::default()).expect("valid config")
    }

    #[test]
    fn c_major_scale_in_quarter_notes() {
        // 480 ticks per beat, 12 steps per beat: a quarter note is 12 steps.
        // velocity 80 → bin floor(79 * 32 / 127) = floor(19.9) = 19.
        let pitches = [60u8, 62, 64, 65, 67, 69, 71, 72];
        let mut p = Piece::new(480);
        let notes =
            pitches.iter().enumerate().map(|(i, &k)| note(k, i as u64 * 480, (i as u64 + 1) * 480, 80));
        p.instruments.push(inst(0, false, notes.collect()));
        let t = default_tok();
        let expected = split(
            "BOS PROGRAM_0 VELOCITY_19 NOTE_ON_60 SHIFT_12 NOTE_OFF_60 NOTE_ON_62 SHIFT_12 NOTE_OFF_62 \
             NOTE_ON_64 SHIFT_12 NOTE_OFF_64 NOTE_ON_65 SHIFT_12 NOTE_OFF_65 NOTE_ON_67 SHIFT_12 \
             NOTE_OFF_67 NOTE_ON_69 SHIFT_12 NOTE_OFF_69 NOTE_ON_71 SHIFT_12 NOTE_OFF_71 NOTE_ON_72 \
             SHIFT_12 NOTE_OFF_72 EOS",
        );
        assert_eq!(names(&t, &t.encode(&p)), expected);
    }

    #[test]
    fn chord_with_staggered_releases() {
        // C-E-G struck together at velocity 100 (bin floor(99 * 32 / 127) = 24); G released
        // after a half note (960 ticks = 24 steps), C and E after a whole note (48 steps),
        // then a rest of 4 beats (48 steps) and C5 for one eighth (6 steps) at velocity 1 (bin 0).
        let mut p = Piece::new(480);
        p.instruments.push(inst(
            0,
            false,
            vec![
                note(64, 0, 1920, 100),
                note(60, 0, 1920, 100),
                note(67, 0, 960, 100),
                note(72, 3840, 4080, 1),
            ],
        ));
        let t = default_tok();
        let expected = split(
            "BOS PROGRAM_0 VELOCITY_24 NOTE_ON_60 NOTE_ON_64 NOTE_ON_67 SHIFT_24 NOTE_OFF_67 SHIFT_24 \
             NOTE_OFF_60 NOTE_OFF_64 SHIFT_48 VELOCITY_0 NOTE_ON_72 SHIFT_6 NOTE_OFF_72 EOS",
        );
        assert_eq!(names(&t, &t.encode(&p)), expected);
    }

    #[test]
    fn drums_and_piano_interleave_with_instrument_tokens() {
        // Piano C4 for a quarter; drum kit (program 5, ignored for drums) kick at 0 and snare
        // on the "and" (240 ticks = 6 steps), each 10 ticks long: round(10 * 12 / 480) = 0
        // steps, so each becomes one step long. All velocity 64 (bin floor(63*32/127) = 15).
        let mut p = Piece::new(480);
        p.instruments.push(inst(5, true, vec![note(36, 0, 10, 64), note(38, 240, 250, 64)]));
        p.instruments.push(inst(0, false, vec![note(60, 0, 480, 64)]));
        let t = default_tok();
        let expected = split(
            "BOS PROGRAM_0 VELOCITY_15 NOTE_ON_60 DRUMS NOTE_ON_36 SHIFT_1 NOTE_OFF_36 SHIFT_5 \
             NOTE_ON_38 SHIFT_1 NOTE_OFF_38 SHIFT_5 PROGRAM_0 NOTE_OFF_60 EOS",
        );
        assert_eq!(names(&t, &t.encode(&p)), expected);

        // One merged piano part: drums dropped, no instrument tokens.
        let merged =
            Tokenizer::new(TokenizerConfig { programs: ProgramMode::MergePiano, ..Default::default() })
                .expect("valid config");
        assert_eq!(
            names(&merged, &merged.encode(&p)),
            split("BOS VELOCITY_15 NOTE_ON_60 SHIFT_12 NOTE_OFF_60 EOS")
        );
    }

    #[test]
    fn velocity_tokens_only_on_change_and_long_gaps_split() {
        // Velocities 20, 20, 100, 127 → bins 4, 4, 24, 31 (floor((v-1)*32/127)).
        // Sixteenth notes (120 ticks = 3 steps) back to back, then a 100-step gap (4000 ticks).
        let mut p = Piece::new(480);
        p.instruments.push(inst(
            0,
            false,
            vec![
                note(60, 0, 120, 20),
                note(62, 120, 240, 20),
                note(64, 240, 360, 100),
                note(65, 4360, 4480, 127),
            ],
        ));
        let t = default_tok();
        let expected = split(
            "BOS PROGRAM_0 VELOCITY_4 NOTE_ON_60 SHIFT_3 NOTE_OFF_60 NOTE_ON_62 SHIFT_3 NOTE_OFF_62 \
             VELOCITY_24 NOTE_ON_64 SHIFT_3 NOTE_OFF_64 SHIFT_48 SHIFT_48 SHIFT_4 VELOCITY_31 NOTE_ON_65 \
             SHIFT_3 NOTE_OFF_65 EOS",
        );
        assert_eq!(names(&t, &t.encode(&p)), expected);
    }

    #[test]
    fn instruments_with_one_program_merge_and_order_by_program() {
        // Two tracks both program 40 (violin) and one program 0, all starting at step 0.
        let mut p = Piece::new(96);
        p.instruments.push(inst(40, false, vec![note(76, 0, 96, 64)]));
        p.instruments.push(inst(0, false, vec![note(48, 0, 48, 64)]));
        p.instruments.push(inst(40, false, vec![note(79, 48, 96, 64)]));
        let t = default_tok();
        let expected = split(
            "BOS PROGRAM_0 VELOCITY_15 NOTE_ON_48 PROGRAM_40 NOTE_ON_76 SHIFT_6 PROGRAM_0 NOTE_OFF_48 \
             PROGRAM_40 NOTE_ON_79 SHIFT_6 NOTE_OFF_76 NOTE_OFF_79 EOS",
        );
        assert_eq!(names(&t, &t.encode(&p)), expected);
    }

    #[test]
    fn overlapping_same_pitch_notes_and_out_of_range_pitches() {
        // Two overlapping C4s (0..24 and 12..36 steps) and an A0-below note (pitch 20, dropped).
        let mut p = Piece::new(12);
        p.instruments.push(inst(
            0,
            false,
            vec![note(60, 0, 24, 64), note(60, 12, 36, 64), note(20, 0, 5, 64)],
        ));
        let t = default_tok();
        let expected = split(
            "BOS PROGRAM_0 VELOCITY_15 NOTE_ON_60 SHIFT_12 NOTE_ON_60 SHIFT_12 NOTE_OFF_60 SHIFT_12 \
             NOTE_OFF_60 EOS",
        );
        assert_eq!(names(&t, &t.encode(&p)), expected);
    }

    #[test]
    fn seconds_grid_follows_the_tempo_map() {
        // 100 ticks per beat; 60 bpm for the first 2 beats, then 120 bpm. A note from beat 1
        // (1 s) to beat 3 (2 s + 0.5 s = 2.5 s): 10 ms steps → 100..250, a shift of 100 then
        // SHIFT_100 SHIFT_50 (performance_rnn: max shift 100, merged piano, 32 bins).
        let mut p = Piece::new(100);
        p.tempos = vec![
            TempoChange { tick: 0, micros_per_beat: 1_000_000 },
            TempoChange { tick: 200, micros_per_beat: 500_000 },
        ];
        p.instruments.push(inst(0, false, vec![note(60, 100, 300, 64)]));
        let t = Tokenizer::new(TokenizerConfig::performance_rnn()).expect("valid config");
        assert_eq!(
            names(&t, &t.encode(&p)),
            split("BOS SHIFT_100 VELOCITY_15 NOTE_ON_60 SHIFT_100 SHIFT_50 NOTE_OFF_60 EOS")
        );
        // A 5 ms step: the same note spans 200..500 steps (with notes up to 1000 steps long;
        // the default 192 would cut it, as the last check shows).
        let cfg = TokenizerConfig {
            time: TimeMode::Seconds { step_ms: 5 },
            max_shift_steps: 200,
            max_note_steps: 1000,
            ..Default::default()
        };
        let t = Tokenizer::new(cfg).expect("valid config");
        assert_eq!(
            names(&t, &t.encode(&p)),
            split("BOS SHIFT_200 PROGRAM_0 VELOCITY_15 NOTE_ON_60 SHIFT_200 SHIFT_100 NOTE_OFF_60 EOS")
        );
        let t = Tokenizer::new(TokenizerConfig { max_note_steps: 192, ..cfg }).expect("valid config");
        assert_eq!(
            names(&t, &t.encode(&p)),
            split("BOS SHIFT_200 PROGRAM_0 VELOCITY_15 NOTE_ON_60 SHIFT_192 NOTE_OFF_60 EOS")
        );
    }

    #[test]
    fn prefix_cuts_at_beats_or_seconds_and_leaves_notes_open() {
        // Quarter notes C D E F at 480 tpb, 120 bpm: beat i starts at i * 0.5 s.
        let mut p = Piece::new(480);
        let notes = [60u8, 62, 64, 65]
            .iter()
            .enumerate()
            .map(|(i, &k)| note(k, i as u64 * 480, (i as u64 + 1) * 480, 80));
        p.instruments.push(inst(0, false, notes.collect()));
        let t = default_tok();
        let two_beats = split("BOS PROGRAM_0 VELOCITY_19 NOTE_ON_60 SHIFT_12 NOTE_OFF_60 NOTE_ON_62");
        assert_eq!(names(&t, &t.encode_prefix(&p, Some(2.0), None)), two_beats);
        assert_eq!(names(&t, &t.encode_prefix(&p, None, Some(1.0))), two_beats);
        // The earlier cut wins; a cut just after a beat includes that beat's events.
        assert_eq!(names(&t, &t.encode_prefix(&p, Some(5.0), Some(1.0))), two_beats);
        let just_after = t.encode_prefix(&p, Some(2.01), None);
        assert_eq!(names(&t, &just_after)[7..], split("SHIFT_12 NOTE_OFF_62 NOTE_ON_64"));
        assert_eq!(t.encode_prefix(&p, Some(0.0), None), vec![crate::tokens::BOS]);
        let full = t.encode(&p);
        assert_eq!(t.encode_prefix(&p, None, None), full[..full.len() - 1].to_vec());
        assert_eq!(t.encode_prefix(&p, Some(f64::INFINITY), None), full[..full.len() - 1].to_vec());
        assert_eq!(t.encode_prefix(&p, Some(f64::NAN), Some(-3.0)), vec![crate::tokens::BOS]);
        // Seconds grid, cut given in beats: 1.5 beats at 120 bpm = 0.75 s = step 75 of 10 ms,
        // after the NOTE_ON at step 50 (C at 0..50, D at 50..100).
        let secs = Tokenizer::new(TokenizerConfig::performance_rnn()).expect("valid config");
        assert_eq!(
            names(&secs, &secs.encode_prefix(&p, Some(1.5), None)),
            split("BOS VELOCITY_19 NOTE_ON_60 SHIFT_50 NOTE_OFF_60 NOTE_ON_62")
        );
        let full = secs.encode(&p);
        assert_eq!(secs.encode_prefix(&p, Some(f64::INFINITY), None), full[..full.len() - 1].to_vec());
    }
}
