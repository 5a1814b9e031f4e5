//! Test helper: small Standard MIDI Files written with midly directly (independent of the
//! crate's own MIDI writer).

use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

/// A nodi connection that records every event it is given.
#[derive(Default)]
pub(crate) struct Recorder(pub(crate) Vec<nodi::MidiEvent>);

impl nodi::Connection for Recorder {
    fn play(&mut self, e: nodi::MidiEvent) -> bool {
        self.0.push(e);
        true
    }
}

/// A note: `(start tick, channel, key, end tick)`.
pub(crate) type N = (u32, u8, u8, u32);

/// One track of `(absolute tick, event)` → delta-timed track ending `trailing` ticks after its
/// last event.
fn track(mut evs: Vec<(u32, u8, TrackEventKind<'static>)>, trailing: u32) -> Vec<TrackEvent<'static>> {
    // Sort by tick, then by rank (meta/program before note-off before note-on).
    evs.sort_by_key(|e| (e.0, e.1));
    let mut out = Vec::new();
    let mut now = 0;
    for (tick, _, kind) in evs {
        out.push(TrackEvent { delta: u28::new(tick - now), kind });
        now = tick;
    }
    out.push(TrackEvent { delta: u28::new(trailing), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });
    out
}

fn midi(channel: u8, message: MidiMessage) -> TrackEventKind<'static> {
    TrackEventKind::Midi { channel: u4::new(channel), message }
}

fn tempo_events(tempos: &[(u32, u32)]) -> Vec<(u32, u8, TrackEventKind<'static>)> {
    tempos.iter().map(|&(t, us)| (t, 0, TrackEventKind::Meta(MetaMessage::Tempo(u24::new(us))))).collect()
}

fn note_events(notes: &[N]) -> Vec<(u32, u8, TrackEventKind<'static>)> {
    let mut v = Vec::new();
    for &(start, ch, key, end) in notes {
        v.push((start, 2, midi(ch, MidiMessage::NoteOn { key: u7::new(key), vel: u7::new(100) })));
        v.push((end, 1, midi(ch, MidiMessage::NoteOff { key: u7::new(key), vel: u7::new(0) })));
    }
    v
}

fn encode(format: Format, tpb: u16, tracks: Vec<Vec<TrackEvent<'static>>>) -> Vec<u8> {
    let smf = Smf { header: Header::new(format, Timing::Metrical(u15::new(tpb))), tracks };
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).expect("writing to a Vec cannot fail");
    bytes
}

/// A format-0 file with `tempos` `(tick, µs per beat)` and `notes` (velocity 100, default
/// program), whose track ends `trailing` ticks after the last note-off.
pub(crate) fn single_track(tpb: u16, tempos: &[(u32, u32)], notes: &[N], trailing: u32) -> Vec<u8> {
    let mut evs = tempo_events(tempos);
    evs.extend(note_events(notes));
    encode(Format::SingleTrack, tpb, vec![track(evs, trailing)])
}

/// A format-1 file: a conductor track with `tempos`, then one track per `(program, notes)`
/// (each note's channel as given; the program change goes to every channel the track uses).
pub(crate) fn multi_track(tpb: u16, tempos: &[(u32, u32)], parts: &[(u8, &[N])]) -> Vec<u8> {
    let mut tracks = vec![track(tempo_events(tempos), 0)];
    for &(program, notes) in parts {
        let mut channels: Vec<u8> = notes.iter().map(|n| n.1).collect();
        channels.sort_unstable();
        channels.dedup();
        let mut evs: Vec<_> = channels
            .iter()
            .map(|&ch| (0, 0, midi(ch, MidiMessage::ProgramChange { program: u7::new(program) })))
            .collect();
        evs.extend(note_events(notes));
        tracks.push(track(evs, 0));
    }
    encode(Format::Parallel, tpb, tracks)
}
