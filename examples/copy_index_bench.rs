//! The copy index (issue 24) on a corpus folder: how long reading the MIDI files takes, how long
//! building the suffix automaton takes, its size, and how long checking a 500-note piece takes
//! once it is built. Prints one JSON object.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release --example copy_index_bench -- DIR [REPEATS] [--held-out K]
//! ```
//!
//! The 500-note pieces: random notes (eighth notes, pitches 55-79, seeded), and the first 500
//! notes of the corpus (its first pieces one after the other: nearly all copy, the longest
//! walks through the automaton).
//!
//! With `--held-out K`, also the baseline of real music: every K-th piece checked against an
//! index of the others (K = 1: every piece against all the others, one index each), the
//! longest copies and the copied shares at several `min`s. What generated music copies is to be
//! read against this, not against 0.

use std::path::PathBuf;
use std::time::Instant;

use cadenza::copies::{CopyIndex, NoteKey, COPY_STEPS_PER_BEAT};
use cadenza::midi::{Instrument, Note, Piece};
use cadenza::originality::{check, check_piece, folder_notes, index_keys};
use rand::{Rng, SeedableRng};

const QUERY_NOTES: usize = 500;

/// A piece at one tick per copy-grid step holding `keys`.
fn piece_of(keys: &[NoteKey]) -> Piece {
    let mut p = Piece::new(COPY_STEPS_PER_BEAT as u16);
    let notes = keys
        .iter()
        .map(|k| Note { start: k.onset, end: k.onset + 1, pitch: k.pitch, velocity: 80 })
        .collect();
    p.instruments.push(Instrument { notes, ..Instrument::default() });
    p
}

/// Milliseconds per check of `piece` against `index`, averaged over `repeats`; and the copied
/// share found (so the work is not optimized away, and as a sanity figure).
fn time_check(index: &CopyIndex, piece: &Piece, repeats: usize) -> (f64, f64, usize) {
    let mut share = 0.0;
    let mut longest = 0;
    let t = Instant::now();
    for _ in 0..repeats {
        let r = check_piece(index, "query", piece, 8);
        share = r.copied_share;
        longest = r.longest_notes;
    }
    (t.elapsed().as_secs_f64() * 1e3 / repeats as f64, share, longest)
}

/// A figure of `/proc/self/status` (`VmRSS:`, `VmHWM:`) in MB. The start figure counts the
/// shared libraries (libtorch) the binary maps; the index is the difference.
fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The baseline of real music: every `every`-th piece of `pieces` checked against an index of
/// the others (`every` = 1: each piece against all the others).
fn held_out(pieces: &[(String, Vec<NoteKey>)], every: usize) -> serde_json::Value {
    const MINS: [usize; 5] = [8, 12, 16, 24, 32];
    let mut longest = Vec::new();
    let mut shares: Vec<Vec<f64>> = vec![Vec::new(); MINS.len()];
    let mut check_held = |index: &CopyIndex, held: &[usize]| {
        for &i in held {
            let keys = &pieces[i].1;
            for (s, &min) in shares.iter_mut().zip(&MINS) {
                s.push(check(index, "", keys, min).copied_share);
            }
            longest.push(check(index, "", keys, 8).longest_notes as f64);
        }
    };
    let others = |held: &[usize]| {
        index_keys(
            pieces
                .iter()
                .enumerate()
                .filter(|(j, _)| !held.contains(j))
                .map(|(_, (n, k))| (n.clone(), k.clone())),
        )
    };
    if every == 1 {
        for i in 0..pieces.len() {
            check_held(&others(&[i]), &[i]);
        }
    } else {
        let held: Vec<usize> = (0..pieces.len()).step_by(every).collect();
        check_held(&others(&held), &held);
    }
    let summary = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len().max(1);
        serde_json::json!({
            "mean": v.iter().sum::<f64>() / n as f64,
            "median": v.get(v.len() / 2),
            "p90": v.get(v.len() * 9 / 10),
        })
    };
    let by_min: serde_json::Map<String, serde_json::Value> =
        MINS.iter().zip(shares.iter_mut()).map(|(m, s)| (m.to_string(), summary(s))).collect();
    serde_json::json!({
        "every": every,
        "pieces": longest.len(),
        "longest_notes": summary(&mut longest),
        "copied_share_by_min": by_min,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: copy_index_bench CORPUS_DIR [REPEATS] [--held-out K]";
    let root = PathBuf::from(args.next().ok_or(usage)?);
    let mut repeats = 200;
    let mut held_out_every = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--held-out" => {
                held_out_every = Some(args.next().ok_or("--held-out K")?.parse::<usize>()?.max(1))
            }
            r => repeats = r.parse()?,
        }
    }
    let rss_start_mb = status_mb("VmRSS:");

    let t = Instant::now();
    let read = folder_notes(&root, None)?;
    let read_seconds = t.elapsed().as_secs_f64();
    let files = read.pieces.len() + read.skipped.len();
    let skipped = read.skipped.len();

    // The first QUERY_NOTES notes of the corpus, piece after piece (each shifted past the last).
    let mut copied = Vec::with_capacity(QUERY_NOTES);
    let mut offset = 0;
    for (_, keys) in &read.pieces {
        let Some(last) = keys.last() else { continue };
        copied.extend(keys.iter().map(|k| NoteKey { onset: k.onset + offset, pitch: k.pitch }));
        offset += last.onset + COPY_STEPS_PER_BEAT;
        if copied.len() >= QUERY_NOTES {
            break;
        }
    }
    copied.truncate(QUERY_NOTES);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(24);
    let random: Vec<NoteKey> = (0..QUERY_NOTES as u64)
        .map(|i| NoteKey { onset: i * COPY_STEPS_PER_BEAT / 2, pitch: rng.random_range(55..80) })
        .collect();

    let pieces = held_out_every.map(|_| read.pieces.clone());
    let t = Instant::now();
    let index = index_keys(read.pieces);
    let build_seconds = t.elapsed().as_secs_f64();

    let (random_ms, random_share, random_longest) = time_check(&index, &piece_of(&random), repeats);
    let (copied_ms, copied_share, copied_longest) = time_check(&index, &piece_of(&copied), repeats);
    let held_out = match (held_out_every, pieces) {
        (Some(every), Some(pieces)) => Some(held_out(&pieces, every)),
        _ => None,
    };
    let out = serde_json::json!({
        "corpus": root.display().to_string(),
        "threads": rayon::current_num_threads(),
        "files": files,
        "skipped": skipped,
        "pieces": index.pieces(),
        "notes": index.notes(),
        "states": index.states(),
        "heap_bytes": index.heap_bytes(),
        "read_seconds": read_seconds,
        "build_seconds": build_seconds,
        "total_seconds": read_seconds + build_seconds,
        "query_notes": QUERY_NOTES,
        "repeats": repeats,
        "check_ms_random": random_ms,
        "random_copied_share_min8": random_share,
        "random_longest_notes": random_longest,
        "check_ms_corpus_notes": copied_ms,
        "corpus_notes_copied_share_min8": copied_share,
        "corpus_notes_longest_notes": copied_longest,
        "rss_start_mb": rss_start_mb,
        "peak_rss_mb": status_mb("VmHWM:"),
        "held_out": held_out,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
