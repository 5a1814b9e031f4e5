//! [`Piece`] → format-1 Standard MIDI File (placeholder; see the MIDI-layer work item).

use std::path::Path;

use super::Piece;
use crate::error::Result;

/// Render `piece` as the bytes of a format-1 MIDI file.
pub fn write_to_bytes(_piece: &Piece) -> Vec<u8> {
    Vec::new()
}

/// Write `piece` to `path` atomically.
pub fn write_file(piece: &Piece, path: &Path) -> Result<()> {
    crate::atomic::write(path, &write_to_bytes(piece))
}
