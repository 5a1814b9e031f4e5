//! Every input the fuzzer (`fuzz/fuzz_targets/midi_pipeline.rs`) found crashing, timing out or
//! running out of memory, kept as a binary file under `tests/fuzz_regressions/` and replayed
//! through the same pipeline (`support/pipeline.rs`). docs/reliability.md says what each was.

#[path = "support/pipeline.rs"]
mod pipeline;

use std::path::{Path, PathBuf};

/// The stored inputs, sorted by name.
fn inputs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "mid"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_fuzzer_finding_goes_through_the_pipeline() {
    let files = inputs();
    assert!(!files.is_empty(), "no regression inputs found");
    let tokenizers = pipeline::tokenizers();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let name = path.file_name().unwrap();
        eprintln!("replaying {}", name.to_string_lossy());
        let outcome = pipeline::check(&bytes, Path::new(name), &tokenizers);
        // The pedal changes note ends, never whether a file reads.
        assert_eq!(outcome.plain.is_ok(), outcome.sustained.is_ok(), "{}", path.display());
    }
}

/// The token-stream fuzz target's check, on a fixed spread of streams (the fuzzer runs it on
/// arbitrary ones): every decoder is total and re-encodes what it keeps with nothing dropped.
#[test]
fn token_streams_decode_under_every_scheme() {
    use rand::{Rng, SeedableRng};
    let tokenizers = pipeline::tokenizers();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    for len in [0usize, 1, 2, 7, 64, 1000, 4000] {
        for _ in 0..8 {
            let bytes: Vec<u8> = (0..len * 2).map(|_| rng.random()).collect();
            pipeline::check_tokens(&bytes, &tokenizers);
        }
    }
}
