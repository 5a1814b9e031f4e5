//! Corpora: a folder of MIDI files loaded in parallel, tokenized, split and cached
//! (placeholder; see the corpus work item).
