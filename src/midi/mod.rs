//! The MIDI layer: Standard MIDI Files in and out of one small note model, [`Piece`].
//!
//! - [`read`] parses a file with `midly` into a [`Piece`] (formats 0/1/2, metrical or SMPTE time).
//! - [`write`] renders a [`Piece`] as a format-1 file: a conductor track, then one track per
//!   instrument.
//! - [`Piece`] itself is plain data; [`TempoMap`] turns its ticks into seconds.
//! - `smf_bytes` assembles raw file bytes by hand, for tests (feature `testing`).

mod piece;
mod read;
#[cfg(any(test, feature = "testing"))]
pub mod smf_bytes;
mod sustain;
mod tempo;
mod write;

pub use piece::{Instrument, KeySignature, Note, Piece, TempoChange, TimeSignature, DRUM_CHANNEL};
pub use read::{
    read_bytes, read_file, ReadOptions, MAX_CONTROL_EVENTS, MAX_NOTES, MAX_START_BEATS, MAX_START_SECONDS,
};
pub use tempo::TempoMap;
pub use write::{write_file, write_to_bytes};
