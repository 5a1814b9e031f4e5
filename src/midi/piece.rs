//! The note model every other module works on: instruments holding notes, plus the conductor
//! data (tempo, time and key signatures). Times are in ticks of the piece's own resolution.

use serde::{Deserialize, Serialize};

/// MIDI channel (0-based) that General MIDI reserves for percussion ("channel 10").
pub const DRUM_CHANNEL: u8 = 9;

/// One note: a pitch sounding from `start` to `end` (ticks, `end > start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Note {
    pub start: u64,
    pub end: u64,
    pub pitch: u8,
    pub velocity: u8,
}

impl Note {
    /// Length of the note in ticks.
    pub fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// One instrument: a program on a channel (or the drum kit) with its notes, sorted by
/// `(start, pitch, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Instrument {
    /// General MIDI program number, 0-127 (ignored for drums).
    pub program: u8,
    /// MIDI channel, 0-15, the file used (a writer may choose another).
    pub channel: u8,
    /// Percussion (channel 10): pitches are drum sounds, never transposed.
    pub is_drum: bool,
    /// Track name, empty when the file gave none.
    pub name: String,
    pub notes: Vec<Note>,
}

/// A tempo change at `tick`: `micros_per_beat` microseconds per quarter note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TempoChange {
    pub tick: u64,
    pub micros_per_beat: u32,
}

/// A time signature from `tick` on, e.g. 3/4 is `numerator = 3, denominator = 4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSignature {
    pub tick: u64,
    pub numerator: u8,
    pub denominator: u8,
}

/// A key signature from `tick` on: `sharps` in -7..=7 (negative for flats), major or minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySignature {
    pub tick: u64,
    pub sharps: i8,
    pub minor: bool,
}

/// A piece of music: what cadenza reads from and writes to MIDI files.
///
/// Invariants kept by the reader and the decoder: `ticks_per_beat > 0`; tempo, time-signature
/// and key-signature lists sorted by tick (an empty tempo list means 120 bpm); every note has
/// `end > start`; notes inside an instrument sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    /// Ticks per quarter note. SMPTE files are converted on reading (one beat = one second).
    pub ticks_per_beat: u16,
    pub tempos: Vec<TempoChange>,
    pub time_signatures: Vec<TimeSignature>,
    pub key_signatures: Vec<KeySignature>,
    pub instruments: Vec<Instrument>,
}

/// Default tempo of a MIDI file without tempo events: 120 bpm.
pub const DEFAULT_MICROS_PER_BEAT: u32 = 500_000;

impl Piece {
    /// An empty piece at `ticks_per_beat` resolution and 120 bpm.
    pub fn new(ticks_per_beat: u16) -> Self {
        Piece {
            ticks_per_beat: ticks_per_beat.max(1),
            tempos: Vec::new(),
            time_signatures: Vec::new(),
            key_signatures: Vec::new(),
            instruments: Vec::new(),
        }
    }

    /// A piece of one piano part (program 0, channel 1, no name) holding `notes`, normalized.
    pub fn of_notes(ticks_per_beat: u16, notes: Vec<Note>) -> Self {
        let mut piece = Piece::new(ticks_per_beat);
        piece.instruments.push(Instrument {
            program: 0,
            channel: 0,
            is_drum: false,
            name: String::new(),
            notes,
        });
        piece.normalize();
        piece
    }

    /// Number of notes across all instruments.
    pub fn note_count(&self) -> usize {
        self.instruments.iter().map(|i| i.notes.len()).sum()
    }

    /// Tick at which the last note ends (0 for a piece without notes).
    pub fn end_tick(&self) -> u64 {
        self.instruments.iter().flat_map(|i| i.notes.iter().map(|n| n.end)).max().unwrap_or(0)
    }

    /// Sort every list the invariants want sorted.
    pub fn normalize(&mut self) {
        self.tempos.sort_by_key(|t| t.tick);
        self.time_signatures.sort_by_key(|t| t.tick);
        self.key_signatures.sort_by_key(|t| t.tick);
        for inst in &mut self.instruments {
            inst.notes.sort_by_key(|n| (n.start, n.pitch, n.end, n.velocity));
        }
    }

    /// Duration of the piece in seconds (to the end of its last note).
    pub fn duration_seconds(&self) -> f64 {
        crate::midi::TempoMap::new(self).seconds_at(self.end_tick())
    }
}
