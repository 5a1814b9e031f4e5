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
//!   the file uses `ticks_per_beat / ceil(ticks_per_beat / 32767)` and every tick is rescaled
//!   and rounded (the only lossy case). Gaps longer than the largest delta time (2^28 - 1
//!   ticks) are bridged with empty text events.

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

    let smf = Smf { header: Header::new(Format::Parallel, Timing::Metrical(u15::new(out_tpb))), tracks };
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
fn push_at<'a>(track: &mut Vec<TrackEvent<'a>>, now: &mut u64, tick: u64, kind: TrackEventKind<'a>) {
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;

    use super::*;
    use crate::midi::{read_bytes, Instrument, KeySignature, Note, ReadOptions, TempoChange, TimeSignature};

    fn n(start: u64, end: u64, pitch: u8, velocity: u8) -> Note {
        Note { start, end, pitch, velocity }
    }

    fn inst(program: u8, channel: u8, is_drum: bool, name: &str, notes: Vec<Note>) -> Instrument {
        Instrument { program, channel, is_drum, name: name.to_string(), notes }
    }

    fn round_trip(piece: &Piece) -> Piece {
        read_bytes(&write_to_bytes(piece), Path::new("rt.mid"), &ReadOptions::default())
            .expect("our own output reads back")
    }

    /// The events of every track as `(absolute tick, kind)`, parsed by midly.
    fn tracks_of(bytes: &[u8]) -> Vec<Vec<(u64, TrackEventKind<'_>)>> {
        let smf = Smf::parse(bytes).unwrap();
        smf.tracks
            .iter()
            .map(|t| {
                let mut tick = 0u64;
                t.iter()
                    .map(|e| {
                        tick += u64::from(e.delta.as_int());
                        (tick, e.kind)
                    })
                    .collect()
            })
            .collect()
    }

    fn crafted() -> Piece {
        let mut p = Piece::new(480);
        p.tempos = vec![
            TempoChange { tick: 0, micros_per_beat: 500_000 },
            TempoChange { tick: 960, micros_per_beat: 400_000 },
            TempoChange { tick: 1920, micros_per_beat: 652_174 },
        ];
        p.time_signatures = vec![
            TimeSignature { tick: 0, numerator: 4, denominator: 4 },
            TimeSignature { tick: 1920, numerator: 7, denominator: 8 },
        ];
        p.key_signatures = vec![
            KeySignature { tick: 0, sharps: 2, minor: false },
            KeySignature { tick: 960, sharps: -4, minor: true },
        ];
        p.instruments = vec![
            inst(
                0,
                0,
                false,
                "Piano",
                vec![
                    n(0, 480, 60, 100),
                    n(0, 960, 64, 90),
                    n(240, 720, 60, 80), // overlaps the first 60, ends after it
                    n(480, 960, 60, 70), // starts where the first 60 ends
                    n(960, 961, 127, 1), // one tick long, extreme values
                    n(2000, 2400, 0, 127),
                ],
            ),
            inst(33, 1, false, "Bass", vec![n(0, 1920, 36, 110), n(1920, 3840, 38, 64)]),
            inst(
                0,
                9,
                true,
                "Drums",
                vec![n(0, 60, 36, 127), n(0, 60, 42, 100), n(240, 300, 42, 90), n(480, 540, 38, 120)],
            ),
            inst(73, 2, false, "", vec![n(100, 200, 72, 50), n(100, 300, 72, 60)]), // same start
        ];
        p.normalize();
        p
    }

    #[test]
    fn round_trip_keeps_everything() {
        let p = crafted();
        assert_eq!(round_trip(&p), p);
    }

    #[test]
    fn file_layout_is_a_conductor_then_one_track_per_instrument() {
        let p = crafted();
        let bytes = write_to_bytes(&p);
        let smf = Smf::parse(&bytes).unwrap();
        assert_eq!(smf.header.format, Format::Parallel);
        assert_eq!(smf.header.timing, Timing::Metrical(u15::new(480)));
        let tracks = tracks_of(&bytes);
        assert_eq!(tracks.len(), 1 + p.instruments.len());
        // Conductor: 2 time signatures + 2 key signatures + 3 tempos + End of Track, no notes.
        assert_eq!(tracks[0].len(), 8);
        assert!(tracks[0].iter().all(|(_, k)| matches!(k, TrackEventKind::Meta(_))));
        assert_eq!(tracks[0].last().unwrap().1, TrackEventKind::Meta(MetaMessage::EndOfTrack));
        // Drums: name, no program change, everything on channel 9.
        let drums = &tracks[3];
        assert_eq!(drums[0].1, TrackEventKind::Meta(MetaMessage::TrackName(b"Drums")));
        for (_, k) in drums {
            match k {
                TrackEventKind::Midi { channel, message } => {
                    assert_eq!(channel.as_int(), 9);
                    assert!(!matches!(message, MidiMessage::ProgramChange { .. }));
                }
                TrackEventKind::Meta(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        // The nameless instrument has no name event; its program change comes first at tick 0.
        let flute = &tracks[4];
        assert!(matches!(
            flute[0],
            (0, TrackEventKind::Midi { message: MidiMessage::ProgramChange { .. }, .. })
        ));
        // Every track ends with End of Track at its last event's tick.
        for t in &tracks {
            let (tick, kind) = t.last().unwrap();
            assert_eq!(*kind, TrackEventKind::Meta(MetaMessage::EndOfTrack));
            assert_eq!(*tick, t.iter().map(|e| e.0).max().unwrap());
        }
    }

    #[test]
    fn note_offs_come_before_note_ons_on_one_tick() {
        let mut p = Piece::new(96);
        p.instruments = vec![inst(0, 0, false, "", vec![n(0, 96, 60, 100), n(96, 192, 60, 100)])];
        let bytes = write_to_bytes(&p);
        let kinds: Vec<(u64, &str)> = tracks_of(&bytes)[1]
            .iter()
            .filter_map(|(t, k)| match k {
                TrackEventKind::Midi { message: MidiMessage::NoteOn { .. }, .. } => Some((*t, "on")),
                TrackEventKind::Midi { message: MidiMessage::NoteOff { .. }, .. } => Some((*t, "off")),
                _ => None,
            })
            .collect();
        assert_eq!(kinds, vec![(0, "on"), (96, "off"), (96, "on"), (192, "off")]);
        assert_eq!(round_trip(&p), p);
    }

    #[test]
    fn values_are_clamped_and_bad_notes_fixed() {
        let mut p = Piece::new(96);
        p.instruments = vec![inst(
            200, // program out of range: clamped to 127
            0,
            false,
            "",
            vec![n(0, 10, 60, 0), n(0, 10, 61, 200), n(5, 5, 62, 50), n(0, 10, 200, 50)],
        )];
        let back = round_trip(&p);
        assert_eq!(back.instruments.len(), 1);
        assert_eq!(back.instruments[0].program, 127);
        assert_eq!(back.instruments[0].notes, vec![n(0, 10, 60, 1), n(0, 10, 61, 127), n(5, 6, 62, 50)]);
    }

    #[test]
    fn channels_are_kept_when_free_and_shared_round_robin_past_15() {
        let mut p = Piece::new(96);
        // Instrument i plays program i + 1 at pitch 40 + i; all ask for channel 3, plus drums.
        for i in 0..20u8 {
            p.instruments.push(inst(
                i + 1,
                3,
                false,
                "",
                vec![n(u64::from(i), 50, 40 + i, 90), n(60, 70, 40 + i, 90)],
            ));
        }
        p.instruments.push(inst(0, 3, true, "", vec![n(0, 10, 36, 90)]));
        let channels = assign_channels(&p);
        let expected: Vec<u8> =
            [3, 0, 1, 2, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 9].to_vec();
        assert_eq!(channels, expected);

        let bytes = write_to_bytes(&p);
        let tracks = tracks_of(&bytes);
        for (i, track) in tracks[1..].iter().enumerate() {
            let midi: Vec<(u64, u8, MidiMessage)> = track
                .iter()
                .filter_map(|(t, k)| match k {
                    TrackEventKind::Midi { channel, message } => Some((*t, channel.as_int(), *message)),
                    _ => None,
                })
                .collect();
            assert!(midi.iter().all(|m| m.1 == expected[i]), "track {i} channel");
            let programs: Vec<u64> = midi
                .iter()
                .filter(|m| matches!(m.2, MidiMessage::ProgramChange { .. }))
                .map(|m| m.0)
                .collect();
            // Shared channels (0-4 for instruments 0..5 and 15..20, channel 3 for the first)
            // repeat the program change at every tick with note-ons after 0.
            let shared = i < 20 && expected[..20].iter().filter(|&&c| c == expected[i]).count() > 1;
            let want: Vec<u64> = match (i, shared) {
                (20, _) => vec![],
                (_, false) => vec![0],
                (0, true) => vec![0, 60],
                (_, true) => vec![0, i as u64, 60],
            };
            assert_eq!(programs, want, "track {i} program changes");
        }
        // Reading back (programs are per track) gives the piece with the assigned channels.
        let mut want = p.clone();
        for (inst, &c) in want.instruments.iter_mut().zip(&channels) {
            inst.channel = c;
            if inst.is_drum {
                inst.program = 0;
            }
        }
        assert_eq!(round_trip(&p), want);
    }

    #[test]
    fn large_resolutions_are_rescaled_and_long_gaps_bridged() {
        let mut p = Piece::new(40_000);
        let far = (1u64 << 29) + 5;
        p.tempos = vec![TempoChange { tick: 80_000, micros_per_beat: 600_000 }];
        p.instruments = vec![inst(0, 0, false, "", vec![n(0, 40_000, 60, 90), n(far, far + 8, 61, 90)])];
        let back = round_trip(&p);
        assert_eq!(back.ticks_per_beat, 20_000);
        assert_eq!(back.tempos, vec![TempoChange { tick: 40_000, micros_per_beat: 600_000 }]);
        let half = (far as f64 / 2.0).round() as u64;
        assert_eq!(back.instruments[0].notes, vec![n(0, 20_000, 60, 90), n(half, half + 4, 61, 90)]);

        // A gap over 2^28 ticks that stays inside the reader's limits (beat 2^20, 24 hours).
        let mut p = Piece::new(9600);
        p.instruments = vec![inst(0, 0, false, "", vec![n(far, 3 * far, 60, 90)])];
        assert_eq!(round_trip(&p), p);
    }

    #[test]
    fn empty_piece_is_a_valid_file() {
        let p = Piece::new(96);
        let bytes = write_to_bytes(&p);
        assert_eq!(tracks_of(&bytes).len(), 1);
        assert_eq!(round_trip(&p), p);
    }

    #[test]
    fn write_file_then_read_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("crafted.mid");
        let p = crafted();
        write_file(&p, &path).unwrap();
        assert_eq!(crate::midi::read_file(&path, &ReadOptions::default()).unwrap(), p);
    }

    /// Random pieces whose same-pitch notes end in the order they start (what a MIDI file can
    /// represent; see the module docs).
    fn arb_piece() -> impl Strategy<Value = Piece> {
        let note = (0u64..2000, 1u64..500, 0u8..128, 1u8..128);
        let instrument = (0u8..128, any::<bool>(), proptest::collection::vec(note, 1..40));
        let tempo = (0u64..3000, 100_000u32..2_000_000);
        (1u16..2000, proptest::collection::vec(instrument, 1..5), proptest::collection::vec(tempo, 0..5))
            .prop_map(|(tpb, instruments, tempos)| {
                let mut p = Piece::new(tpb);
                let mut pitched = 0u8;
                for (program, is_drum, notes) in instruments {
                    let mut notes: Vec<Note> = notes
                        .into_iter()
                        .map(|(start, len, pitch, velocity)| n(start, start + len, pitch, velocity))
                        .collect();
                    notes.sort_by_key(|x| (x.pitch, x.start, x.end));
                    for i in 1..notes.len() {
                        if notes[i].pitch == notes[i - 1].pitch {
                            notes[i].end = notes[i].end.max(notes[i - 1].end);
                        }
                    }
                    let channel =
                        if is_drum { 9 } else { [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11][usize::from(pitched)] };
                    pitched += u8::from(!is_drum);
                    let program = if is_drum { 0 } else { program };
                    p.instruments.push(inst(program, channel, is_drum, "x", notes));
                }
                let mut tempos = tempos;
                tempos.sort_by_key(|t| t.0);
                tempos.dedup_by_key(|t| t.0);
                tempos.dedup_by_key(|t| t.1);
                p.tempos = tempos
                    .into_iter()
                    .map(|(tick, micros_per_beat)| TempoChange { tick, micros_per_beat })
                    .collect();
                p.normalize();
                p
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn random_pieces_round_trip(p in arb_piece()) {
            prop_assert_eq!(round_trip(&p), p);
        }
    }
}
