//! Parse + tokenize throughput over a folder of MIDI files, for `scripts/bench_parse.py`.
//!
//! `cargo run --release --example parse_bench -- DIR [REPEATS] [SCHEME] [TRACKS]` reads every
//! file into memory first, then times (a) parsing alone and (b) parsing + tokenizing with the
//! default grid in SCHEME (`midi-like`, `tsd`, `remi`; default `midi-like`) and `tracks` TRACKS
//! (default 1), on one thread, and (c)
//! parsing + tokenizing on all threads with rayon. Prints one JSON object.

use std::path::Path;
use std::time::Instant;

use cadenza::midi::{read_bytes, ReadOptions};
use cadenza::{Tokenizer, TokenizerConfig};
use rayon::prelude::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("usage: parse_bench DIR [REPEATS]");
    let repeats: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let files = cadenza::corpus::files::midi_files(Path::new(dir)).expect("readable folder");
    let data: Vec<(std::path::PathBuf, Vec<u8>)> = files
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).expect("readable file");
            (p, b)
        })
        .collect();
    let scheme = args.get(3).map_or(Ok(Default::default()), |s| s.parse()).expect("a scheme name");
    let tracks: u8 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    let tok = Tokenizer::new(TokenizerConfig { scheme, tracks, ..TokenizerConfig::default() }).expect("valid config");
    let opts = ReadOptions { apply_sustain: true };

    let mut notes = 0u64;
    let mut ok = 0usize;
    for (p, b) in &data {
        if let Ok(piece) = read_bytes(b, p, &opts) {
            notes += piece.note_count() as u64;
            ok += 1;
        }
    }
    let best = |f: &dyn Fn() -> u64| -> f64 {
        (0..repeats)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let parse = best(&|| {
        data.iter().filter_map(|(p, b)| read_bytes(b, p, &opts).ok()).map(|x| x.note_count() as u64).sum()
    });
    let parse_tok = best(&|| {
        data.iter()
            .filter_map(|(p, b)| read_bytes(b, p, &opts).ok())
            .map(|x| tok.encode(&x).len() as u64)
            .sum()
    });
    let parallel = best(&|| {
        data.par_iter()
            .filter_map(|(p, b)| read_bytes(b, p, &opts).ok())
            .map(|x| tok.encode(&x).len() as u64)
            .sum()
    });
    let n = data.len() as f64;
    println!(
        "{}",
        serde_json::json!({
            "scheme": scheme.name(), "files": data.len(), "readable": ok, "notes": notes, "threads": rayon::current_num_threads(),
            "parse_s": parse, "parse_tokenize_s": parse_tok, "parallel_parse_tokenize_s": parallel,
            "parse_files_per_s": n / parse, "parse_notes_per_s": notes as f64 / parse,
            "tokenize_files_per_s": n / parse_tok, "tokenize_notes_per_s": notes as f64 / parse_tok,
            "parallel_files_per_s": n / parallel, "parallel_notes_per_s": notes as f64 / parallel,
        })
    );
}
