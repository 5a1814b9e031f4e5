//! Copies of training music, measured on notes (issue 24): the definition ([`notes`]: runs of
//! equal pitch intervals and onset gaps, transposition- and tempo-free, independent of the
//! tokenizer) and the index that finds the longest copy ending at every note of a piece
//! ([`index`]). Building an index from a corpus or a store, and the reports, are in
//! [`crate::originality`]; the sampler's copy limit is a rule of [`crate::tokens::constraint`].

pub mod index;
pub mod notes;

pub use index::{CopyIndex, Match, Source};
pub use notes::{note_keys, onset_step, steps, top_line, NoteKey, Step, COPY_STEPS_PER_BEAT};
