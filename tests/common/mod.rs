//! Helpers shared by the end-to-end tests: tiny corpora written with cadenza's own MIDI writer.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use cadenza::midi::{write_file, Instrument, Note, Piece, TempoChange};

/// A small deterministic generator of numbers.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// A short piece: a scale-like melody over `bars` bars whose shape depends on `variant`.
pub fn melody(variant: u8, bars: u64) -> Piece {
    let mut p = Piece::new(480);
    p.tempos.push(TempoChange { tick: 0, micros_per_beat: 500_000 });
    let steps = [0u8, 2, 4, 5, 7, 9, 11, 12];
    let mut notes = Vec::new();
    for i in 0..bars * 4 {
        let pitch = 60 + steps[((i + u64::from(variant)) % 8) as usize];
        notes.push(Note { start: i * 480, end: i * 480 + 400, pitch, velocity: 64 + (i % 3) as u8 * 16 });
        if i % 2 == 0 {
            notes.push(Note { start: i * 480, end: i * 480 + 960, pitch: pitch - 12, velocity: 50 });
        }
    }
    p.instruments.push(Instrument { program: 0, channel: 0, is_drum: false, name: "Piano".into(), notes });
    p.normalize();
    p
}

/// A folder of `n` small MIDI files (plus, with `bad`, one corrupt file and one text file).
pub fn tiny_corpus(dir: &Path, n: u8, bad: bool) -> PathBuf {
    let root = dir.join("corpus");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    for i in 0..n {
        let sub = if i % 3 == 0 { "sub/" } else { "" };
        write_file(&melody(i, 4 + u64::from(i % 4)), &root.join(format!("{sub}piece{i:02}.mid"))).unwrap();
    }
    if bad {
        std::fs::write(root.join("broken.mid"), b"MThd\x00\x00\x00\x06\x00\x01\x00\x02").unwrap();
        std::fs::write(root.join("readme.txt"), b"not midi").unwrap();
    }
    root
}

/// `n` small MIDI files with distinct music (every eighth piece a semitone higher, so their
/// music keys, and with them the splits, differ) and distinct bytes (the first note's velocity).
/// Each ends on a low B flat, which puts pieces in every split for the 20 to 40 pieces the tests
/// use (splits are a deterministic hash of the music: 24 pieces, say, are 18 / 2 / 4).
pub fn distinct_corpus(dir: &Path, n: u8) -> PathBuf {
    let root = dir.join("corpus");
    std::fs::create_dir_all(&root).unwrap();
    for i in 0..n {
        let mut p = melody(i % 8, 4 + u64::from(i % 4));
        for note in &mut p.instruments[0].notes {
            note.pitch += i / 8;
        }
        let end = p.end_tick();
        p.instruments[0].notes.push(Note { start: end, end: end + 480, pitch: 46, velocity: 60 });
        p.instruments[0].notes[0].velocity = 20 + i;
        write_file(&p, &root.join(format!("piece{i:02}.mid"))).unwrap();
    }
    root
}

/// The `cadenza` binary under test, with the token cache pointed into `cache`.
pub fn cadenza(cache: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("cadenza").unwrap();
    c.env("CADENZA_CACHE", cache);
    c
}

/// Every MIDI file directly in `dir`, read, in file-name order.
pub fn pieces_in(dir: &Path) -> Vec<Piece> {
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|f| cadenza::midi::read_file(f, &Default::default()).unwrap()).collect()
}

/// `cadenza generate CKPT --count 6 --out TMP/OUT EXTRA...`, run (not checked).
pub fn generate6(tmp: &Path, ckpt: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    cadenza(tmp)
        .args(["generate", ckpt.to_str().unwrap(), "--count", "6", "--out"])
        .arg(tmp.join(out))
        .args(extra)
        .output()
        .unwrap()
}

/// Parse a command's JSON output, showing it on failure.
pub fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(out)))
}

/// `cadenza train --model MODEL` on `corpus` plus `extra` options; the checkpoint is
/// `tmp/tiny.MODEL`.
pub fn train(tmp: &Path, corpus: &Path, model: &str, extra: &[&str]) -> PathBuf {
    let ckpt = tmp.join(format!("tiny.{model}"));
    let mut args = vec![
        "train",
        "--model",
        model,
        "--corpus",
        corpus.to_str().unwrap(),
        "--out",
        ckpt.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = cadenza(tmp).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("bits/token"), "train reports bits/token");
    ckpt
}

/// `cadenza eval CKPT --corpus CORPUS --split SPLIT EXTRA...`; its standard output, after
/// checking that it succeeded.
pub fn eval(tmp: &Path, ckpt: &Path, corpus: &Path, split: &str, extra: &[&str]) -> Vec<u8> {
    let out = cadenza(tmp)
        .args(["eval", ckpt.to_str().unwrap(), "--corpus", corpus.to_str().unwrap(), "--split", split])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `cadenza eval CKPT --corpus CORPUS --split SPLIT --json`, parsed.
pub fn eval_json(tmp: &Path, ckpt: &Path, corpus: &Path, split: &str) -> serde_json::Value {
    json(&eval(tmp, ckpt, corpus, split, &["--json"]))
}

/// The Python with the reference tools (mido, pretty_midi, hmmlearn...): `$CADENZA_PYTHON`, else
/// the checkout's `.pyenv/bin/python` (made by `scripts/setup.sh`). Without one the caller skips,
/// except under CI, where a missing Python is a failure.
pub fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("CADENZA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".pyenv/bin/python"));
    if candidate.exists() {
        return Some(candidate);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but there is no Python at {} (set CADENZA_PYTHON or run scripts/setup.sh)",
        candidate.display()
    );
    eprintln!("skipping: no Python at {} (set CADENZA_PYTHON or run scripts/setup.sh)", candidate.display());
    None
}

/// Bytes of `piece` with an unknown chunk (`XTRA`, 8 bytes of `tag`) after its tracks: a copy
/// with other bytes and the same music (readers must skip the chunk).
pub fn with_unknown_chunk(piece: &Piece, tag: u64) -> Vec<u8> {
    let mut bytes = cadenza::midi::write_to_bytes(piece);
    bytes.extend_from_slice(b"XTRA");
    bytes.extend_from_slice(&8u32.to_be_bytes());
    bytes.extend_from_slice(&tag.to_le_bytes());
    bytes
}

/// A pseudo-random melody of `notes` notes (eighth notes at `tpb` ticks per beat, velocities
/// varied), different for every `seed`.
pub fn tune(tpb: u16, seed: u64, notes: u64) -> Piece {
    let mut p = Piece::new(tpb);
    p.tempos.push(TempoChange { tick: 0, micros_per_beat: 500_000 });
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let step = u64::from(tpb) / 2;
    let mut out = Vec::new();
    for i in 0..notes {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let pitch = 55 + ((x >> 33) % 20) as u8;
        out.push(Note {
            start: i * step,
            end: i * step + step - 1,
            pitch,
            velocity: 40 + (x >> 50) as u8 % 60,
        });
    }
    p.instruments.push(Instrument {
        program: 0,
        channel: 0,
        is_drum: false,
        name: "melody".into(),
        notes: out,
    });
    p.normalize();
    p
}

/// A piece in `key`: 48 notes of random lengths (eighth to half notes), mostly on scale
/// degrees (harmonic minor in minor keys) with the tonic and dominant favoured, one note in
/// eight chromatic, and a two-note chord (I, IV, V, I) under every fourth note.
pub fn piece_in_key(key: cadenza::key::Key, seed: u64) -> Piece {
    let mut rng = Lcg(seed);
    let tpb = 480u64;
    // Minor keys with the leading tone of harmonic minor, as music in minor keys has it.
    let mut scale = key.scale();
    if key.mode == cadenza::key::Mode::Minor {
        scale[6] = (key.tonic + 11) % 12;
    }
    let mut piece = Piece::new(tpb as u16);
    piece.tempos.push(TempoChange { tick: 0, micros_per_beat: 500_000 });
    let mut melody = Instrument { program: 0, channel: 0, ..Instrument::default() };
    let mut chords = Instrument { program: 48, channel: 1, ..Instrument::default() };
    let mut t = 0;
    for i in 0..48usize {
        let len = tpb / 2 * (1 + rng.next(4));
        let pc = match rng.next(16) {
            0..=3 => scale[0],
            4..=5 => scale[4],
            6..=13 => scale[rng.next(7) as usize],
            _ => (scale[rng.next(7) as usize] + 1) % 12,
        };
        let pitch = 60 + pc;
        melody.notes.push(Note { start: t, end: t + len, pitch, velocity: 80 });
        if i % 4 == 0 {
            let root = scale[[0, 3, 4, 0][(i / 4) % 4]];
            let third = scale[([0, 3, 4, 0][(i / 4) % 4] + 2) % 7];
            for pc in [root, third] {
                chords.notes.push(Note { start: t, end: t + len, pitch: 48 + pc, velocity: 70 });
            }
        }
        t += len;
    }
    chords.notes.sort();
    piece.instruments = vec![melody, chords];
    piece
}
