//! `cadenza infill` and `cadenza harmonize` end to end: files written, the same seed giving the
//! same bytes, and bad input told in one line with exit code 1.

mod common;

use std::path::Path;

use cadenza::midi::{read_file, write_file, Instrument, Note, Piece, ReadOptions};
use common::{cadenza, melody, tiny_corpus, train};

/// Run `cadenza ARGS`; (exit code, stdout, stderr).
fn run(tmp: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cadenza(tmp).args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// A failure: exit code 1, one line on stderr holding `needle`, no panic.
fn fails_with(tmp: &Path, args: &[&str], needle: &str) {
    let (code, _, err) = run(tmp, args);
    assert_eq!(code, 1, "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line, got {err}");
    assert!(err.contains(needle), "{args:?}: {err:?} does not say {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
}

fn single_line(notes: &[(u64, u64, u8)]) -> Piece {
    let mut p = Piece::new(480);
    let notes = notes
        .iter()
        .map(|&(s, e, pitch)| Note { start: s * 240, end: e * 240, pitch, velocity: 90 })
        .collect();
    p.instruments.push(Instrument { program: 0, channel: 0, is_drum: false, name: "tune".into(), notes });
    p
}

#[test]
fn infill_and_harmonize_write_their_files_and_repeat_with_a_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let ckpt = train(tmp.path(), &tiny_corpus(tmp.path(), 12, false), "markov", &["--order", "4"]);
    let ckpt = ckpt.to_str().unwrap();
    let piece = tmp.path().join("piece.mid");
    write_file(&melody(3, 6), &piece).unwrap();
    let original = read_file(&piece, &ReadOptions::default()).unwrap();
    for (dir, seed) in [("a", "5"), ("b", "5")] {
        let out = tmp.path().join(dir);
        let args = ["infill", ckpt, "--piece", piece.to_str().unwrap(), "--bars", "2-3", "--count", "2"];
        let (code, stdout, err) = run(
            tmp.path(),
            &[&args[..], &["--candidates", "4", "--rng-seed", seed, "--out", out.to_str().unwrap()]].concat(),
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(stdout.lines().count(), 2, "{stdout}");
        assert!(stdout.contains("candidate") && stdout.contains("new"), "{stdout}");
        assert!(err.contains("region: beats 4-12"), "bars 2-3 of 4/4 are beats 4-12: {err}");
    }
    for name in ["tiny-000.mid", "tiny-001.mid"] {
        let (a, b) = (tmp.path().join("a").join(name), tmp.path().join("b").join(name));
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "{name}: same seed, same bytes");
        // The notes outside the region are the original's.
        let edited = read_file(&a, &ReadOptions::default()).unwrap();
        let outside = |p: &Piece| {
            let mut v: Vec<Note> = p
                .instruments
                .iter()
                .flat_map(|i| i.notes.iter().copied())
                .filter(|n| n.start < 4 * 480 || n.start >= 12 * 480)
                .collect();
            v.sort();
            v
        };
        assert_eq!(outside(&edited), outside(&original), "{name}");
    }

    let tune = tmp.path().join("tune.mid");
    write_file(
        &single_line(&[(0, 2, 72), (2, 4, 71), (4, 8, 69), (8, 10, 67), (10, 12, 72), (12, 16, 71)]),
        &tune,
    )
    .unwrap();
    let out = tmp.path().join("h");
    let (code, stdout, err) = run(
        tmp.path(),
        &[
            "harmonize",
            ckpt,
            "--melody",
            tune.to_str().unwrap(),
            "--voices",
            "2",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let h = read_file(&out.join("tiny-000.mid"), &ReadOptions::default()).unwrap();
    assert!(h.instruments.len() >= 2 && h.note_count() > 6, "{stdout}");
}

#[test]
fn bad_input_is_one_line_and_exit_code_1() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ckpt = train(t, &tiny_corpus(t, 8, false), "markov", &["--order", "3"]);
    let ckpt = ckpt.to_str().unwrap();
    let piece = t.join("piece.mid");
    write_file(&melody(1, 4), &piece).unwrap();
    let piece = piece.to_str().unwrap();
    let out = t.join("out");
    let out = out.to_str().unwrap();
    let infill = |region: &[&'static str]| -> Vec<&str> {
        let mut v = vec!["infill", ckpt, "--piece", piece, "--out", out];
        v.extend_from_slice(region);
        v
    };
    fails_with(
        t,
        &infill(&["--beats", "40-44"]),
        "piece.mid: the region 40-44 beats lies outside the piece, which ends at",
    );
    fails_with(t, &infill(&["--beats", "8-8"]), "must end after it starts");
    fails_with(t, &infill(&["--beats", "9-3"]), "must end after it starts");
    fails_with(
        t,
        &infill(&["--bars", "5-6"]),
        "the region 5-6 bars lies outside the piece, which ends at 4 bars",
    );
    fails_with(t, &infill(&["--bars", "0-1"]), "bar 0 does not exist");
    fails_with(t, &infill(&["--beats", "four-8"]), "--beats must be A-B");
    fails_with(t, &[&infill(&["--beats", "0-4"])[..], &["--candidates", "0"]].concat(), "candidates must be");
    fails_with(t, &["infill", ckpt, "--piece", "missing.mid", "--beats", "0-4"], "missing.mid");
    fails_with(
        t,
        &["infill", "checkpoints/styles.classifier", "--piece", piece, "--beats", "0-4"],
        "not a generator",
    );
    assert!(!Path::new(out).join("tiny-000.mid").exists(), "nothing written by a failure");

    // A melody of chords, an empty one, one out of the model's range.
    let chords = t.join("chords.mid");
    write_file(&melody(0, 2), &chords).unwrap();
    let harmonize = |m: &Path, needle: &str| {
        fails_with(t, &["harmonize", ckpt, "--melody", m.to_str().unwrap(), "--out", out], needle)
    };
    harmonize(&chords, "the melody must be a single line, but C3 and C4 start together at beat 0");
    let empty = t.join("empty.mid");
    write_file(&Piece::new(480), &empty).unwrap();
    harmonize(&empty, "the melody has no notes");
    let high = t.join("high.mid");
    write_file(&single_line(&[(0, 2, 72), (2, 4, 120)]), &high).unwrap();
    harmonize(&high, "melody note C9 at beat 1 is outside the model's pitch range");

    // A piece the tokenizer keeps nothing of: drums for a piano-only model.
    let piano =
        train(t, &tiny_corpus(t, 8, false), "hmm", &["--merge-piano", "--states", "4", "--max-iters", "2"]);
    let drums = t.join("drums.mid");
    let mut d = single_line(&[(0, 1, 36), (1, 2, 38)]);
    d.instruments[0].is_drum = true;
    d.instruments[0].channel = 9;
    write_file(&d, &drums).unwrap();
    fails_with(
        t,
        &["infill", piano.to_str().unwrap(), "--piece", drums.to_str().unwrap(), "--beats", "0-1"],
        "keeps none of the piece's 2 notes",
    );
}

/// A fill is no denser than its piece and keeps to its instruments: regenerating beats 6-12 of
/// a tiny chain's own sample once wrote 741 notes, most on one step and in instruments the
/// piece never had (the chain's smoothing gives every program some weight, and a time step it
/// likes would have overshot the region's end, so it stacked notes instead).
#[test]
fn a_fill_is_no_denser_than_its_piece() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let corpus = tiny_corpus(t, 10, false);
    let ckpt = train(t, &corpus, "markov", &["--order", "3"]);
    let seed = t.join("seed.mid");
    write_file(&melody(2, 4), &seed).unwrap();
    let (ck, gen) = (ckpt.to_str().unwrap(), t.join("gen"));
    let (code, _, err) = run(
        t,
        &[
            "generate",
            ck,
            "--seed",
            seed.to_str().unwrap(),
            "--seed-beats",
            "4",
            "--length",
            "384",
            "--rng-seed",
            "11",
            "--out",
            gen.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let sample = gen.join("tiny-000.mid");
    let before = read_file(&sample, &ReadOptions::default()).unwrap();
    let region = |p: &Piece| {
        p.instruments.iter().flat_map(|i| &i.notes).filter(|n| (6 * 480..12 * 480).contains(&n.start)).count()
    };
    for rng in ["11", "12", "13"] {
        let out = t.join(format!("fill{rng}"));
        let (code, _, err) = run(
            t,
            &[
                "infill",
                ck,
                "--piece",
                sample.to_str().unwrap(),
                "--beats",
                "6-12",
                "--candidates",
                "4",
                "--rng-seed",
                rng,
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "{err}");
        let after = read_file(&out.join("tiny-000.mid"), &ReadOptions::default()).unwrap();
        assert!(after.instruments.iter().all(|i| i.program == 0 && !i.is_drum), "only the piece's piano");
        assert!(
            region(&after) <= 3 * region(&before).max(4),
            "seed {rng}: {} notes in the region, {} before",
            region(&after),
            region(&before)
        );
    }
}
