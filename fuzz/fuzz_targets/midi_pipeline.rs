//! Coverage-guided fuzzing of read → tokenize → decode → write → read (see
//! `tests/support/pipeline.rs` for every promise checked; a broken one panics).
//!
//! Run from the repository root: `RUSTC_BOOTSTRAP=1 cargo fuzz run midi_pipeline`
//! (docs/reliability.md has the full command and the seeds).

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/pipeline.rs"]
mod pipeline;

fuzz_target!(|data: &[u8]| {
    static TOKENIZERS: OnceLock<Vec<cadenza::Tokenizer>> = OnceLock::new();
    let tokenizers = TOKENIZERS.get_or_init(pipeline::tokenizers);
    pipeline::check(data, Path::new("fuzz.mid"), tokenizers);
});
