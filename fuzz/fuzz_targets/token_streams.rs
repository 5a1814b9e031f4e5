//! Coverage-guided fuzzing of every decoder on arbitrary token streams (midi-like, TSD, REMI):
//! no panic, a valid piece that is its own quantization, nothing dropped on re-encoding (see
//! `check_tokens` in `tests/support/pipeline.rs`). Memory stays bounded by the stream: the
//! decoders keep at most one note per token read.
//!
//! Run from the repository root: `RUSTC_BOOTSTRAP=1 cargo fuzz run token_streams`.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/pipeline.rs"]
mod pipeline;

fuzz_target!(|data: &[u8]| {
    static TOKENIZERS: OnceLock<Vec<cadenza::Tokenizer>> = OnceLock::new();
    let tokenizers = TOKENIZERS.get_or_init(pipeline::tokenizers);
    pipeline::check_tokens(data, tokenizers);
});
