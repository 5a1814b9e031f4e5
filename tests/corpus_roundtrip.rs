//! Real-corpus round trips: every file of `corpora/bach` (and a sample of `corpora/folk` when it
//! has been built) goes MIDI → tokens → MIDI bytes → MIDI → tokens, and must come back with the
//! same tokens and exactly the quantized notes.
//!
//! The corpora are built by `scripts/setup.sh`; without them the test skips, except under CI.

use std::path::{Path, PathBuf};

use cadenza::midi::{read_bytes, read_file, write_to_bytes};
use cadenza::{Tokenizer, TokenizerConfig};
use rayon::prelude::*;

fn corpus(name: &str) -> Option<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora").join(name);
    let files = cadenza::corpus::files::midi_files(&dir).unwrap_or_default();
    if files.is_empty() {
        return None;
    }
    Some(files)
}

fn check(files: &[PathBuf], config: TokenizerConfig) -> usize {
    let tok = Tokenizer::new(config).unwrap();
    let opts = tok.read_options();
    let failures: Vec<String> = files
        .par_iter()
        .filter_map(|f| {
            let piece = read_file(f, &opts).map_err(|e| e.to_string()).ok()?;
            let tokens = tok.encode(&piece);
            let decoded = tok.decode(&tokens);
            if decoded != tok.quantize(&piece) {
                return Some(format!("{}: decode(encode(p)) != quantize(p)", f.display()));
            }
            let bytes = write_to_bytes(&decoded);
            let back = match read_bytes(&bytes, f, &opts) {
                Ok(p) => p,
                Err(e) => return Some(format!("{}: our own file does not read back: {e}", f.display())),
            };
            if tok.encode(&back) != tokens {
                return Some(format!("{}: tokens changed after writing and reading the MIDI", f.display()));
            }
            None
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n{}",
        failures.len(),
        files.len(),
        failures[..failures.len().min(10)].join("\n")
    );
    files.len()
}

#[test]
fn bach_round_trips_exactly() {
    let Some(files) = corpus("bach") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "corpora/bach is missing under CI: scripts/setup.sh builds it"
        );
        eprintln!("skipping: corpora/bach not built (run scripts/setup.sh)");
        return;
    };
    assert!(files.len() > 300, "only {} Bach files", files.len());
    check(&files, TokenizerConfig::default());
    check(&files, TokenizerConfig::performance_rnn());
}

#[test]
fn folk_sample_round_trips_exactly() {
    let Some(files) = corpus("folk") else {
        eprintln!("skipping: corpora/folk not built (scripts/setup.sh --corpora all)");
        return;
    };
    let sample: Vec<PathBuf> = files.iter().step_by((files.len() / 600).max(1)).cloned().collect();
    check(&sample, TokenizerConfig::default());
}
