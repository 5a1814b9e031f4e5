//! Key-relative training and generation in a key, end to end through the binary: a tiny Markov
//! chain trained with `--transpose-to-key` on pieces in many keys writes in the key it is asked
//! for (and in a seed's key by default); a checkpoint trained without it refuses `--key` with
//! one line; the setting is recorded and eval scores the checkpoint.

mod common;

use std::path::Path;

use cadenza::key::{key_of_notes, Key, Profile};
use common::{cadenza, generate6, piece_in_key, pieces_in, train};

/// 30 pieces, in 15 tonics and both modes.
fn corpus_in_many_keys(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("corpus");
    std::fs::create_dir_all(&root).unwrap();
    for (i, key) in Key::all().enumerate().chain(Key::all().enumerate().take(6)) {
        let seed = i as u64 * 31 + u64::from(key.tonic);
        let path = root.join(format!("{i:02}-{}.mid", key.to_string().replace(' ', "_").replace('#', "s")));
        let path = if path.exists() { root.join(format!("{i:02}-again.mid")) } else { path };
        cadenza::midi::write_file(&piece_in_key(key, seed), &path).unwrap();
    }
    root
}

/// The keys cadenza's finder hears in the MIDI files under `dir`.
fn keys_in(dir: &Path) -> Vec<Key> {
    pieces_in(dir).iter().map(|p| key_of_notes(p, None, Profile::AardenEssen).unwrap().key).collect()
}

fn generate(tmp: &Path, ckpt: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--length", "240"];
    args.extend_from_slice(extra);
    generate6(tmp, ckpt, out, &args)
}

#[test]
fn a_key_relative_markov_chain_writes_in_the_asked_key() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = corpus_in_many_keys(tmp.path());
    let ckpt = train(tmp.path(), &corpus, "markov", &["--order", "6", "--transpose-to-key"]);
    let header = cadenza::checkpoint::load_header(&ckpt).unwrap();
    assert!(header.tokenizer.key_relative, "the checkpoint records key-relative training");

    for asked in ["F# minor", "Eb major", "A minor"] {
        // This tiny chain writes in its major reference key about one time in ten (in one time
        // in two for minor), so it needs more candidates than the default 8.
        let out = generate(
            tmp.path(),
            &ckpt,
            asked,
            &["--key", asked, "--rng-seed", "3", "--key-candidates", "16"],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let want: Key = asked.parse().unwrap();
        let found = keys_in(&tmp.path().join(asked));
        let hits = found.iter().filter(|k| **k == want).count();
        assert!(hits >= 5, "asked for {asked}, found {found:?}");
    }

    // compare asks every model for the key the same way, and writes its samples in it.
    let out = cadenza(tmp.path())
        .args(["compare", "--corpus", corpus.to_str().unwrap(), "--models", ckpt.to_str().unwrap()])
        .args(["--samples", "6", "--length", "200", "--key", "F# minor", "--candidates", "16", "--no-audio"])
        .arg("--out")
        .arg(tmp.path().join("compared"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let samples = tmp.path().join("compared/samples");
    let model_dir = std::fs::read_dir(&samples).unwrap().next().unwrap().unwrap().path();
    let found = keys_in(&model_dir);
    let want: Key = "F# minor".parse().unwrap();
    assert!(found.len() == 6 && found.iter().filter(|k| **k == want).count() >= 4, "compare: {found:?}");

    // Without --key, a seed's key is kept: a D major seed is continued in D major.
    let seed = tmp.path().join("seed.mid");
    cadenza::midi::write_file(&piece_in_key("D major".parse().unwrap(), 99), &seed).unwrap();
    let out = generate(tmp.path(), &ckpt, "seeded", &["--seed", seed.to_str().unwrap(), "--seed-beats", "4"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let found = keys_in(&tmp.path().join("seeded"));
    let d_major: Key = "D major".parse().unwrap();
    assert!(found.iter().filter(|k| **k == d_major).count() >= 5, "{found:?}");

    // An infill reads the D major piece in C major and gives it back in D major: every note
    // outside the region is the seed's own, and the fill is in D major too.
    let out = cadenza(tmp.path())
        .args(["infill", ckpt.to_str().unwrap(), "--piece", seed.to_str().unwrap(), "--beats", "8-16"])
        .args(["--count", "2", "--out"])
        .arg(tmp.path().join("infilled"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let original = cadenza::midi::read_file(&seed, &Default::default()).unwrap();
    let outside = |p: &cadenza::midi::Piece| {
        let mut v: Vec<(u64, u8)> = p
            .instruments
            .iter()
            .flat_map(|i| i.notes.iter())
            .map(|n| (n.start * 480 / u64::from(p.ticks_per_beat), n.pitch))
            .filter(|(t, _)| !(8 * 480..16 * 480).contains(t))
            .collect();
        v.sort();
        v
    };
    for f in std::fs::read_dir(tmp.path().join("infilled")).unwrap() {
        let piece = cadenza::midi::read_file(&f.unwrap().path(), &Default::default()).unwrap();
        assert_eq!(outside(&piece), outside(&original), "kept notes keep their pitches");
        assert_eq!(key_of_notes(&piece, None, Profile::AardenEssen).unwrap().key, d_major);
    }

    // eval scores it on its own (key-relative) held-out pieces.
    let out = cadenza(tmp.path())
        .args(["eval", ckpt.to_str().unwrap(), "--corpus", corpus.to_str().unwrap(), "--split", "train"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_checkpoint_without_key_control_refuses_a_key_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = corpus_in_many_keys(tmp.path());
    let ckpt = train(tmp.path(), &corpus, "markov", &["--order", "3"]);
    let out = generate(tmp.path(), &ckpt, "out", &["--key", "A minor"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--transpose-to-key") && err.contains("A minor"), "{err}");
    assert!(!tmp.path().join("out").exists(), "nothing is written");

    let out = cadenza(tmp.path())
        .args(["compare", "--corpus", corpus.to_str().unwrap(), "--models", ckpt.to_str().unwrap()])
        .args(["--samples", "2", "--key", "A minor", "--no-audio", "--out"])
        .arg(tmp.path().join("compared"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.trim().lines().last().unwrap().contains("--transpose-to-key"), "{err}");

    let out = generate(tmp.path(), &ckpt, "out", &["--key", "H minor"]);
    assert_eq!(out.status.code(), Some(2), "a key that is no key is a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("A minor"), "the error shows the form");
}

#[test]
fn a_tempo_is_written_on_the_beats_grid_and_refused_on_the_seconds_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = common::tiny_corpus(tmp.path(), 8, false);
    let ckpt = train(tmp.path(), &corpus, "markov", &["--order", "3"]);
    let out = generate(tmp.path(), &ckpt, "slow", &["--tempo", "72"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for piece in pieces_in(&tmp.path().join("slow")) {
        assert_eq!(piece.tempos.first().map(|t| t.micros_per_beat), Some(833_333));
        assert!(piece.note_count() > 0);
    }
    // The default: 120 bpm without a seed.
    let out = generate(tmp.path(), &ckpt, "plain", &[]);
    assert!(out.status.success());
    assert_eq!(pieces_in(&tmp.path().join("plain"))[0].tempos[0].micros_per_beat, 500_000);
    for bad in ["0", "1000", "nan"] {
        let out = generate(tmp.path(), &ckpt, "bad", &["--tempo", bad]);
        assert_eq!(out.status.code(), Some(1), "--tempo {bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("tempo"));
    }
    let secs = tmp.path().join("secs");
    std::fs::create_dir_all(&secs).unwrap();
    let ckpt = train(&secs, &corpus, "markov", &["--order", "3", "--grid", "seconds"]);
    let out = generate(tmp.path(), &ckpt, "secs-out", &["--tempo", "90"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("beats grid") && err.trim().lines().count() == 1, "{err}");
}
