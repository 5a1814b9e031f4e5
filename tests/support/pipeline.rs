//! The hostile-input pipeline shared by `tests/hostile_midi.rs`, `tests/fuzz_regressions.rs` and
//! the fuzz target (`fuzz/fuzz_targets/midi_pipeline.rs` includes this file by path):
//!
//! read → (when a piece comes back) write it as is → read back; and for two tokenizer
//! configurations: tokenize → decode → write → read back → tokenize again.
//!
//! Every broken promise panics (that is what a fuzzer catches):
//! - reading either gives a piece or one `Error::InvalidMidi` whose message is one line naming
//!   the file, never another error and never a panic;
//! - a piece keeps the invariants `Piece` documents (`ticks_per_beat > 0`, `end > start`,
//!   sorted notes and conductor lists) and at most `MAX_NOTES` notes;
//! - the piece written as it is reads back with the same number of notes;
//! - `decode(encode(p)) == quantize(p)`, and the decoded piece written to MIDI and read back
//!   encodes to the same tokens (the round trip `tests/corpus_roundtrip.rs` checks on real
//!   files).

#![allow(dead_code)]

use std::path::Path;

use cadenza::midi::{read_bytes, write_to_bytes, Piece, ReadOptions, MAX_NOTES};
use cadenza::{Error, Tokenizer, TokenizerConfig};

/// What reading a file gave, with the sustain pedal off and on.
#[derive(Debug)]
pub struct Outcome {
    /// Without the sustain pedal.
    pub plain: Result<Piece, String>,
    /// With the sustain pedal applied.
    pub sustained: Result<Piece, String>,
}

/// The tokenizers the pipeline runs: the default beats grid and the Performance RNN layout.
pub fn tokenizers() -> Vec<Tokenizer> {
    let tsd = TokenizerConfig { scheme: cadenza::tokens::Scheme::Tsd, ..TokenizerConfig::default() };
    let remi = TokenizerConfig { scheme: cadenza::tokens::Scheme::Remi, ..TokenizerConfig::default() };
    [TokenizerConfig::default(), TokenizerConfig::performance_rnn(), tsd, remi]
        .into_iter()
        .map(|c| Tokenizer::new(c).expect("valid config"))
        .collect()
}

/// Run the whole pipeline on `bytes` (named `path` in errors); panics on any broken promise.
pub fn check(bytes: &[u8], path: &Path, tokenizers: &[Tokenizer]) -> Outcome {
    let plain = check_read(bytes, path, false, tokenizers);
    let sustained = check_read(bytes, path, true, tokenizers);
    Outcome { plain, sustained }
}

/// One read (sustain off or on) and everything downstream of it.
fn check_read(bytes: &[u8], path: &Path, sustain: bool, tokenizers: &[Tokenizer]) -> Result<Piece, String> {
    let opts = ReadOptions { apply_sustain: sustain };
    let piece = match read_bytes(bytes, path, &opts) {
        Ok(p) => p,
        Err(e @ Error::InvalidMidi { .. }) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "error message spans lines: {msg:?}");
            assert!(msg.starts_with(&path.display().to_string()), "error does not name the file: {msg:?}");
            return Err(msg);
        }
        Err(e) => panic!("read_bytes gave a non-InvalidMidi error: {e}"),
    };
    check_invariants(&piece);

    // The piece as it was read, written and read back.
    let bytes = write_to_bytes(&piece);
    let back = read_bytes(&bytes, path, &ReadOptions::default())
        .unwrap_or_else(|e| panic!("the piece as read does not read back after writing: {e}"));
    assert_eq!(back.note_count(), piece.note_count(), "writing the piece as read lost notes");

    for tok in tokenizers {
        let tokens = tok.encode(&piece);
        let decoded = tok.decode(&tokens);
        check_invariants(&decoded);
        assert!(decoded == tok.quantize(&piece), "decode(encode(p)) != quantize(p)");
        let bytes = write_to_bytes(&decoded);
        let back = read_bytes(&bytes, path, &opts)
            .unwrap_or_else(|e| panic!("a decoded piece does not read back after writing: {e}"));
        assert!(tok.encode(&back) == tokens, "tokens changed after writing and reading the decoded piece");
    }
    Ok(piece)
}

/// Decode `bytes` read as little-endian `u16` token ids with every tokenizer: the decoder is
/// total (a valid piece, its own quantization) and what it keeps re-encodes with nothing dropped.
pub fn check_tokens(bytes: &[u8], tokenizers: &[Tokenizer]) {
    let tokens: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    for tok in tokenizers {
        // Fold most ids into the vocabulary so the stream means something to the decoder.
        let n = tok.vocab_size() as u16;
        let folded: Vec<u16> = tokens.iter().map(|&t| if t >= 0xF000 { t } else { t % n }).collect();
        let decoded = tok.decode(&folded);
        check_invariants(&decoded);
        assert!(tok.dropped_tokens(&folded) <= folded.len(), "more tokens dropped than read");
        assert!(tok.quantize(&decoded) == decoded, "a decoded piece is not its own quantization");
        let again = tok.encode(&decoded);
        assert_eq!(tok.dropped_tokens(&again), 0, "a re-encoded piece drops tokens");
        assert!(tok.decode(&again) == decoded, "encode(decode(tokens)) is not a fixed point");
    }
}

/// The invariants `Piece` documents, plus the reader's note cap.
fn check_invariants(p: &Piece) {
    assert!(p.ticks_per_beat > 0, "ticks_per_beat is 0");
    assert!(p.note_count() <= MAX_NOTES, "{} notes", p.note_count());
    assert!(p.tempos.windows(2).all(|w| w[0].tick <= w[1].tick), "tempos not sorted");
    assert!(p.time_signatures.windows(2).all(|w| w[0].tick <= w[1].tick), "time signatures not sorted");
    assert!(p.key_signatures.windows(2).all(|w| w[0].tick <= w[1].tick), "key signatures not sorted");
    for inst in &p.instruments {
        assert!(inst.notes.iter().all(|n| n.end > n.start), "a note with end <= start");
        assert!(inst.notes.iter().all(|n| n.pitch <= 127), "a pitch above 127");
        assert!(
            inst.notes.windows(2).all(|w| (w[0].start, w[0].pitch) <= (w[1].start, w[1].pitch)),
            "notes not sorted"
        );
    }
}
