//! How many notes of multitrack files survive a round trip through tokens, for several
//! settings of the tokenizer's `tracks` (issue 25, "tracks kept"): with 1, instruments that
//! share a General MIDI program merge into one part (two violins, doubled guitars), and their
//! notes of one pitch pair up or merge.
//!
//! - **notes in**: each instrument's notes as that instrument alone quantizes (grid, pitch
//!   range, its own exact duplicates counted once): what a round trip should keep;
//! - **kept**: the notes of `decode(encode(piece))`.
//!
//! Sources: folders of MIDI files (every file with two or more instruments of one program), and
//! `--synthetic N` band files written here: three guitar tracks (two of them doubling one
//! rhythm part in unison), two string tracks on one chord, a bass and two drum tracks.
//!
//! ```text
//! cargo run --release --example track_round_trip -- [FOLDER...] [--synthetic N] [--tracks 1,2,4]
//! ```
//!
//! Prints one JSON object: per source and `tracks`, the files, notes in, notes kept, the share
//! kept and the worst file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cadenza::midi::{read_bytes, write_to_bytes, Instrument, Note, Piece, DRUM_CHANNEL};
use cadenza::tokens::{Scheme, Tokenizer, TokenizerConfig};
use rand::{Rng, SeedableRng};

/// A band file: `seed` picks the chords, riffs and drum pattern (16 bars of 4/4 at 480 tpb).
fn band(seed: u64) -> Piece {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let beat = 480u64;
    let bars = 16u64;
    let mut piece = Piece::new(beat as u16);
    let inst = |program: u8, channel: u8, is_drum: bool, name: &str| Instrument {
        program,
        channel,
        is_drum,
        name: name.to_string(),
        notes: Vec::new(),
    };
    let (mut rhythm_l, mut rhythm_r, mut lead) =
        (inst(29, 0, false, "Gtr L"), inst(29, 1, false, "Gtr R"), inst(29, 2, false, "Lead"));
    let (mut strings_a, mut strings_b) = (inst(48, 3, false, "Str A"), inst(48, 4, false, "Str B"));
    let mut bass = inst(33, 5, false, "Bass");
    let (mut kit, mut hats) = (inst(0, DRUM_CHANNEL, true, "Kit"), inst(0, DRUM_CHANNEL, true, "Hats"));
    let roots = [40u8, 45, 43, 38, 41, 36];
    let note =
        |pitch: u8, start: u64, len: u64, velocity: u8| Note { start, end: start + len, pitch, velocity };
    for bar in 0..bars {
        let root = roots[rng.random_range(0..roots.len())];
        let t0 = bar * 4 * beat;
        for eighth in 0..8 {
            let start = t0 + eighth * beat / 2;
            // Power chords, the same on both rhythm guitars.
            for p in [root + 12, root + 19, root + 24] {
                let v = rng.random_range(80..110);
                rhythm_l.notes.push(note(p, start, beat / 2 - 20, v));
                rhythm_r.notes.push(note(p, start, beat / 2 - 20, v));
            }
            if rng.random_bool(0.6) {
                let scale = [0u8, 3, 5, 7, 10, 12, 15];
                let p = root + 24 + scale[rng.random_range(0..scale.len())];
                lead.notes.push(note(p, start, beat / 2, rng.random_range(90..120)));
            }
            hats.notes.push(note(42, start, 60, 70));
        }
        // One held chord in two string parts (the same pitches).
        for p in [root + 24, root + 28, root + 31] {
            strings_a.notes.push(note(p, t0, 4 * beat, 60));
            strings_b.notes.push(note(p, t0, 4 * beat, 64));
        }
        for b in 0..4 {
            bass.notes.push(note(root, t0 + b * beat, beat - 40, 100));
            kit.notes.push(note(if b % 2 == 0 { 36 } else { 38 }, t0 + b * beat, 120, 110));
        }
    }
    piece.instruments = vec![rhythm_l, rhythm_r, lead, strings_a, strings_b, bass, kit, hats];
    piece.normalize();
    piece
}

/// Whether two instruments of `piece` share a program (drum kits count as one program).
fn shares_a_program(piece: &Piece) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    piece
        .instruments
        .iter()
        .filter(|i| !i.notes.is_empty())
        .any(|i| !seen.insert(if i.is_drum { 128 } else { u16::from(i.program) }))
}

/// Notes in (each instrument quantized alone) and kept (the round trip), for `tokenizer`.
fn count(tokenizer: &Tokenizer, piece: &Piece) -> (usize, usize) {
    let alone = |i: &Instrument| Piece { instruments: vec![i.clone()], ..piece.clone() };
    let notes_in = piece.instruments.iter().map(|i| tokenizer.quantize(&alone(i)).note_count()).sum();
    let kept = tokenizer.decode(&tokenizer.encode(piece)).note_count();
    (notes_in, kept)
}

fn main() {
    let mut folders: Vec<PathBuf> = Vec::new();
    let mut synthetic = 0u64;
    let mut tracks: Vec<u8> = vec![1, 2, 4];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--synthetic" => synthetic = args.next().and_then(|v| v.parse().ok()).expect("--synthetic N"),
            "--tracks" => {
                tracks = args
                    .next()
                    .expect("--tracks 1,2,4")
                    .split(',')
                    .map(|t| t.parse().expect("a number of tracks"))
                    .collect()
            }
            _ => folders.push(PathBuf::from(a)),
        }
    }
    // (source name, file name, piece)
    let mut sources: Vec<(String, String, Piece)> = Vec::new();
    let plain = Tokenizer::new(TokenizerConfig { scheme: Scheme::Tsd, ..Default::default() }).unwrap();
    for folder in &folders {
        let mut files: Vec<PathBuf> = walk(folder);
        files.sort();
        for f in files {
            let Ok(bytes) = std::fs::read(&f) else { continue };
            match read_bytes(&bytes, &f, &plain.read_options()) {
                Ok(p) if shares_a_program(&p) => {
                    let name = f.file_name().unwrap_or_default().to_string_lossy().into_owned();
                    sources.push((folder.display().to_string(), name, p));
                }
                Ok(_) => {}
                Err(e) => eprintln!("skipped: {e}"),
            }
        }
    }
    for s in 0..synthetic {
        // Through MIDI bytes and back, so the reader's tracks are what the tokenizer sees.
        let bytes = write_to_bytes(&band(s));
        let name = format!("band-{s:03}.mid");
        let p =
            read_bytes(&bytes, Path::new(&name), &plain.read_options()).expect("a file written here reads");
        sources.push(("synthetic".into(), name, p));
    }
    let mut out = serde_json::Map::new();
    let mut by_source: BTreeMap<&str, Vec<(&str, &Piece)>> = BTreeMap::new();
    for (src, name, p) in &sources {
        by_source.entry(src.as_str()).or_default().push((name.as_str(), p));
    }
    for (src, pieces) in by_source {
        let mut rows = serde_json::Map::new();
        for &t in &tracks {
            let tok =
                Tokenizer::new(TokenizerConfig { scheme: Scheme::Tsd, tracks: t, ..Default::default() })
                    .expect("tracks in 1..=16");
            let (mut total_in, mut total_kept) = (0usize, 0usize);
            let mut worst = (f64::INFINITY, String::new(), 0usize, 0usize);
            for &(name, p) in &pieces {
                let (n_in, kept) = count(&tok, p);
                total_in += n_in;
                total_kept += kept;
                let share = kept as f64 / n_in.max(1) as f64;
                if share < worst.0 {
                    worst = (share, name.to_string(), n_in, kept);
                }
            }
            rows.insert(
                format!("tracks {t}"),
                serde_json::json!({
                    "files": pieces.len(),
                    "notes_in": total_in,
                    "kept": total_kept,
                    "share_kept": total_kept as f64 / total_in.max(1) as f64,
                    "worst": { "file": worst.1, "notes_in": worst.2, "kept": worst.3, "share_kept": worst.0 },
                }),
            );
        }
        out.insert(src.to_string(), serde_json::Value::Object(rows));
    }
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}

/// Every `.mid`/`.midi` file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("mid") || x.eq_ignore_ascii_case("midi"))
        {
            out.push(p);
        }
    }
    out
}
