//! `cadenza check-copy` end to end, through the built binary, on a tiny corpus written with
//! cadenza's own MIDI writer: a planted quote (transposed, at another tempo and resolution,
//! between random notes) is found with its source, beats and transposition, from a folder and
//! from a token store; a training file is all copy; random notes are next to none; bad input
//! gives one clear line and a non-zero exit, and a bad file among good ones spoils only itself.

mod common;

use std::path::{Path, PathBuf};

use cadenza::midi::{write_file, Instrument, Note, Piece, TempoChange};
use rand::{Rng, SeedableRng};

/// Notes of the training tunes (`common::tune`: eighth notes, pitches 55-74).
const TUNE_NOTES: u64 = 64;

/// A corpus of 6 tunes in two folders; `sub/t03.mid` is the one quoted.
fn corpus(dir: &Path) -> PathBuf {
    let root = dir.join("corpus");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    for i in 0..6u64 {
        let sub = if i % 2 == 1 { "sub/" } else { "" };
        write_file(&common::tune(480, 100 + i, TUNE_NOTES), &root.join(format!("{sub}t{i:02}.mid"))).unwrap();
    }
    root
}

/// A piece of `(beat, pitch)` notes at `tpb` ticks per beat and `bpm`.
fn piece(tpb: u16, bpm: u32, notes: &[(f64, u8)]) -> Piece {
    let mut p = Piece::new(tpb);
    p.tempos.push(TempoChange { tick: 0, micros_per_beat: 60_000_000 / bpm });
    let notes = notes
        .iter()
        .map(|&(beat, pitch)| {
            let start = (beat * f64::from(tpb)).round() as u64;
            Note { start, end: start + u64::from(tpb) / 4, pitch, velocity: 70 }
        })
        .collect();
    p.instruments.push(Instrument { name: "q".into(), notes, ..Instrument::default() });
    p.normalize();
    p
}

/// `n` random notes from `beat` on, `gap` beats apart, pitches 40-89.
fn random_notes(rng: &mut impl Rng, beat: f64, n: usize, gap: f64) -> Vec<(f64, u8)> {
    (0..n).map(|i| (beat + i as f64 * gap, rng.random_range(40..90))).collect()
}

/// The quote: notes 20..36 of `sub/t03.mid` (beat 10 on), up 3 semitones, starting at beat
/// `QUOTE_BEAT` of a file at 96 ticks per beat and 90 bpm (the corpus: 480 and 120), between
/// random notes a third and three quarters of a beat apart (no tune moves so), so the copy is
/// exactly the 16 quoted notes.
const QUOTE_BEAT: f64 = 21.0;

fn quote(path: &Path) {
    let tune = common::tune(480, 103, TUNE_NOTES);
    let quoted = &tune.instruments[0].notes[20..36];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut notes = random_notes(&mut rng, 0.0, 30, 1.0 / 3.0);
    let first = quoted[0].start as f64 / 480.0;
    notes.extend(quoted.iter().map(|n| (n.start as f64 / 480.0 - first + QUOTE_BEAT, n.pitch + 3)));
    let after = QUOTE_BEAT + (quoted[15].start - quoted[0].start) as f64 / 480.0 + 1.25;
    notes.extend(random_notes(&mut rng, after, 30, 0.75));
    write_file(&piece(96, 90, &notes), path).unwrap();
}

fn run(tmp: &Path, args: &[&str]) -> std::process::Output {
    common::cadenza(tmp).arg("check-copy").args(args).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn reports(out: &std::process::Output) -> Vec<serde_json::Value> {
    common::json(&out.stdout).as_array().expect("a JSON array").clone()
}

fn assert_quote_found(r: &serde_json::Value) {
    assert!(r["longest_notes"].as_u64().unwrap() >= 16, "{r}");
    assert_eq!(r["source"], "sub/t03.mid", "{r}");
    assert_eq!(r["beat"].as_f64(), Some(QUOTE_BEAT), "{r}");
    assert_eq!(r["source_beat"].as_f64(), Some(10.0), "{r}");
    assert_eq!(r["transposition"].as_i64(), Some(3), "{r}");
    // 16 of 76 notes.
    let share = r["copied_share"].as_f64().unwrap();
    assert!((share - 16.0 / 76.0).abs() < 1e-9, "{r}");
}

#[test]
fn a_planted_quote_is_found_with_its_source_beats_and_transposition() {
    let d = tempfile::tempdir().unwrap();
    let root = corpus(d.path());
    let q = d.path().join("quote.mid");
    quote(&q);
    let out = run(d.path(), &[s(&q), "--corpus", s(&root), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = reports(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["file"], s(&q));
    assert_quote_found(&r[0]);
    let keys: Vec<&str> = r[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 7, "{keys:?}");

    // The line says the same.
    let out = run(d.path(), &[s(&q), "--corpus", s(&root)]);
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.contains("longest copy 16 notes at beat 21, from sub/t03.mid beat 10, transposed +3"),
        "{line}"
    );
    assert!(line.contains("copied share 21.1%"), "{line}");

    // And from a token store of the corpus.
    let store = d.path().join("store");
    let built =
        common::cadenza(d.path()).args(["corpus", "build", s(&root), "--out", s(&store)]).output().unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let out = run(d.path(), &[s(&q), "--store", s(&store), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_quote_found(&reports(&out)[0]);
}

#[test]
fn a_training_file_is_all_copy_and_random_notes_next_to_none() {
    let d = tempfile::tempdir().unwrap();
    let root = corpus(d.path());
    // Random notes moving like the tunes (eighth notes), to give chance its best shot.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let random = d.path().join("random.mid");
    let notes: Vec<(f64, u8)> = (0..200).map(|i| (f64::from(i) * 0.5, rng.random_range(55..75))).collect();
    write_file(&piece(480, 120, &notes), &random).unwrap();
    let own = root.join("t02.mid");
    let out = run(d.path(), &[s(&own), s(&random), "--corpus", s(&root), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = reports(&out);
    assert_eq!(r[0]["copied_share"].as_f64(), Some(1.0), "{}", r[0]);
    assert_eq!(r[0]["longest_notes"].as_u64(), Some(TUNE_NOTES), "{}", r[0]);
    assert_eq!((r[0]["source"].as_str(), r[0]["transposition"].as_i64()), (Some("t02.mid"), Some(0)));
    let share = r[1]["copied_share"].as_f64().unwrap();
    assert!(share < 0.1, "{}", r[1]);
    assert!(r[1]["longest_notes"].as_u64().unwrap() < 8, "{}", r[1]);
}

#[test]
fn bad_input_is_one_clear_line_and_a_bad_file_spoils_only_itself() {
    let d = tempfile::tempdir().unwrap();
    let root = corpus(d.path());
    let good = root.join("t00.mid");
    let bad = d.path().join("bad.mid");
    std::fs::write(&bad, b"MThd not a MIDI file").unwrap();
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();

    let out = run(d.path(), &[s(&good), "--corpus", s(&root), "--min", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--min"), "{}", stderr(&out));

    let missing = d.path().join("no-such-corpus");
    let out = run(d.path(), &[s(&good), "--corpus", s(&missing)]);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(e.starts_with("error: ") && e.contains("no-such-corpus") && e.trim().lines().count() == 1, "{e}");
    assert!(out.stdout.is_empty());

    let empty = d.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(d.path(), &[s(&good), "--corpus", s(&empty)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no MIDI files"), "{}", stderr(&out));

    let out = run(d.path(), &[s(&good), "--store", s(&missing)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no-such-corpus"), "{}", stderr(&out));

    for json in [false, true] {
        let mut args = vec![s(&bad), s(&good), "--corpus", s(&root)];
        if json {
            args.push("--json");
        }
        let out = run(d.path(), &args);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let e = stderr(&out);
        assert!(e.contains("bad.mid") && e.contains("invalid MIDI file"), "{e}");
        assert!(e.contains("1 of 2 files could not be checked"), "{e}");
        if json {
            let r = reports(&out);
            assert_eq!(r.len(), 1);
            assert_eq!(r[0]["file"], s(&good));
            assert_eq!(r[0]["copied_share"].as_f64(), Some(1.0));
        } else {
            let lines = String::from_utf8(out.stdout).unwrap();
            assert_eq!(lines.lines().count(), 1, "{lines}");
            assert!(lines.starts_with(s(&good)) && lines.contains("copied share 100.0%"), "{lines}");
        }
    }
}
