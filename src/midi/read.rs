//! Standard MIDI File → [`Piece`].
//!
//! `midly` parses the header and the events; this module walks the chunks itself so that a
//! damaged file fails with one clear [`Error::InvalidMidi`] instead of being read half-way in
//! silence, and turns events into notes. The rules:
//!
//! - **Formats.** 0 and 1 are read alike (all tracks share one time line). Format 2 tracks are
//!   independent sequences, read one after the other: each track starts where the previous one
//!   ended (its End of Track tick), tempo and signature events included.
//! - **Timing.** Metrical timing keeps its ticks per beat (0 is an error). SMPTE timing
//!   (`fps`, `ticks_per_frame`) becomes `ticks_per_beat = fps * ticks_per_frame` with a single
//!   tempo of one beat per second (1.001 s for 29.97 fps, counted as 30 frames), so seconds stay
//!   exact; tempo events in SMPTE files are ignored.
//! - **Notes.** Note-on with velocity 0 is a note-off. A note-off closes the oldest open note of
//!   its pitch and channel in its track (first in, first out). A note turned on and off at the
//!   same tick is kept, one tick long. Notes never turned off end at the end of their track (at
//!   least one tick after they start).
//! - **Instruments.** Notes are grouped by (track, channel, program at note-on); a program change
//!   starts a new instrument for the notes after it. Programs are tracked per track and channel,
//!   starting at 0. Channel 10 (index 9) is the drum kit: one instrument per track, program 0.
//!   The first track-name event names every instrument of its track (cut to 256 bytes).
//!   Instruments are ordered by their first note-on and those without notes are dropped.
//! - **Conductor.** Tempo, time-signature and key-signature events from all tracks are merged by
//!   tick (on one tick the last one wins) and repeats of the previous value are dropped. Tempo 0,
//!   time signatures with numerator 0 or a denominator above 128, and key signatures outside
//!   -7..=7 sharps are skipped.
//! - **Sustain** ([`ReadOptions::apply_sustain`]): see [`super::sustain`]; applied per track and
//!   channel.
//! - **Damaged files.** Anything that is not a MIDI header, a header with 0 ticks per beat or 0
//!   SMPTE ticks per frame, and a malformed or truncated event are errors. A track chunk whose
//!   length runs past the end of the file is read up to its End of Track event (an error if the
//!   events are cut off before it) and chunk reading resumes after that event. Unknown chunks
//!   are skipped, the header's track count is ignored (the tracks present are read) and events
//!   after End of Track are ignored. Running status after a meta or sysex event (which the
//!   spec says cancel it) continues the track's last channel status, as mido and most players
//!   read it. Memory is bounded: at most [`MAX_NOTES`] notes and [`MAX_CONTROL_EVENTS`] stored
//!   tempo/signature/pedal events per file, and a note may not start later than
//!   [`MAX_START_BEATS`] beats or [`MAX_START_SECONDS`] (24 hours) into the piece, since token
//!   sequences grow with a piece's length while one 4-byte delta time can stand for 2^28 ticks.

use std::collections::HashMap;
use std::path::Path;

use midly::{MetaMessage, MidiMessage, Timing, TrackEventKind};

use super::piece::{Instrument, KeySignature, Note, Piece, TempoChange, TimeSignature, DRUM_CHANNEL};
use super::sustain::{self, Pedal, Sustainable};
use super::tempo::TempoMap;
use crate::error::{Error, EventProblem, MidiProblem, Result};

/// Most notes one file may hold; more is an error ("too many notes").
pub const MAX_NOTES: usize = 5_000_000;
/// Most tempo, signature and sustain-pedal events one file may store; more is an error.
pub const MAX_CONTROL_EVENTS: usize = 5_000_000;
/// Latest beat (quarter note) a note may start on; later is an error ("too far into the piece").
/// Token sequences grow with the length of a piece, not with the size of its file: without a
/// limit, one 4-byte delta time could stand for 2^28 beats of silence.
pub const MAX_START_BEATS: u64 = 1 << 20;
/// Latest time in seconds (24 hours, through the tempo map) a note may start at.
pub const MAX_START_SECONDS: f64 = 24.0 * 3600.0;
/// Longest track name kept, in bytes; longer names are cut.
const MAX_NAME_BYTES: usize = 256;

/// Options for reading MIDI files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Extend notes held by the sustain pedal (CC64 >= 64) until the pedal is released.
    pub apply_sustain: bool,
}

/// Read and parse the MIDI file at `path`.
pub fn read_file(path: &Path, opts: &ReadOptions) -> Result<Piece> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    read_bytes(&bytes, path, opts)
}

/// Parse MIDI `bytes`; `path` only names the source in errors.
pub fn read_bytes(bytes: &[u8], path: &Path, opts: &ReadOptions) -> Result<Piece> {
    read_with_limits(bytes, path, opts, MAX_NOTES)
}

/// [`read_bytes`] with a chosen note cap (tests use a small one).
fn read_with_limits(bytes: &[u8], path: &Path, opts: &ReadOptions, max_notes: usize) -> Result<Piece> {
    let fail = |problem: MidiProblem| Error::invalid_midi(path, problem);
    if header_division(bytes).is_some_and(|division| division[0] == 0x80) {
        // midly negates this byte as an i8, which overflows (a panic with overflow checks on).
        return Err(fail(MidiProblem::SmpteFrameRate));
    }
    let (header, tracks) = midly::parse(bytes).map_err(|e| fail(MidiProblem::Parse(midly_reason(&e))))?;
    let (ticks_per_beat, smpte_tempo) = match header.timing {
        Timing::Metrical(t) => match t.as_int() {
            0 => return Err(fail(MidiProblem::ZeroTicksPerBeat)),
            t => (t, None),
        },
        Timing::Timecode(fps, ticks_per_frame) => {
            if ticks_per_frame == 0 {
                return Err(fail(MidiProblem::ZeroTicksPerFrame));
            }
            // 29.97 fps counts 30 frames per 1.001 s.
            let (frames, micros) = match fps {
                midly::Fps::Fps29 => (30u32, 1_001_000),
                other => (u32::from(other.as_int()), 1_000_000),
            };
            let tpb = (frames * u32::from(ticks_per_frame)).clamp(1, u32::from(u16::MAX));
            (tpb as u16, Some(micros))
        }
    };
    let mut reader = Reader {
        opts: *opts,
        smpte: smpte_tempo.is_some(),
        sequential: header.format == midly::Format::Sequential,
        tempos: Vec::new(),
        time_signatures: Vec::new(),
        key_signatures: Vec::new(),
        instruments: Vec::new(),
        instrument_index: HashMap::new(),
        notes: 0,
        max_notes,
        control_events: 0,
        open: OpenNotes::default(),
    };
    reader.read_chunks(tracks.unread()).map_err(fail)?;

    let mut piece = Piece::new(ticks_per_beat);
    piece.tempos = match smpte_tempo {
        Some(micros) => vec![TempoChange { tick: 0, micros_per_beat: micros }],
        None => merge(reader.tempos, |t| t.tick, |t| t.micros_per_beat),
    };
    piece.time_signatures = merge(reader.time_signatures, |t| t.tick, |t| (t.numerator, t.denominator));
    piece.key_signatures = merge(reader.key_signatures, |k| k.tick, |k| (k.sharps, k.minor));
    piece.instruments = reader.instruments;
    piece.instruments.retain(|i| !i.notes.is_empty());
    piece.normalize();
    check_length(&piece).map_err(fail)?;
    Ok(piece)
}

/// Error unless every note starts within [`MAX_START_BEATS`] and [`MAX_START_SECONDS`].
fn check_length(piece: &Piece) -> std::result::Result<(), MidiProblem> {
    let Some(start) = piece.instruments.iter().filter_map(|i| i.notes.last()).map(|n| n.start).max() else {
        return Ok(());
    };
    let beats = start / u64::from(piece.ticks_per_beat.max(1));
    let seconds = TempoMap::new(piece).seconds_at(start);
    if beats > MAX_START_BEATS || seconds > MAX_START_SECONDS {
        return Err(MidiProblem::TooLong {
            tick: start,
            beat: beats,
            hours: seconds / 3600.0,
            max_beats: MAX_START_BEATS,
        });
    }
    Ok(())
}

/// The two division bytes of the header `midly::parse` will read, found as it finds them: in a
/// file starting with `MThd`, or in the `data` chunk of a RIFF `RMID` file; the first `MThd` or
/// `MTrk` chunk decides, other chunks are skipped, a length past the end takes the rest.
fn header_division(bytes: &[u8]) -> Option<[u8; 2]> {
    let mut raw = match bytes.get(..4)? {
        b"RIFF" => rmid_data(bytes)?,
        b"MThd" => bytes,
        _ => return None,
    };
    while raw.len() >= 8 {
        let len = u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]) as usize;
        let rest = &raw[8..];
        let data = &rest[..len.min(rest.len())];
        match &raw[..4] {
            b"MThd" => return data.get(4..6).map(|d| [d[0], d[1]]),
            b"MTrk" => return None,
            _ => raw = &rest[data.len()..],
        }
    }
    None
}

/// The `data` chunk of a RIFF `RMID` file, found as midly finds it (little-endian lengths cut at
/// the end of the file, odd lengths padded).
fn rmid_data(bytes: &[u8]) -> Option<&[u8]> {
    let riff_len = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?) as usize;
    let riff = &bytes[8..];
    let mut raw = riff[..riff_len.min(riff.len())].strip_prefix(b"RMID")?;
    while raw.len() >= 8 {
        let id = &raw[..4];
        let len = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]) as usize;
        let rest = &raw[8..];
        let data = &rest[..len.min(rest.len())];
        raw = &rest[data.len()..];
        if len % 2 == 1 && !raw.is_empty() {
            raw = &raw[1..];
        }
        if id == b"data" {
            return Some(data);
        }
    }
    None
}

/// midly's error and its causes on one line.
fn midly_reason(err: &midly::Error) -> String {
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    reason
}

/// Sort conductor events by tick (stable: on one tick the last one read wins) and drop events
/// whose value repeats the previous one.
fn merge<T: Copy, V: PartialEq>(
    mut events: Vec<T>,
    tick: impl Fn(&T) -> u64,
    value: impl Fn(&T) -> V,
) -> Vec<T> {
    events.sort_by_key(&tick);
    let mut out: Vec<T> = Vec::with_capacity(events.len());
    for e in events {
        if out.last().is_some_and(|last| tick(last) == tick(&e)) {
            out.pop();
        }
        if out.last().is_some_and(|last| value(last) == value(&e)) {
            continue;
        }
        out.push(e);
    }
    out
}

/// A note closed (or cut off) in the track being read.
#[derive(Debug, Clone, Copy)]
struct RawNote {
    channel: u8,
    note: Note,
    instrument: usize,
}

impl Sustainable for RawNote {
    fn pitch(&self) -> u8 {
        self.note.pitch
    }
    fn start(&self) -> u64 {
        self.note.start
    }
    fn end(&self) -> u64 {
        self.note.end
    }
    fn set_end(&mut self, end: u64) {
        self.note.end = end;
    }
}

/// A note-on still waiting for its note-off.
#[derive(Debug, Clone, Copy)]
struct OpenNote {
    /// `channel * 128 + pitch`.
    slot: u16,
    start: u64,
    velocity: u8,
    instrument: usize,
}

/// No arena entry.
const NONE: u32 = u32::MAX;

/// First-in-first-out queues of open notes for the 16 x 128 (channel, pitch) slots, as linked
/// lists through one arena in striking order: push and pop are O(1). The slot tables are made at
/// the first note-on of a file and reset slot by slot between tracks, so neither a file of many
/// tiny tracks nor a corpus of many small files pays for setting up 2,048 queues each time.
#[derive(Default)]
struct OpenNotes {
    /// Notes struck in the current track, with the arena index of the next open note of the
    /// same slot.
    arena: Vec<(OpenNote, u32)>,
    /// Whether each arena entry has been closed.
    closed: Vec<bool>,
    /// Per slot: arena index of the oldest and of the newest open note.
    head: Vec<u32>,
    tail: Vec<u32>,
    /// Slots used in the current track.
    touched: Vec<u16>,
}

impl OpenNotes {
    fn push(&mut self, note: OpenNote) {
        if self.head.is_empty() {
            self.head = vec![NONE; 16 * 128];
            self.tail = vec![NONE; 16 * 128];
        }
        let idx = self.arena.len() as u32;
        let slot = usize::from(note.slot);
        self.arena.push((note, NONE));
        self.closed.push(false);
        match self.tail[slot] {
            NONE => {
                self.head[slot] = idx;
                self.touched.push(note.slot);
            }
            t => self.arena[t as usize].1 = idx,
        }
        self.tail[slot] = idx;
    }

    /// Close and return the oldest open note of `slot`.
    fn pop(&mut self, slot: u16) -> Option<OpenNote> {
        let slot = usize::from(slot);
        let idx = *self.head.get(slot)?;
        if idx == NONE {
            return None;
        }
        let (note, next) = self.arena[idx as usize];
        self.head[slot] = next;
        if next == NONE {
            self.tail[slot] = NONE;
        }
        self.closed[idx as usize] = true;
        Some(note)
    }

    /// Empty every queue, returning the notes never closed in striking order.
    fn drain_still_open(&mut self) -> Vec<OpenNote> {
        for &slot in &self.touched {
            self.head[usize::from(slot)] = NONE;
            self.tail[usize::from(slot)] = NONE;
        }
        self.touched.clear();
        let open = self.arena.iter().zip(&self.closed).filter(|(_, &c)| !c).map(|((n, _), _)| *n).collect();
        self.arena.clear();
        self.closed.clear();
        open
    }
}

/// What [`Reader::read_track`] found.
struct TrackEnd {
    /// Bytes of the chunk body consumed, End of Track event included.
    consumed: usize,
    /// Absolute tick of the last event.
    tick: u64,
    /// Whether an End of Track event was seen.
    terminated: bool,
}

/// Accumulates a piece while walking the tracks of one file.
struct Reader {
    opts: ReadOptions,
    smpte: bool,
    sequential: bool,
    tempos: Vec<TempoChange>,
    time_signatures: Vec<TimeSignature>,
    key_signatures: Vec<KeySignature>,
    instruments: Vec<Instrument>,
    /// `(track, channel, program)` → index into `instruments` (program 0 for drums).
    instrument_index: HashMap<(usize, u8, u8), usize>,
    notes: usize,
    max_notes: usize,
    control_events: usize,
    /// Note-ons waiting for their note-off. Empty between tracks; kept across them so that a
    /// file of many tiny tracks does not set it up for each.
    open: OpenNotes,
}

impl Reader {
    /// Walk the chunks after the header, reading every track chunk.
    fn read_chunks(&mut self, raw: &[u8]) -> std::result::Result<(), MidiProblem> {
        let mut pos = 0usize;
        let mut track = 0usize;
        let mut base = 0u64;
        while raw.len() - pos >= 8 {
            let id = &raw[pos..pos + 4];
            let len = u32::from_be_bytes([raw[pos + 4], raw[pos + 5], raw[pos + 6], raw[pos + 7]]);
            let body_start = pos + 8;
            let available = raw.len() - body_start;
            let overrun = len as usize > available;
            let body = &raw[body_start..body_start + (len as usize).min(available)];
            if id == b"MTrk" {
                let end = self.read_track(body, track, base)?;
                if overrun && !end.terminated {
                    return Err(MidiProblem::ChunkOverrun { track, len, available });
                }
                if self.sequential {
                    base = end.tick;
                }
                track += 1;
                pos = body_start + if overrun { end.consumed } else { body.len() };
            } else if overrun {
                // An unknown (or repeated header) chunk running past the end: nothing more to read.
                break;
            } else {
                pos = body_start + body.len();
            }
        }
        Ok(())
    }

    /// The instrument for a note-on in `track` on `channel` under `program`.
    fn instrument(&mut self, track: usize, channel: u8, program: u8) -> usize {
        let is_drum = channel == DRUM_CHANNEL;
        let program = if is_drum { 0 } else { program };
        let next = self.instruments.len();
        let index = *self.instrument_index.entry((track, channel, program)).or_insert(next);
        if index == next {
            self.instruments.push(Instrument {
                program,
                channel,
                is_drum,
                name: String::new(),
                notes: Vec::new(),
            });
        }
        index
    }

    fn count_control_event(&mut self) -> std::result::Result<(), MidiProblem> {
        self.control_events += 1;
        if self.control_events > MAX_CONTROL_EVENTS {
            return Err(MidiProblem::TooManyControlEvents(MAX_CONTROL_EVENTS));
        }
        Ok(())
    }

    /// Read one track chunk body whose first event is at absolute tick `base`.
    fn read_track(
        &mut self,
        body: &[u8],
        track: usize,
        base: u64,
    ) -> std::result::Result<TrackEnd, MidiProblem> {
        let first_instrument = self.instruments.len();
        let mut events = midly::EventIter::new(body);
        let mut tick = base;
        let mut programs = [0u8; 16];
        // The instrument each channel's notes went to last, with the program it was for (saves
        // a hash lookup per note).
        let mut current: [Option<(u8, usize)>; 16] = [None; 16];
        let mut closed: Vec<RawNote> = Vec::new();
        let mut pedals: [Pedal; 16] = Default::default();
        let mut name: Option<String> = None;
        let mut terminated = false;
        // The last channel status of this track, and whether midly still runs on it (meta and
        // sysex events cancel running status for midly, as the spec says, but not for us).
        let mut running: Option<u8> = None;
        let mut midly_running = false;

        loop {
            let left = events.unread().len();
            if left == 0 {
                break;
            }
            let status = match check_framing(events.unread()) {
                Ok(status) => status,
                Err(problem) => {
                    let offset = body.len() - left;
                    return Err(MidiProblem::Event { track, offset, problem });
                }
            };
            match status {
                0x80..=0xEF => {
                    running = Some(status);
                    midly_running = true;
                }
                0xF0..=0xFF => midly_running = false,
                _ => {}
            }
            let next = match running {
                Some(rs) if status < 0x80 && !midly_running => {
                    // Running status after a meta or sysex event: read as mido, pretty_midi and
                    // most players do, with the last channel status of the track.
                    match running_status_event(events.unread(), rs) {
                        Ok((event, rest)) => {
                            events = midly::EventIter::new(rest);
                            Some(Ok(event))
                        }
                        Err(problem) => {
                            let offset = body.len() - left;
                            return Err(MidiProblem::Event { track, offset, problem });
                        }
                    }
                }
                _ => events.next(),
            };
            let event = match next {
                Some(Ok(event)) => event,
                Some(Err(e)) => {
                    let offset = body.len() - left;
                    let problem = EventProblem::Parse(midly_reason(&e));
                    return Err(MidiProblem::Event { track, offset, problem });
                }
                None => {
                    let offset = body.len() - left;
                    return Err(MidiProblem::Event { track, offset, problem: EventProblem::Unreadable });
                }
            };
            tick = tick.saturating_add(u64::from(event.delta.as_int()));
            match event.kind {
                TrackEventKind::Midi { channel, message } => {
                    let channel = channel.as_int();
                    match message {
                        MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                            self.notes += 1;
                            if self.notes > self.max_notes {
                                let max = self.max_notes;
                                return Err(MidiProblem::TooManyNotes(max));
                            }
                            let program = programs[usize::from(channel)];
                            let instrument = match current[usize::from(channel)] {
                                Some((p, i)) if p == program => i,
                                _ => {
                                    let i = self.instrument(track, channel, program);
                                    current[usize::from(channel)] = Some((program, i));
                                    i
                                }
                            };
                            self.open.push(OpenNote {
                                slot: u16::from(channel) * 128 + u16::from(key.as_int()),
                                start: tick,
                                velocity: vel.as_int(),
                                instrument,
                            });
                        }
                        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                            let slot = u16::from(channel) * 128 + u16::from(key.as_int());
                            if let Some(o) = self.open.pop(slot) {
                                closed.push(close(o, channel, key.as_int(), tick));
                            }
                        }
                        MidiMessage::ProgramChange { program } => {
                            programs[usize::from(channel)] = program.as_int();
                        }
                        MidiMessage::Controller { controller, value }
                            if controller.as_int() == 64 && self.opts.apply_sustain =>
                        {
                            let pedal = &mut pedals[usize::from(channel)];
                            let before = pedal.len();
                            pedal.event(tick, value.as_int());
                            if pedal.len() > before {
                                self.count_control_event()?;
                            }
                        }
                        _ => {}
                    }
                }
                TrackEventKind::Meta(meta) => match meta {
                    MetaMessage::EndOfTrack => {
                        terminated = true;
                        break;
                    }
                    MetaMessage::TrackName(bytes) if name.is_none() => {
                        name = Some(track_name(bytes));
                    }
                    MetaMessage::Tempo(micros) if !self.smpte && micros.as_int() > 0 => {
                        self.count_control_event()?;
                        self.tempos.push(TempoChange { tick, micros_per_beat: micros.as_int() });
                    }
                    MetaMessage::TimeSignature(numerator, denominator_log2, _, _)
                        if numerator > 0 && denominator_log2 <= 7 =>
                    {
                        self.count_control_event()?;
                        self.time_signatures.push(TimeSignature {
                            tick,
                            numerator,
                            denominator: 1 << denominator_log2,
                        });
                    }
                    MetaMessage::KeySignature(sharps, minor) if (-7..=7).contains(&sharps) => {
                        self.count_control_event()?;
                        self.key_signatures.push(KeySignature { tick, sharps, minor });
                    }
                    _ => {}
                },
                TrackEventKind::SysEx(_) | TrackEventKind::Escape(_) => {}
            }
        }

        // Close what was never turned off at the end of the track.
        for o in self.open.drain_still_open() {
            closed.push(close(o, (o.slot / 128) as u8, (o.slot % 128) as u8, tick));
        }
        if self.opts.apply_sustain {
            closed.sort_by_key(|n| n.channel);
            for (channel, pedal) in pedals.iter_mut().enumerate() {
                pedal.finish(tick);
                let from = closed.partition_point(|n| usize::from(n.channel) < channel);
                let to = closed.partition_point(|n| usize::from(n.channel) <= channel);
                sustain::apply(&mut closed[from..to], pedal);
            }
        }
        for n in closed {
            self.instruments[n.instrument].notes.push(n.note);
        }
        if let Some(name) = name {
            for inst in &mut self.instruments[first_instrument..] {
                inst.name.clone_from(&name);
            }
        }
        Ok(TrackEnd { consumed: body.len() - events.unread().len(), tick, terminated })
    }
}

/// A variable-length quantity read strictly: at most 4 bytes, all present.
fn strict_varlen(raw: &mut &[u8], field: &'static str) -> std::result::Result<u32, EventProblem> {
    let mut value = 0u32;
    for _ in 0..4 {
        let (&byte, rest) = raw.split_first().ok_or(EventProblem::TruncatedNumber { field })?;
        *raw = rest;
        value = (value << 7) | u32::from(byte & 0x7F);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(EventProblem::LongNumber { field })
}

/// Check the framing midly is lenient about for the event at the start of `raw`: a complete
/// delta time, and meta/sysex lengths that stay inside the track (midly would silently take
/// the rest of the track as the event's data).
fn check_framing(mut raw: &[u8]) -> std::result::Result<u8, EventProblem> {
    strict_varlen(&mut raw, "delta time")?;
    let (&status, mut rest) = raw.split_first().ok_or(EventProblem::Truncated("event"))?;
    let (what, field) = match status {
        0xFF => {
            let (_, after_type) = rest.split_first().ok_or(EventProblem::Truncated("meta event"))?;
            rest = after_type;
            ("meta event", "meta event length")
        }
        0xF0 | 0xF7 => ("sysex event", "sysex event length"),
        _ => return Ok(status),
    };
    let len = strict_varlen(&mut rest, field)?;
    if len as usize > rest.len() {
        return Err(EventProblem::LengthOverrun { what, len, left: rest.len() });
    }
    Ok(status)
}

/// The channel event at the start of `raw` (delta time, then data bytes without a status byte)
/// under running status `status`, and the bytes after it.
fn running_status_event(
    mut raw: &[u8],
    status: u8,
) -> std::result::Result<(midly::TrackEvent<'_>, &[u8]), EventProblem> {
    let delta = strict_varlen(&mut raw, "delta time")?;
    let len = if matches!(status & 0xF0, 0xC0 | 0xD0) { 1 } else { 2 };
    let data = raw.get(..len).ok_or(EventProblem::Truncated("midi message"))?;
    let message = [&[status][..], data].concat();
    match midly::live::LiveEvent::parse(&message) {
        Ok(midly::live::LiveEvent::Midi { channel, message }) => {
            let kind = TrackEventKind::Midi { channel, message };
            Ok((midly::TrackEvent { delta: delta.into(), kind }, &raw[len..]))
        }
        Ok(_) => Err(EventProblem::MalformedMessage),
        Err(e) => Err(EventProblem::Parse(midly_reason(&e))),
    }
}

/// A track name as text: invalid UTF-8 replaced, NULs and spaces trimmed, at most
/// [`MAX_NAME_BYTES`] bytes (the name is copied into every instrument of its track).
fn track_name(bytes: &[u8]) -> String {
    let mut cut = &bytes[..bytes.len().min(MAX_NAME_BYTES)];
    if cut.len() < bytes.len() {
        // Do not leave half a character at the cut.
        if let Err(e) = std::str::from_utf8(cut) {
            if e.error_len().is_none() {
                cut = &cut[..e.valid_up_to()];
            }
        }
    }
    let text = String::from_utf8_lossy(cut);
    text.trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_string()
}

/// The note `o` closed at `tick` (at least one tick long).
fn close(o: OpenNote, channel: u8, pitch: u8, tick: u64) -> RawNote {
    RawNote {
        channel,
        note: Note { start: o.start, end: tick.max(o.start.saturating_add(1)), pitch, velocity: o.velocity },
        instrument: o.instrument,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::TempoMap;

    use crate::midi::smf_bytes::{body, chunk, events, smf, smf_raw, vlq};

    fn read(bytes: &[u8]) -> Result<Piece> {
        read_bytes(bytes, Path::new("test.mid"), &ReadOptions::default())
    }

    fn read_ok(bytes: &[u8]) -> Piece {
        read(bytes).expect("valid file")
    }

    fn sustained(bytes: &[u8]) -> Piece {
        read_bytes(bytes, Path::new("test.mid"), &ReadOptions { apply_sustain: true }).unwrap()
    }

    fn n(start: u64, end: u64, pitch: u8, velocity: u8) -> Note {
        Note { start, end, pitch, velocity }
    }

    /// A single-line InvalidMidi error whose reason contains `needle`.
    fn assert_invalid(result: Result<Piece>, needle: &str) {
        match result {
            Err(Error::InvalidMidi { path, problem }) => {
                let reason = problem.to_string();
                assert_eq!(path, Path::new("test.mid"));
                assert!(reason.contains(needle), "reason {reason:?} lacks {needle:?}");
                assert!(!reason.contains('\n'));
            }
            other => panic!("expected InvalidMidi({needle}), got {other:?}"),
        }
    }

    // ---- notes ---------------------------------------------------------------------------------

    #[test]
    fn running_status_and_velocity_zero_note_off() {
        let t = body(
            &[
                (0, &[0x90, 60, 100]), // note-on 60
                (0, &[62, 90]),        // running status: note-on 62
                (96, &[60, 0]),        // running status, velocity 0: note-off 60
                (96, &[62, 0]),        // note-off 62
                (0, &[0x80, 64, 0]),   // stray note-off: ignored
            ],
            0,
        );
        let p = read_ok(&smf(0, 96, &[t]));
        assert_eq!(p.ticks_per_beat, 96);
        assert_eq!(p.instruments.len(), 1);
        let i = &p.instruments[0];
        assert_eq!((i.program, i.channel, i.is_drum), (0, 0, false));
        assert_eq!(i.notes, vec![n(0, 96, 60, 100), n(0, 192, 62, 90)]);
        assert!(p.tempos.is_empty() && p.time_signatures.is_empty());
    }

    #[test]
    fn overlapping_notes_of_one_pitch_close_first_in_first_out() {
        let t = body(
            &[
                (0, &[0x90, 60, 10]),  // A on at 0
                (10, &[0x90, 60, 20]), // B on at 10
                (10, &[0x80, 60, 0]),  // off at 20 closes A
                (10, &[0x80, 60, 0]),  // off at 30 closes B
                (0, &[0x90, 60, 30]),  // C on at 30
                (10, &[0x90, 60, 40]), // D on at 40 ...
                (0, &[0x80, 60, 0]),   // ... off at 40 closes C (older), not D
                (5, &[0x80, 60, 0]),   // off at 45 closes D
            ],
            0,
        );
        let p = read_ok(&smf(0, 480, &[t]));
        assert_eq!(
            p.instruments[0].notes,
            vec![n(0, 20, 60, 10), n(10, 30, 60, 20), n(30, 40, 60, 30), n(40, 45, 60, 40)]
        );
    }

    #[test]
    fn unterminated_and_zero_length_notes() {
        let t = body(
            &[
                (0, &[0x90, 60, 80]),  // 60 on at 0
                (10, &[0x90, 64, 81]), // 64 on at 10, never off
                (10, &[0x80, 60, 0]),  // 60 off at 20
                (30, &[0x90, 62, 82]), // 62 on at 50 ...
                (0, &[0x80, 62, 0]),   // ... and off at 50: kept one tick long
                (70, &[0x90, 67, 83]), // 67 on at 120, never off, track ends at 120
            ],
            0,
        );
        let p = read_ok(&smf(1, 480, &[t]));
        assert_eq!(
            p.instruments[0].notes,
            vec![n(0, 20, 60, 80), n(10, 120, 64, 81), n(50, 51, 62, 82), n(120, 121, 67, 83)]
        );
    }

    #[test]
    fn program_change_mid_track_starts_a_new_instrument() {
        let t = body(
            &[
                (0, &[0xC0, 5]),       // program 5
                (0, &[0x90, 60, 100]), // 60 under program 5
                (10, &[0xC0, 40]),     // program 40 while 60 still sounds
                (0, &[0x90, 62, 100]), // 62 under program 40
                (10, &[0x80, 60, 0]),  // 60 off at 20: stays with program 5
                (10, &[0x80, 62, 0]),  // 62 off at 30
                (0, &[0xC0, 5]),       // back to program 5: the same instrument again
                (0, &[0x90, 65, 70]),
                (10, &[0x80, 65, 0]),
                (0, &[0xC9, 3]), // program change on the drum channel: still drums
                (0, &[0x99, 36, 90]),
                (5, &[0x89, 36, 0]),
            ],
            0,
        );
        let p = read_ok(&smf(0, 480, &[t]));
        let summary: Vec<_> =
            p.instruments.iter().map(|i| (i.program, i.channel, i.is_drum, i.notes.clone())).collect();
        assert_eq!(
            summary,
            vec![
                (5, 0, false, vec![n(0, 20, 60, 100), n(30, 40, 65, 70)]),
                (40, 0, false, vec![n(10, 30, 62, 100)]),
                (0, 9, true, vec![n(40, 45, 36, 90)]),
            ]
        );
    }

    #[test]
    fn format_0_with_several_channels_and_a_track_name() {
        let t = body(
            &[
                (0, b"\xFF\x03\x05Piano"), // track name
                (0, &[0xC1, 33]),          // channel 1: program 33
                (0, &[0x91, 40, 50]),      // bass on channel 1 first
                (0, &[0x90, 72, 60]),      // channel 0, program 0
                (0, &[0x99, 42, 70]),      // drums
                (24, &[0x89, 42, 0]),
                (24, &[0x80, 72, 0]),
                (48, &[0x81, 40, 0]),
            ],
            0,
        );
        let p = read_ok(&smf(0, 96, &[t]));
        let summary: Vec<_> = p
            .instruments
            .iter()
            .map(|i| (i.name.as_str(), i.program, i.channel, i.is_drum, i.notes.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("Piano", 33, 1, false, vec![n(0, 96, 40, 50)]),
                ("Piano", 0, 0, false, vec![n(0, 48, 72, 60)]),
                ("Piano", 0, 9, true, vec![n(0, 24, 42, 70)]),
            ]
        );
    }

    #[test]
    fn format_1_tracks_keep_names_and_merge_the_conductor_data() {
        let conductor = body(
            &[
                (0, b"\xFF\x51\x03\x07\xA1\x20"),       // tempo 500000 at 0
                (0, b"\xFF\x58\x04\x03\x02\x18\x08"),   // 3/4 at 0
                (0, b"\xFF\x59\x02\xFD\x01"),           // 3 flats, minor at 0
                (100, b"\xFF\x51\x03\x07\xA1\x20"),     // 500000 again at 100: dropped
                (100, b"\xFF\x51\x03\x06\x1A\x80"),     // 400000 at 200 (overridden below)
                (0, b"\xFF\x58\x04\x03\x02\x18\x08"),   // 3/4 again: dropped
                (100, b"\xFF\x58\x04\x06\x03\x18\x08"), // 6/8 at 300
            ],
            0,
        );
        let melody = body(
            &[
                (0, b"\xFF\x03\x07Violin\x00"), // name with a trailing NUL
                (0, &[0xC2, 40]),
                (0, &[0x92, 76, 64]),
                (200, b"\xFF\x51\x03\x04\x93\xE0"), // 300000 at 200: the later one on that tick wins
                (0, &[0x82, 76, 0]),
            ],
            0,
        );
        let p = read_ok(&smf(1, 480, &[conductor, melody]));
        assert_eq!(
            p.tempos,
            vec![
                TempoChange { tick: 0, micros_per_beat: 500_000 },
                TempoChange { tick: 200, micros_per_beat: 300_000 },
            ]
        );
        assert_eq!(
            p.time_signatures,
            vec![
                TimeSignature { tick: 0, numerator: 3, denominator: 4 },
                TimeSignature { tick: 300, numerator: 6, denominator: 8 },
            ]
        );
        assert_eq!(p.key_signatures, vec![KeySignature { tick: 0, sharps: -3, minor: true }]);
        assert_eq!(p.instruments.len(), 1);
        assert_eq!(p.instruments[0].name, "Violin");
        assert_eq!(p.instruments[0].program, 40);
        assert_eq!(p.instruments[0].notes, vec![n(0, 200, 76, 64)]);
    }

    #[test]
    fn format_2_tracks_play_one_after_the_other() {
        let a = body(&[(0, &[0x90, 60, 100]), (96, &[0x80, 60, 0])], 96); // ends at 192
        let b = body(&[(10, &[0x90, 62, 100]), (48, &[0x80, 62, 0])], 0); // starts at 192
        let p = read_ok(&smf(2, 96, &[a, b]));
        let notes: Vec<_> = p.instruments.iter().map(|i| i.notes.clone()).collect();
        assert_eq!(notes, vec![vec![n(0, 96, 60, 100)], vec![n(202, 250, 62, 100)]]);
    }

    #[test]
    fn smpte_timing_gives_one_beat_per_second() {
        // 25 fps, 40 ticks per frame: 1000 ticks per second. The tempo event is ignored.
        let t = body(&[(0, b"\xFF\x51\x03\x07\xA1\x20"), (1000, &[0x90, 60, 100]), (500, &[0x80, 60, 0])], 0);
        let p = read_ok(&smf_raw(0, 1, [0xE7, 40], &[t]));
        assert_eq!(p.ticks_per_beat, 1000);
        assert_eq!(p.tempos, vec![TempoChange { tick: 0, micros_per_beat: 1_000_000 }]);
        assert_eq!(p.instruments[0].notes, vec![n(1000, 1500, 60, 100)]);
        let map = TempoMap::new(&p);
        assert!((map.seconds_at(1000) - 1.0).abs() < 1e-12);
        assert!((map.seconds_at(1500) - 1.5).abs() < 1e-12);

        // 29.97 fps, 10 ticks per frame: 299.7 ticks per second.
        let t = body(&[(0, &[0x90, 60, 100]), (3000, &[0x80, 60, 0])], 0);
        let p = read_ok(&smf_raw(0, 1, [0xE3, 10], &[t]));
        assert_eq!(p.ticks_per_beat, 300);
        assert_eq!(p.tempos, vec![TempoChange { tick: 0, micros_per_beat: 1_001_000 }]);
        // 3000 ticks = 300 frames = 10 * 1.001 s.
        assert!((TempoMap::new(&p).seconds_at(3000) - 10.01).abs() < 1e-9);
    }

    #[test]
    fn sustain_pedal_extends_released_notes() {
        let t = body(
            &[
                (0, &[0x90, 60, 100]), // 60 on at 0
                (5, &[0xB0, 64, 127]), // pedal down at 5
                (0, &[0xB1, 64, 127]), // pedal on another channel: irrelevant here
                (5, &[0x80, 60, 0]),   // 60 released at 10 under the pedal
                (10, &[0x90, 62, 90]), // 62 on at 20
                (10, &[0x80, 62, 0]),  // released at 30 under the pedal
                (10, &[0x90, 60, 80]), // 60 struck again at 40: the first 60 ends here
                (10, &[0x80, 60, 0]),  // released at 50 under the pedal
                (50, &[0xB0, 64, 0]),  // pedal up at 100: 62 and the second 60 end here
                (10, &[0x90, 64, 70]), // 64 at 110..120, no pedal
                (10, &[0x80, 64, 0]),
                (0, &[0x91, 48, 60]), // channel 1: pedal down since 5, never up
                (10, &[0x81, 48, 0]), // released at 130: lasts to the end of the track (200)
            ],
            70,
        );
        let file = smf(0, 480, &[t]);
        let plain = read_ok(&file);
        assert_eq!(
            plain.instruments[0].notes,
            vec![n(0, 10, 60, 100), n(20, 30, 62, 90), n(40, 50, 60, 80), n(110, 120, 64, 70)]
        );
        assert_eq!(plain.instruments[1].notes, vec![n(120, 130, 48, 60)]);
        let held = sustained(&file);
        assert_eq!(
            held.instruments[0].notes,
            vec![n(0, 40, 60, 100), n(20, 100, 62, 90), n(40, 100, 60, 80), n(110, 120, 64, 70)]
        );
        assert_eq!(held.instruments[1].notes, vec![n(120, 200, 48, 60)]);
    }

    #[test]
    fn delta_times_near_the_28_bit_limit_add_up_in_u64() {
        const MAX: u32 = 0x0FFF_FFFF;
        let t = body(&[(MAX, &[0x90, 60, 100]), (MAX, &[0x80, 60, 0]), (MAX, &[0x90, 61, 1])], MAX);
        // At 32767 ticks per beat the last note starts on beat 24 576, within MAX_START_BEATS.
        let p = read_ok(&smf(1, 0x7FFF, &[t]));
        let m = u64::from(MAX);
        assert_eq!(p.instruments[0].notes, vec![n(m, 2 * m, 60, 100), n(3 * m, 4 * m, 61, 1)]);
    }

    #[test]
    fn a_hundred_thousand_simultaneous_notes() {
        // 100 000 note-ons at tick 0 over 16 channels and all pitches, none turned off.
        let mut evs = Vec::new();
        for i in 0..100_000u32 {
            let channel = (i % 16) as u8;
            let pitch = ((i / 16) % 128) as u8;
            evs.extend_from_slice(&[0, 0x90 | channel, pitch, 1 + (i % 127) as u8]);
        }
        evs.extend_from_slice(&[0x81, 0x00, 0xFF, 0x2F, 0x00]); // End of Track at tick 128
        let p = read_ok(&smf(0, 96, &[evs]));
        assert_eq!(p.note_count(), 100_000);
        assert!(p.instruments.iter().all(|i| i.notes.iter().all(|n| n.start == 0 && n.end == 128)));
    }

    #[test]
    fn too_many_notes_is_an_error() {
        let t = body(&[(0, &[0x90, 60, 1]), (0, &[61, 1]), (0, &[62, 1]), (0, &[63, 1])], 0);
        let file = smf(0, 96, &[t]);
        let opts = ReadOptions::default();
        assert!(read_with_limits(&file, Path::new("test.mid"), &opts, 4).is_ok());
        assert_invalid(read_with_limits(&file, Path::new("test.mid"), &opts, 3), "too many notes");
    }

    // ---- damaged and hostile files -------------------------------------------------------------

    fn sample_file() -> Vec<u8> {
        let conductor = body(&[(0, b"\xFF\x51\x03\x07\xA1\x20")], 0);
        let t = body(
            &[(0, b"\xFF\x03\x01A"), (0, &[0x90, 60, 100]), (96, &[0x80, 60, 0]), (0, &[0x90, 62, 90])],
            96,
        );
        smf(1, 96, &[conductor, t])
    }

    #[test]
    fn truncated_files_fail_cleanly() {
        let file = sample_file();
        assert_eq!(read_ok(&file).instruments[0].notes, vec![n(0, 96, 60, 100), n(96, 192, 62, 90)]);
        // Cut in the middle of the note track's events (the last chunk runs past the end of the
        // file and has lost its End of Track).
        for cut in 2..=5 {
            assert_invalid(read(&file[..file.len() - cut]), "track 1");
        }
        // Cut inside the header.
        assert_invalid(read(&file[..10]), "invalid midi");
        assert_invalid(read(&file[..3]), "not a midi file");
        // Every prefix either reads or fails with InvalidMidi; none panics.
        for len in 0..file.len() {
            match read(&file[..len]) {
                Ok(_) | Err(Error::InvalidMidi { .. }) => {}
                Err(e) => panic!("prefix {len}: unexpected error {e}"),
            }
        }
    }

    #[test]
    fn malformed_event_is_an_error() {
        // A data byte with no running status.
        let t = body(&[(0, &[60, 100])], 0);
        assert_invalid(read(&smf(0, 96, &[t])), "track 0");
        // A meta event claiming 256 MB of text.
        let t = body(&[(0, &[0xFF, 0x01, 0xFF, 0xFF, 0xFF, 0x7F, b'x'])], 0);
        assert_invalid(read(&smf(0, 96, &[t])), "meta event length 268435455 runs past");
        // A sysex claiming more bytes than the track holds.
        let t = body(&[(0, &[0xF0, 0x85, 0x00, 1, 2, 3, 0xF7])], 0);
        assert_invalid(read(&smf(0, 96, &[t])), "sysex event length 640");
        // A delta time that never ends.
        let t = events(&[(0, &[0x90, 60, 100]), (0, &[0x80, 60, 0])]);
        let t = [t, vec![0xFF, 0xFF, 0xFF, 0xFF, 0x7F]].concat();
        assert_invalid(read(&smf(0, 96, &[t])), "longer than 4 bytes");
        // A system common message (not allowed in files).
        let t = body(&[(0, &[0xF2, 1, 1])], 0);
        assert_invalid(read(&smf(0, 96, &[t])), "track 0");
    }

    #[test]
    fn chunk_length_past_the_end_of_the_file() {
        let a = body(&[(0, &[0x90, 60, 100]), (10, &[0x80, 60, 0])], 0);
        let b = body(&[(0, &[0x90, 62, 100]), (20, &[0x80, 62, 0])], 0);
        let mut header = chunk(b"MThd", 6, &[0, 1, 0, 2, 0, 96]);
        let expected = vec![vec![n(0, 10, 60, 100)], vec![n(0, 20, 62, 100)]];
        // The first track's length is bogus: it is read to its End of Track, then chunk
        // reading resumes after it.
        let mut file = header.clone();
        file.extend(chunk(b"MTrk", 0xFFFF_FFF0, &a));
        file.extend(chunk(b"MTrk", b.len() as u32, &b));
        let p = read_ok(&file);
        assert_eq!(p.instruments.iter().map(|i| i.notes.clone()).collect::<Vec<_>>(), expected);
        // The last track's length is bogus: same.
        let mut file = header.clone();
        file.extend(chunk(b"MTrk", a.len() as u32, &a));
        file.extend(chunk(b"MTrk", 0x7FFF_FFFF, &b));
        let p = read_ok(&file);
        assert_eq!(p.instruments.iter().map(|i| i.notes.clone()).collect::<Vec<_>>(), expected);
        // A bogus length and no End of Track: an error.
        header.extend(chunk(b"MTrk", 1000, &a[..a.len() - 4]));
        assert_invalid(read(&header), "runs past the end of the file");
    }

    #[test]
    fn unknown_chunks_and_trailing_bytes_are_skipped() {
        let a = body(&[(0, &[0x90, 60, 100]), (10, &[0x80, 60, 0])], 0);
        let mut file = chunk(b"MThd", 6, &[0, 1, 0, 1, 0, 96]);
        file.extend(chunk(b"XFIH", 3, b"abc"));
        file.extend(chunk(b"MTrk", a.len() as u32, &a));
        file.extend_from_slice(b"\0\0\0");
        assert_eq!(read_ok(&file).instruments[0].notes, vec![n(0, 10, 60, 100)]);
    }

    #[test]
    fn events_after_end_of_track_are_ignored() {
        let mut t = body(&[(0, &[0x90, 60, 100]), (10, &[0x80, 60, 0])], 0);
        t.extend(events(&[(0, &[0x90, 61, 100])]));
        assert_eq!(read_ok(&smf(0, 96, &[t])).note_count(), 1);
    }

    #[test]
    fn zero_ticks_per_beat_is_an_error() {
        let t = body(&[(0, &[0x90, 60, 100]), (10, &[0x80, 60, 0])], 0);
        assert_invalid(read(&smf(0, 0, std::slice::from_ref(&t))), "ticks per beat is 0");
        assert_invalid(read(&smf_raw(0, 1, [0xE7, 0], &[t])), "ticks per frame is 0");
    }

    #[test]
    fn track_count_in_the_header_is_not_trusted() {
        let t = body(&[(0, &[0x90, 60, 100]), (10, &[0x80, 60, 0])], 0);
        let p = read_ok(&smf_raw(1, 60_000, [0, 96], &[t]));
        assert_eq!(p.instruments[0].notes, vec![n(0, 10, 60, 100)]);
        let empty = read_ok(&smf_raw(1, 5, [0, 96], &[]));
        assert_eq!(empty, Piece::new(96));
    }

    #[test]
    fn not_a_midi_file() {
        assert_invalid(read(b"RIFX this is not midi at all"), "not a midi file");
        assert_invalid(read(b""), "not a midi file");
    }

    #[test]
    fn read_file_reports_missing_files_as_io_errors() {
        let err = read_file(Path::new("/nonexistent/cadenza.mid"), &ReadOptions::default());
        assert!(matches!(err, Err(Error::Io { .. })));
    }

    // ---- regressions found by tests/hostile_midi.rs --------------------------------------------

    #[test]
    fn notes_starting_too_far_into_the_piece_are_an_error() {
        // 1 tick per beat and 1 µs per beat: only the beat limit matters.
        let fast = b"\xFF\x51\x03\x00\x00\x01";
        let beat = u32::try_from(MAX_START_BEATS).unwrap();
        let t = body(&[(0, fast), (beat, &[0x90, 60, 100]), (1, &[0x80, 60, 0])], 0);
        assert_eq!(read_ok(&smf(0, 1, &[t])).instruments[0].notes, vec![n(1 << 20, (1 << 20) + 1, 60, 100)]);
        let t = body(&[(0, fast), (beat + 1, &[0x90, 60, 100]), (1, &[0x80, 60, 0])], 0);
        assert_invalid(read(&smf(0, 1, &[t])), "too far into the piece");
        // 480 ticks per beat at 120 bpm: 24 hours are 24 * 3600 * 2 * 480 = 82 944 000 ticks.
        let t = body(&[(82_944_000 - 480, &[0x90, 60, 100]), (1, &[0x80, 60, 0])], 0);
        assert_eq!(read_ok(&smf(0, 480, &[t])).note_count(), 1);
        let t = body(&[(82_944_000 + 480, &[0x90, 60, 100]), (1, &[0x80, 60, 0])], 0);
        assert_invalid(read(&smf(0, 480, &[t])), "24 hours");
        // Only starts count: a note may be held far past the limits.
        let t = body(&[(0, &[0x90, 60, 100]), (0x0FFF_FFFF, &[0x80, 60, 0])], 0);
        assert_eq!(read_ok(&smf(0, 1, &[t])).instruments[0].notes, vec![n(0, 0x0FFF_FFFF, 60, 100)]);
    }

    #[test]
    fn running_status_continues_after_meta_and_sysex_events() {
        let t = body(
            &[
                (0, &[0x91, 60, 100]),
                (0, b"\xFF\x01\x01x"), // midly cancels running status here, the spec too
                (10, &[60, 0]),        // off 60 at 10 (note-on, velocity 0)
                (0, &[0xF0, 0x01, 0xF7]), // a sysex event
                (0, &[62, 90]),        // on 62 at 10
                (5, &[0xC1, 7]),       // program 7 at 15
                (0, b"\xFF\x01\x00"),
                (0, &[9]),            // running status program change: one data byte, program 9
                (0, &[0x91, 64, 80]), // on 64 at 15 under program 9
                (5, &[64, 0]),        // ordinary running status: off 64 at 20
                (0, &[62, 0]),        // off 62 at 20
            ],
            0,
        );
        let p = read_ok(&smf(0, 96, &[t]));
        let summary: Vec<_> = p.instruments.iter().map(|i| (i.program, i.channel, i.notes.clone())).collect();
        assert_eq!(
            summary,
            vec![(0, 1, vec![n(0, 10, 60, 100), n(10, 20, 62, 90)]), (9, 1, vec![n(15, 20, 64, 80)])]
        );
        // A status byte where the second data byte should be: still an error.
        let t = body(&[(0, &[0x90, 60, 100]), (0, b"\xFF\x01\x00"), (0, &[60, 0x90])], 0);
        assert_invalid(read(&smf(0, 96, &[t])), "track 0: byte 8");
        // Cut after the first data byte.
        let t = [events(&[(0, &[0x90, 60, 100]), (0, b"\xFF\x01\x00")]), vec![0, 60]].concat();
        assert_invalid(read(&smf(0, 96, &[t])), "truncated midi message");
    }

    #[test]
    fn long_track_names_are_cut_on_a_character_boundary() {
        assert_eq!(track_name(b"  Violin\0 "), "Violin");
        let e_acute = "\u{e9}"; // two bytes in UTF-8
        assert_eq!(track_name(e_acute.repeat(200).as_bytes()), e_acute.repeat(128));
        let odd = format!("x{}", e_acute.repeat(200)); // byte 256 is the first half of a character
        assert_eq!(track_name(odd.as_bytes()), format!("x{}", e_acute.repeat(127)));
        // Through a file: every instrument of the track gets the cut name.
        let name = vec![b'n'; 100_000];
        let meta = [&[0xFF, 0x03][..], &vlq(100_000), &name].concat();
        let t = body(&[(0, &meta), (0, &[0x90, 60, 1]), (0, &[0x91, 60, 1]), (0, &[0x92, 60, 1])], 1);
        let p = read_ok(&smf(0, 96, &[t]));
        assert_eq!(p.instruments.len(), 3);
        assert!(p.instruments.iter().all(|i| i.name == "n".repeat(256)));
    }

    #[test]
    fn smpte_frame_rate_minus_128_is_an_error_not_a_panic() {
        // Found by the fuzzer: midly negates the frame-rate byte as an i8.
        let t = body(&[(0, &[0x90, 60, 100]), (10, &[0x80, 60, 0])], 0);
        let file = smf_raw(0, 1, [0x80, 40], std::slice::from_ref(&t));
        assert_invalid(read(&file), "SMPTE frame rate -128");
        // The same header behind an unknown chunk, inside a RIFF RMID wrapper whose first
        // sub-chunk has an odd length (padded).
        let mut data = chunk(b"XXXX", 3, b"abc");
        data.extend(smf_raw(0, 1, [0x80, 40], std::slice::from_ref(&t)));
        let mut riff = b"RMID".to_vec();
        riff.extend(b"junk\x01\x00\x00\x00z\0");
        riff.extend(b"data");
        riff.extend((data.len() as u32).to_le_bytes());
        riff.extend(&data);
        let mut rmid = b"RIFF".to_vec();
        rmid.extend((riff.len() as u32).to_le_bytes());
        rmid.extend(&riff);
        assert_invalid(read(&rmid), "SMPTE frame rate -128");
        // With a valid frame rate the same wrapper reads.
        let at = rmid.len() - data.len() + 11 + 12;
        assert_eq!(rmid[at], 0x80);
        rmid[at] = 0xE7;
        assert_eq!(read_ok(&rmid).instruments[0].notes, vec![n(0, 10, 60, 100)]);
    }

    #[test]
    fn open_notes_do_not_leak_from_one_track_into_the_next() {
        // Track 0 leaves C4 open (it ends with the track at 50). Track 1's stray note-off at 10
        // must find nothing; its own C4 runs 20..30.
        let a = body(&[(0, &[0x90, 60, 100])], 50);
        let b = body(&[(10, &[0x80, 60, 0]), (10, &[0x90, 60, 90])], 10);
        let empty: Vec<Vec<u8>> = (0..1000).map(|_| Vec::new()).collect();
        let tracks = [vec![a], empty, vec![b]].concat();
        let p = read_ok(&smf(1, 96, &tracks));
        let notes: Vec<_> = p.instruments.iter().map(|i| i.notes.clone()).collect();
        assert_eq!(notes, vec![vec![n(0, 50, 60, 100)], vec![n(20, 30, 60, 90)]]);
    }
}
