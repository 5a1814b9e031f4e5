//! [`Piece`] → format-1 Standard MIDI File.
//!
//! Layout: track 0 is the conductor (time signatures, key signatures and tempos, then End of
//! Track); then one track per instrument, in order: its name (when it has one), its program
//! change at tick 0 (not for drums), its notes, End of Track.
//!
//! - **Channels.** Drums play on channel 10 (index 9). Pitched instruments keep the channel the
//!   piece gives them when it is free (not 9, not taken by an earlier pitched instrument), else
//!   take the lowest free channel among 0-8 and 10-15. With more than 15 pitched instruments the
//!   rest share channels round-robin (the n-th overflowing one gets the n-th of those 15); an
//!   instrument whose channel is shared with a different program repeats its program change
//!   before every tick where it starts notes, so playback stays right (readers that track
//!   programs per track, like ours and pretty_midi, need only the first).
//! - **Events.** On one tick, note-offs come before program changes and note-ons, so a note
//!   repeated right at the end of the previous one survives. Note-ons of one pitch on one tick
//!   are written shortest note first, so a first-in-first-out reader pairs them back as they were
//!   (same-pitch notes whose ends are not in the order of their starts cannot be told apart in a
//!   MIDI file; they come back paired first-in-first-out).
//! - **Values.** Velocity is clamped to 1..=127; notes with a pitch above 127 are skipped; a note
//!   with `end <= start` is written one tick long. Time-signature denominators are rounded down
//!   to a power of two (1..=128), key signatures clamped to -7..=7, tempos to 1..=0xFFFFFF µs.
//! - **Resolution.** `ticks_per_beat` is kept when it fits the 15 bits SMF allows; above 32767
//!   every tick is rescaled (rounded) to the largest divisor-free resolution that fits, the only
//!   lossy case. Gaps longer than the largest delta time (2^28 - 1 ticks) are bridged with empty
//!   text events.

use std::path::Path;

use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use super::piece::{Piece, DRUM_CHANNEL};
use crate::error::Result;

/// Channels pitched instruments may use, in order of preference.
const PITCHED_CHANNELS: [u8; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15];

/// Largest ticks-per-beat a metrical SMF header can hold.
const MAX_TICKS_PER_BEAT: u16 = 0x7FFF;

/// Largest delta time one event can carry.
const MAX_DELTA: u64 = 0x0FFF_FFFF;

/// Render `piece` as the bytes of a format-1 MIDI file.
pub fn write_to_bytes(piece: &Piece) -> Vec<u8> {
    let tpb = piece.ticks_per_beat.max(1);
    let (out_tpb, scale) = if tpb > MAX_TICKS_PER_BEAT {
        let factor = tpb.div_ceil(MAX_TICKS_PER_BEAT);
        let out = tpb / factor;
        (out, Some(f64::from(out) / f64::from(tpb)))
    } else {
        (tpb, None)
    };
    let at = |tick: u64| match scale {
        Some(s) => (tick as f64 * s).round() as u64,
        None => tick,
    };

    let mut tracks: Vec<Vec<TrackEvent<'_>>> = Vec::with_capacity(piece.instruments.len() + 1);
    tracks.push(conductor(piece, &at));

    let channels = assign_channels(piece);
    for (i, inst) in piece.instruments.iter().enumerate() {
        let channel = channels[i];
        let shared_program = !inst.is_drum
            && piece.instruments.iter().enumerate().any(|(j, other)| {
                j != i && !other.is_drum && channels[j] == channel && other.program != inst.program
            });
        let mut events: Vec<(u64, u8, u8, TrackEventKind<'_>)> = Vec::new();
        let ch = u4::new(channel);
        let program = TrackEventKind::Midi {
            channel: ch,
            message: MidiMessage::ProgramChange { program: u7::new(inst.program.min(127)) },
        };
        if !inst.is_drum {
            events.push((0, 1, 0, program));
        }
        let mut note_ons: Vec<(u64, u8, u64, u8)> = Vec::with_capacity(inst.notes.len());
        for n in inst.notes.iter().filter(|n| n.pitch <= 127) {
            let start = at(n.start);
            let end = at(n.end).max(start + 1);
            note_ons.push((start, n.pitch, end, n.velocity.clamp(1, 127)));
            let off = MidiMessage::NoteOff { key: u7::new(n.pitch), vel: u7::new(0) };
            events.push((end, 0, n.pitch, TrackEventKind::Midi { channel: ch, message: off }));
        }
        // Shortest first among note-ons of one pitch on one tick (see the module docs).
        note_ons.sort_unstable();
        let mut last_program_tick = None;
        for (start, pitch, _end, velocity) in note_ons {
            if shared_program && start > 0 && last_program_tick != Some(start) {
                events.push((start, 1, 0, program));
                last_program_tick = Some(start);
            }
            let on = MidiMessage::NoteOn { key: u7::new(pitch), vel: u7::new(velocity) };
            events.push((start, 2, pitch, TrackEventKind::Midi { channel: ch, message: on }));
        }
        // Stable: note-ons keep their shortest-first order.
        events.sort_by_key(|e| (e.0, e.1, e.2));

        let mut track = Vec::with_capacity(events.len() + 2);
        if !inst.name.is_empty() {
            track.push(TrackEvent {
                delta: u28::new(0),
                kind: TrackEventKind::Meta(MetaMessage::TrackName(inst.name.as_bytes())),
            });
        }
        let mut now = 0u64;
        for (tick, _, _, kind) in events {
            push_at(&mut track, &mut now, tick, kind);
        }
        let end = now;
        push_at(&mut track, &mut now, end, TrackEventKind::Meta(MetaMessage::EndOfTrack));
        tracks.push(track);
    }

    let smf =
        Smf { header: Header::new(Format::Parallel, Timing::Metrical(u15::new(out_tpb))), tracks };
    let mut bytes = Vec::new();
    // Writing to a Vec cannot fail; the only other failures are tracks of 4 GB or more.
    if smf.write_std(&mut bytes).is_err() {
        bytes.clear();
    }
    bytes
}

/// Write `piece` to `path` atomically.
pub fn write_file(piece: &Piece, path: &Path) -> Result<()> {
    crate::atomic::write(path, &write_to_bytes(piece))
}

/// The conductor track: time signatures, key signatures and tempos by tick, then End of Track.
fn conductor(piece: &Piece, at: &impl Fn(u64) -> u64) -> Vec<TrackEvent<'static>> {
    let mut events: Vec<(u64, u8, TrackEventKind<'static>)> = Vec::new();
    for ts in &piece.time_signatures {
        let denominator_log2 = (ts.denominator.max(1)).ilog2() as u8;
        let meta = MetaMessage::TimeSignature(ts.numerator.max(1), denominator_log2, 24, 8);
        events.push((at(ts.tick), 0, TrackEventKind::Meta(meta)));
    }
    for ks in &piece.key_signatures {
        let meta = MetaMessage::KeySignature(ks.sharps.clamp(-7, 7), ks.minor);
        events.push((at(ks.tick), 1, TrackEventKind::Meta(meta)));
    }
    for t in &piece.tempos {
        let micros = u24::new(t.micros_per_beat.clamp(1, 0xFF_FFFF));
        events.push((at(t.tick), 2, TrackEventKind::Meta(MetaMessage::Tempo(micros))));
    }
    events.sort_by_key(|e| (e.0, e.1));
    let mut track = Vec::with_capacity(events.len() + 1);
    let mut now = 0u64;
    for (tick, _, kind) in events {
        push_at(&mut track, &mut now, tick, kind);
    }
    let end = now;
    push_at(&mut track, &mut now, end, TrackEventKind::Meta(MetaMessage::EndOfTrack));
    track
}

/// Append `kind` at absolute `tick` (not before `now`), bridging gaps too long for one delta.
fn push_at<'a>(
    track: &mut Vec<TrackEvent<'a>>,
    now: &mut u64,
    tick: u64,
    kind: TrackEventKind<'a>,
) {
    let mut delta = tick.saturating_sub(*now);
    while delta > MAX_DELTA {
        track.push(TrackEvent {
            delta: u28::new(MAX_DELTA as u32),
            kind: TrackEventKind::Meta(MetaMessage::Text(b"")),
        });
        delta -= MAX_DELTA;
    }
    track.push(TrackEvent { delta: u28::new(delta as u32), kind });
    *now = (*now).max(tick);
}

/// The channel of every instrument (see the module docs).
fn assign_channels(piece: &Piece) -> Vec<u8> {
    let mut channels = vec![DRUM_CHANNEL; piece.instruments.len()];
    let mut taken = [false; 16];
    taken[usize::from(DRUM_CHANNEL)] = true;
    let mut pending = Vec::new();
    for (i, inst) in piece.instruments.iter().enumerate() {
        if inst.is_drum {
            continue;
        }
        let c = usize::from(inst.channel);
        if c < 16 && !taken[c] {
            taken[c] = true;
            channels[i] = inst.channel;
        } else {
            pending.push(i);
        }
    }
    let mut overflow = 0usize;
    for i in pending {
        if let Some(&c) = PITCHED_CHANNELS.iter().find(|&&c| !taken[usize::from(c)]) {
            taken[usize::from(c)] = true;
            channels[i] = c;
        } else {
            channels[i] = PITCHED_CHANNELS[overflow % PITCHED_CHANNELS.len()];
            overflow += 1;
        }
    }
    channels
}
