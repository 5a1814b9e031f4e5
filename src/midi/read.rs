//! Standard MIDI File → [`Piece`] (placeholder; see the MIDI-layer work item).

use std::path::Path;

use super::Piece;
use crate::error::{Error, Result};

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
pub fn read_bytes(_bytes: &[u8], path: &Path, _opts: &ReadOptions) -> Result<Piece> {
    Err(Error::invalid_midi(path, "reader not implemented yet"))
}
