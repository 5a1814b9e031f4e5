//! End-to-end: `cadenza classify train | eval | predict` through the binary on a synthetic
//! two-label corpus (diatonic scales against chromatic clusters), and the one-line errors for
//! bad input.

#![cfg(feature = "lstm")]

mod common;

use std::path::{Path, PathBuf};

use cadenza::midi::{write_file, Instrument, Note, Piece, TempoChange};
use common::{cadenza, json, tiny_corpus, train};

fn piece(notes: Vec<Note>) -> Piece {
    let mut p = Piece::new(480);
    p.tempos.push(TempoChange { tick: 0, micros_per_beat: 500_000 });
    p.instruments.push(Instrument { program: 0, channel: 0, is_drum: false, name: "Piano".into(), notes });
    p.normalize();
    p
}

/// Eighth-note runs up and down a major scale from `tonic`, `beats` beats long.
fn scale(tonic: u8, beats: u64) -> Piece {
    let steps = [0u8, 2, 4, 5, 7, 9, 11, 12, 11, 9, 7, 5, 4, 2];
    let notes = (0..beats * 2)
        .map(|i| {
            let pitch = tonic + steps[(i % steps.len() as u64) as usize];
            Note { start: i * 240, end: i * 240 + 220, pitch, velocity: 70 }
        })
        .collect();
    piece(notes)
}

/// Half-note clusters of four adjacent semitones, moving by `stride` semitones.
fn clusters(low: u8, beats: u64, stride: u8) -> Piece {
    let mut notes = Vec::new();
    for i in 0..beats / 2 {
        let base = low + (i as u8 * stride) % 12;
        for k in 0..4 {
            notes.push(Note { start: i * 960, end: i * 960 + 900, pitch: base + k, velocity: 70 });
        }
    }
    piece(notes)
}

/// `data/scales/*.mid` and `data/clusters/*.mid`, `n` each, all different.
fn synthetic(dir: &Path, n: u8) -> PathBuf {
    let root = dir.join("data");
    for sub in ["scales", "clusters"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    for i in 0..n {
        let beats = 12 + u64::from(i % 9);
        write_file(&scale(55 + i % 12, beats), &root.join(format!("scales/s{i:02}.mid"))).unwrap();
        write_file(&clusters(50 + i % 10, beats, 1 + i % 5), &root.join(format!("clusters/c{i:02}.mid")))
            .unwrap();
    }
    root
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Tiny network and window, few steps: seconds on one core.
const QUICK: &[&str] =
    &["--window-beats", "4", "--width", "4", "--blocks", "2", "--batch", "16", "--device", "cpu"];

/// Run `cadenza ARGS`, expect failure with exactly one `error:` line on stderr containing every
/// one of `wanted`.
fn fails_with(tmp: &Path, args: &[&str], wanted: &[&str]) {
    let out = cadenza(tmp).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line expected: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for w in wanted {
        assert!(lines[0].contains(w), "{args:?}: `{w}` not in: {stderr}");
    }
}

#[test]
fn synthetic_styles_are_told_apart_and_predicted() {
    let tmp = tempfile::tempdir().unwrap();
    let data = synthetic(tmp.path(), 40);
    let ckpt = tmp.path().join("syn.classifier");
    let out = cadenza(tmp.path())
        .args([
            "classify",
            "train",
            "--data",
            s(&data),
            "--out",
            s(&ckpt),
            "--steps",
            "80",
            "--eval-every",
            "40",
        ])
        .args(QUICK)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("wrote"));

    let out = cadenza(tmp.path())
        .args([
            "classify",
            "eval",
            s(&ckpt),
            "--data",
            s(&data),
            "--split",
            "test",
            "--json",
            "--device",
            "cpu",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out.stdout);
    assert!(v["pieces"].as_u64().unwrap() >= 4, "{v}");
    for level in ["piece", "window"] {
        let m = &v[level];
        assert_eq!(m["accuracy"].as_f64(), Some(1.0), "{level}: {v}");
        assert_eq!(m["macro_f1"].as_f64(), Some(1.0), "{level}: {v}");
        assert_eq!(m["per_label"]["scales"]["recall"].as_f64(), Some(1.0), "{v}");
        assert_eq!(m["confusion"]["labels"], serde_json::json!(["clusters", "scales"]));
        assert_eq!(m["confusion"]["counts"][0][1], 0, "{v}");
    }
    // Text output too.
    let out = cadenza(tmp.path()).args(["classify", "eval", s(&ckpt), "--data", s(&data)]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("piece level: accuracy 1.0000, macro-F1 1.0000"), "{text}");

    // New pieces, never seen: a scale and a cluster piece.
    let a = tmp.path().join("new_scale.mid");
    let b = tmp.path().join("new_clusters.mid");
    write_file(&scale(62, 16), &a).unwrap();
    write_file(&clusters(57, 16, 3), &b).unwrap();
    let out =
        cadenza(tmp.path()).args(["classify", "predict", s(&ckpt), s(&a), s(&b), "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out.stdout);
    assert_eq!(v[0]["label"], "scales", "{v}");
    assert_eq!(v[1]["label"], "clusters", "{v}");
    let total: f64 = v[0]["probs"].as_object().unwrap().values().map(|p| p.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-4, "{v}");

    // A classifier is not a generator.
    fails_with(
        tmp.path(),
        &["eval", s(&ckpt), "--corpus", s(&data)],
        &["syn.classifier", "style classifier"],
    );
    fails_with(tmp.path(), &["generate", s(&ckpt), "--out", s(&tmp.path().join("g"))], &["style classifier"]);
    fails_with(
        tmp.path(),
        &["compare", "--corpus", s(&data), "--models", s(&ckpt), "--out", s(&tmp.path().join("c"))],
        &["style classifier"],
    );
    // Data with a label the classifier does not know.
    let other = tmp.path().join("other");
    for (sub, src) in [("scales", "scales/s01.mid"), ("waltzes", "clusters/c01.mid")] {
        std::fs::create_dir_all(other.join(sub)).unwrap();
        std::fs::copy(data.join(src), other.join(sub).join("x.mid")).unwrap();
    }
    fails_with(
        tmp.path(),
        &["classify", "eval", s(&ckpt), "--data", s(&other)],
        &["label `waltzes`", "unknown to this classifier"],
    );
}

#[test]
fn bad_input_gives_one_clear_error_line() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let out = t.join("x.classifier");
    let train_on = |data: &Path| -> Vec<String> {
        ["classify", "train", "--data", s(data), "--out", s(&out), "--steps", "1"]
            .iter()
            .map(|a| a.to_string())
            .collect()
    };
    let run = |args: Vec<String>, wanted: &[&str]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_with(t, &args, wanted);
    };

    // One label only.
    let one = t.join("one");
    std::fs::create_dir_all(one.join("scales")).unwrap();
    write_file(&scale(60, 8), &one.join("scales/a.mid")).unwrap();
    run(train_on(&one), &["one", "at least two label folders", "found 1 (scales)"]);

    // An empty label folder.
    std::fs::create_dir_all(one.join("clusters")).unwrap();
    run(train_on(&one), &["clusters", "label folder `clusters` holds no MIDI files"]);

    // A label folder whose only MIDI file is not MIDI at all.
    std::fs::write(one.join("clusters/fake.mid"), b"this is text, not a standard MIDI file").unwrap();
    run(train_on(&one), &["label `clusters` is usable", "fake.mid"]);

    // Not a directory.
    run(train_on(&t.join("missing")), &["missing"]);
    assert!(!out.exists(), "nothing is written on failure");

    // A checkpoint of another kind.
    let corpus = tiny_corpus(t, 12, false);
    let markov = train(t, &corpus, "markov", &["--order", "2"]);
    let midi = s(&corpus.join("piece01.mid")).to_string();
    run(
        vec!["classify".into(), "predict".into(), s(&markov).into(), midi.clone()],
        &["tiny.markov", "holds a markov model, expected classifier"],
    );
    run(
        vec!["classify".into(), "eval".into(), s(&markov).into(), "--data".into(), s(&one).into()],
        &["holds a markov model, expected classifier"],
    );
}

#[test]
fn predict_names_a_non_midi_file() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let data = synthetic(t, 12);
    let ckpt = t.join("q.classifier");
    let args: Vec<&str> = ["classify", "train", "--data", s(&data), "--out", s(&ckpt)]
        .into_iter()
        .chain(QUICK.iter().copied())
        .chain(["--steps", "2", "--eval-every", "1"])
        .collect();
    cadenza(t).args(&args).assert().success();
    let text = t.join("notes.txt");
    std::fs::write(&text, b"hello").unwrap();
    fails_with(t, &["classify", "predict", s(&ckpt), s(&text)], &["notes.txt", "invalid MIDI file"]);
    fails_with(t, &["classify", "predict", s(&ckpt), s(&t.join("absent.mid"))], &["absent.mid"]);
}

/// `eval` scores the split the classifier was trained on: `train --split-key` is recorded in the
/// checkpoint, and with byte-different copies of pieces the two keys give different test splits.
#[test]
fn eval_uses_the_split_key_the_classifier_was_trained_with() {
    use cadenza::classify::{LabelledSet, RollConfig};
    use cadenza::corpus::{Split, SplitKey};

    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let data = synthetic(t, 30);
    // A byte-different copy (other velocities) of every scale piece: the same music.
    for i in 0..30u8 {
        let mut p = scale(55 + i % 12, 12 + u64::from(i % 9));
        for n in &mut p.instruments[0].notes {
            n.velocity = 100;
        }
        write_file(&p, &data.join(format!("scales/s{i:02}-copy.mid"))).unwrap();
    }
    let roll = RollConfig { window_beats: 4, ..RollConfig::default() };
    let test_pieces =
        |key| LabelledSet::load(&data, &roll, key, None).unwrap().counts(Split::Test).iter().sum();
    let (by_music, by_bytes): (usize, usize) =
        (test_pieces(SplitKey::Music), test_pieces(SplitKey::FileBytes));
    // The copies, and the cluster pieces whose half-note groups come out the same.
    let repeats = LabelledSet::load(&data, &roll, SplitKey::Music, None).unwrap().musical_duplicates();
    assert!(repeats >= 30, "{repeats}");
    assert_ne!(by_music, by_bytes, "the data does not tell the two splits apart");

    for (flag, key, expected) in [(None, "music", by_music), (Some("file-bytes"), "file-bytes", by_bytes)] {
        let ckpt = t.join(format!("{key}.classifier"));
        let mut train = cadenza(t);
        train.args(["classify", "train", "--data", s(&data), "--out", s(&ckpt)]);
        train.args(["--steps", "2", "--eval-every", "1"]);
        train.args(QUICK);
        if let Some(f) = flag {
            train.args(["--split-key", f]);
        }
        let out = train.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(&format!("{repeats} piece(s) repeat the music of another")), "{said}");
        let out = cadenza(t)
            .args(["classify", "eval", s(&ckpt), "--data", s(&data), "--json", "--device", "cpu"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v = json(&out.stdout);
        assert_eq!(v["split_key"], key, "{v}");
        assert_eq!(v["pieces"].as_u64(), Some(expected as u64), "{key}: {v}");
    }
}
