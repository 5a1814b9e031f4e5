//! Splits by musical content: copies of one piece with other bytes (an unknown chunk, another
//! tempo, track name, velocities or resolution) share a split, `--dedup` keeps one of each, and
//! checkpoints are scored on the split of their own training run.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cadenza::compare::{self, CompareOptions, CompareRequest};
use cadenza::corpus::{Corpus, LoadOptions, Split, SplitKey};
use cadenza::error::{CorpusError, Error};
use cadenza::eval::{self, EvalRequest};
use cadenza::midi::write_to_bytes;
use cadenza::progress::Silent;
use cadenza::sampler::Guard;
use cadenza::train::{self, ModelSpec, TrainRequest};
use cadenza::{Tokenizer, TokenizerConfig};

const PIECES: usize = 40;

/// `PIECES` tunes, each as four files with different bytes and the same music:
/// `tuneNN-a.mid` (plain), `-b` (an unknown chunk), `-c` (another tempo and track name),
/// `-d` (another resolution and velocities).
fn corpus_of_copies(dir: &Path) -> PathBuf {
    let root = dir.join("copies");
    std::fs::create_dir_all(&root).unwrap();
    for i in 0..PIECES {
        let plain = common::tune(480, i as u64, 24);
        std::fs::write(root.join(format!("tune{i:02}-a.mid")), write_to_bytes(&plain)).unwrap();
        std::fs::write(root.join(format!("tune{i:02}-b.mid")), common::with_unknown_chunk(&plain, i as u64))
            .unwrap();
        let mut c = plain.clone();
        c.tempos[0].micros_per_beat = 400_000 + 1000 * i as u32;
        c.instruments[0].name = format!("copy {i}");
        std::fs::write(root.join(format!("tune{i:02}-c.mid")), write_to_bytes(&c)).unwrap();
        let mut d = common::tune(96, i as u64, 24);
        for n in &mut d.instruments[0].notes {
            n.velocity = 30 + n.pitch % 50;
        }
        std::fs::write(root.join(format!("tune{i:02}-d.mid")), write_to_bytes(&d)).unwrap();
    }
    root
}

fn options(split_key: SplitKey, dedup: bool) -> LoadOptions {
    LoadOptions { split_key, dedup, cache_dir: None, ..LoadOptions::default() }
}

fn tokenizer() -> Tokenizer {
    Tokenizer::new(TokenizerConfig::default()).unwrap()
}

/// Tune number → the splits its four files landed in.
fn splits_by_tune(corpus: &Corpus) -> BTreeMap<String, BTreeSet<Split>> {
    let mut m: BTreeMap<String, BTreeSet<Split>> = BTreeMap::new();
    for p in &corpus.pieces {
        let name = p.path.file_name().unwrap().to_string_lossy().into_owned();
        m.entry(name[..6].to_string()).or_default().insert(p.split);
    }
    m
}

#[test]
fn copies_with_other_bytes_share_a_split_and_dedup_keeps_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = corpus_of_copies(dir.path());
    let t = tokenizer();

    let music = Corpus::load(&root, &t, &options(SplitKey::Music, false)).unwrap();
    assert_eq!(music.pieces.len(), 4 * PIECES, "skipped: {:?}", music.skipped);
    let hashes: BTreeSet<_> = music.pieces.iter().map(|p| p.hash).collect();
    assert_eq!(hashes.len(), 4 * PIECES, "every file has its own bytes");
    let by_tune = splits_by_tune(&music);
    assert_eq!(by_tune.len(), PIECES);
    for (tune, splits) in &by_tune {
        assert_eq!(splits.len(), 1, "{tune}'s copies are in {splits:?}");
    }
    assert_eq!(music.musical_duplicates(), 3 * PIECES);
    // Every split is used, so the check above is not vacuous.
    for s in Split::ALL {
        assert!(music.split(s).count() > 0, "{s} is empty");
    }

    // Split by file bytes, some tune's copies straddle splits (the leak the music key closes).
    let bytes = Corpus::load(&root, &t, &options(SplitKey::FileBytes, false)).unwrap();
    let leaking = splits_by_tune(&bytes).values().filter(|s| s.len() > 1).count();
    assert!(leaking > 0, "no tune straddles splits under file-bytes");

    let dedup = Corpus::load(&root, &t, &options(SplitKey::Music, true)).unwrap();
    assert_eq!(dedup.pieces.len(), PIECES);
    assert_eq!(dedup.musical_duplicates(), 0);
    assert_eq!(dedup.duplicates.len(), 3 * PIECES);
    for p in &dedup.pieces {
        assert!(p.path.to_string_lossy().ends_with("-a.mid"), "kept {}", p.path.display());
    }
    for d in &dedup.duplicates {
        let (kept, dropped) = (d.of.to_string_lossy(), d.path.to_string_lossy());
        assert_eq!(kept[..6], dropped[..6], "{dropped} is a copy of {kept}");
    }
    assert_ne!(dedup.content_hash(), music.content_hash());
    assert_ne!(bytes.content_hash(), music.content_hash());
}

#[test]
fn corpus_stats_reports_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let root = corpus_of_copies(dir.path());
    let run = |extra: &[&str]| -> serde_json::Value {
        let out = assert_cmd::Command::cargo_bin("cadenza")
            .unwrap()
            .args(["corpus", "stats", "--json", "--no-cache"])
            .arg(&root)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let plain = run(&[]);
    assert_eq!(plain["musical_duplicates"], 3 * PIECES);
    assert_eq!(plain["duplicates_dropped"], 0);
    assert_eq!(plain["split_key"], "music");
    let dedup = run(&["--dedup"]);
    assert_eq!(dedup["musical_duplicates"], 0);
    assert_eq!(dedup["duplicates_dropped"], 3 * PIECES);
    assert_eq!(dedup["files_read"], PIECES);
    let bad = assert_cmd::Command::cargo_bin("cadenza")
        .unwrap()
        .args(["corpus", "stats", "--split-key", "bytes"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("music or file-bytes"));
}

fn train_markov(root: &Path, out: &Path, split_key: SplitKey) {
    let request = TrainRequest {
        corpus: root.to_path_buf(),
        store: None,
        out: out.to_path_buf(),
        load: options(split_key, false),
        model: ModelSpec::Markov { orders: vec![2] },
        seed: 0,
        tokenizer: tokenizer(),
    };
    train::run(&request, &Silent).unwrap();
}

#[test]
fn checkpoints_are_scored_on_their_own_split() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("distinct");
    std::fs::create_dir_all(&root).unwrap();
    for i in 0..60 {
        std::fs::write(
            root.join(format!("tune{i:02}.mid")),
            write_to_bytes(&common::tune(480, 1000 + i, 24)),
        )
        .unwrap();
    }
    let t = tokenizer();
    let legacy = dir.path().join("legacy.markov");
    let fresh = dir.path().join("fresh.markov");
    train_markov(&root, &legacy, SplitKey::FileBytes);
    train_markov(&root, &fresh, SplitKey::Music);

    let test_notes = |key: SplitKey| -> u64 {
        let c = Corpus::load(&root, &t, &options(key, false)).unwrap();
        c.split(Split::Test).map(|p| p.info.notes).sum()
    };
    let (bytes_notes, music_notes) = (test_notes(SplitKey::FileBytes), test_notes(SplitKey::Music));
    assert_ne!(bytes_notes, music_notes, "the two keys must split this corpus differently");
    // Asked with the default (music) options, eval uses each checkpoint's recorded key.
    for (path, expected) in [(&legacy, bytes_notes), (&fresh, music_notes)] {
        let request = EvalRequest {
            checkpoint: path.clone(),
            corpus: root.clone(),
            store: None,
            split: Split::Test,
            load: options(SplitKey::Music, false),
            device: "cpu".into(),
            viterbi: None,
        };
        let e = eval::run(&request, &Silent).unwrap();
        assert_eq!(e.score.notes as u64, expected, "{}", path.display());
    }

    // Two checkpoints with different splits have no common test split.
    let request = CompareRequest {
        models: vec![legacy.clone(), fresh.clone()],
        corpus: root.clone(),
        store: None,
        load: options(SplitKey::Music, false),
        options: CompareOptions::default(),
        guard: Guard::default(),
        judge: None,
        device: "cpu".into(),
    };
    match compare::run(&request, &Silent) {
        Err(Error::Corpus { problem: CorpusError::SplitsDiffer { first, other, .. }, .. }) => {
            assert_eq!((first, other), (legacy, fresh));
        }
        other => panic!("expected SplitsDiffer, got {:?}", other.map(|_| ())),
    }
}

/// `corpus held-out BASE --from CORPUS --remove` (issue 26): a pretraining folder holding copies
/// of a corpus (its bytes, and its music with other bytes) keeps, after the removal, no piece
/// that is valid or test under either split key of that corpus, and every training piece.
#[test]
fn held_out_pieces_are_removed_from_a_pretraining_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = corpus_of_copies(tmp.path());
    let base = tmp.path().join("base");
    std::fs::create_dir_all(&base).unwrap();
    for f in std::fs::read_dir(&corpus).unwrap() {
        let f = f.unwrap().path();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with("-a.mid") || name.ends_with("-d.mid") {
            std::fs::copy(&f, base.join(&name)).unwrap();
        }
    }
    let out = common::cadenza(tmp.path())
        .args(["corpus", "held-out", base.to_str().unwrap(), "--from", corpus.to_str().unwrap()])
        .args(["--remove", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let removed = common::json(&out.stdout)["leaks"].as_array().unwrap().len();
    // Brute force: a tune is held out when its plain file lands outside train under either key.
    let held: BTreeSet<String> = [SplitKey::Music, SplitKey::FileBytes]
        .into_iter()
        .flat_map(|key| {
            let c = Corpus::load(&corpus, &tokenizer(), &options(key, false)).unwrap();
            c.pieces
                .iter()
                .filter(|p| p.split != Split::Train)
                .map(|p| p.path.to_string_lossy()[..6].to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let left: BTreeSet<String> = std::fs::read_dir(&base)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy()[..6].to_string())
        .collect();
    assert!(!held.is_empty() && held.len() < PIECES, "{held:?}");
    assert!(left.is_disjoint(&held), "left {left:?}, held out {held:?}");
    assert_eq!(left.len() + held.len(), PIECES, "every training tune stays");
    assert_eq!(removed, 2 * held.len(), "both copies of each held-out tune");
}

#[test]
fn a_folder_too_small_for_a_valid_split_is_validated_on_the_ends_of_its_pieces() {
    use cadenza::corpus::{assign_split, music_key, Split, SplitKey, SplitRatios};
    // Four pieces that the split by music puts in train, none in valid (issue 26, item 6).
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("small");
    std::fs::create_dir_all(&root).unwrap();
    let mut written = 0;
    for seed in 0..200u64 {
        let piece = common::piece_in_key(cadenza::key::Key::A_MINOR, seed);
        let split = assign_split(&SplitRatios::default(), SplitKey::Music, &[0; 32], &music_key(&piece));
        if split == Split::Train && written < 4 {
            cadenza::midi::write_file(&piece, &root.join(format!("{seed}.mid"))).unwrap();
            written += 1;
        }
    }
    assert_eq!(written, 4);
    for model in ["markov", "hmm"] {
        let dir = tmp.path().join(model);
        std::fs::create_dir_all(&dir).unwrap();
        let ckpt = dir.join(format!("small.{model}"));
        let out = common::cadenza(&dir)
            .args([
                "train",
                "--model",
                model,
                "--corpus",
                root.to_str().unwrap(),
                "--out",
                ckpt.to_str().unwrap(),
            ])
            .args(if model == "hmm" { &["--states", "4", "--max-iters", "3"][..] } else { &[][..] })
            .output()
            .unwrap();
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{text}");
        assert!(text.contains("holding out the last 10% of each of the 4 training pieces"), "{text}");
        assert!(!text.contains("NaN"), "{text}");
        let header = cadenza::checkpoint::load_header(&ckpt).unwrap();
        assert_eq!(header.metrics.get("valid_held_out_by_time"), Some(&0.1), "{model}");
        assert!(header.metrics.get("valid_bits_per_note").is_some_and(|b| b.is_finite()), "{model}");
    }
}
