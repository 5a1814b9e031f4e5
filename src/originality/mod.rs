//! Originality on notes (issue 24): how much of a piece copies training music, by the copy
//! definition of [`crate::copies`] (runs of equal pitch intervals and onset gaps, so transposed
//! and re-tempoed quotes count, whatever the tokenizer).
//!
//! - [`sources`] builds a [`CopyIndex`] of the training music: from a corpus folder of MIDI files
//!   ([`index_folder`]), from a token store ([`index_store`], its pieces decoded with its own
//!   tokenizer), or from pieces already in memory ([`index_pieces`], what the copy guard and
//!   `compare` call with the training split).
//! - [`report`] checks one piece against an index: the longest copy, where it starts in the piece
//!   and in its source, its transposition, and the share of the piece's notes inside copies of
//!   at least `min` notes ([`CopyReport`], what `cadenza check-copy` prints).

pub mod report;
pub mod sources;

pub use crate::copies::CopyIndex;
pub use report::{check, check_file, check_piece, copied_share, CopyReport, MIN_COPY_NOTES};
pub use sources::{folder_notes, index_folder, index_keys, index_pieces, index_store, FolderNotes, Indexed};
