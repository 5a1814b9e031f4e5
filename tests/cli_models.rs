//! End-to-end: `train`, `generate`, `eval` and `corpus stats` through the binary on a tiny corpus.

mod common;

use std::path::{Path, PathBuf};

use common::{cadenza, eval, eval_json, json, tiny_corpus, train};

/// `cadenza generate CKPT --out tmp/DIR ARGS...`; the written files, sorted.
fn generate(tmp: &Path, ckpt: &Path, dir: &str, args: &[&str]) -> Vec<PathBuf> {
    let out = tmp.join(dir);
    cadenza(tmp)
        .args(["generate", ckpt.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(args)
        .assert()
        .success();
    let mut files: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn markov_train_eval_generate_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(tmp.path(), 30, true);
    let ckpt = train(tmp.path(), &corpus, "markov", &["--order", "4"]);

    // eval --json has the promised fields and agrees with itself on perplexity.
    let v = eval_json(tmp.path(), &ckpt, &corpus, "train");
    let bits = v["bits_per_token"].as_f64().unwrap();
    assert!(bits > 0.0 && bits < 9.0, "{v}");
    assert!((v["perplexity"].as_f64().unwrap() - bits.exp2()).abs() < 1e-9);
    assert!(v["tokens"].as_u64().unwrap() > 100);

    // Same --rng-seed: byte-identical files; another seed: different music.
    let seed = corpus.join("piece01.mid");
    let seed = seed.to_str().unwrap();
    let gen = |dir: &str, rng: &str| {
        let args =
            ["--seed", seed, "--seed-beats", "4", "--count", "3", "--length", "200", "--rng-seed", rng];
        let files = generate(tmp.path(), &ckpt, dir, &args);
        files.iter().map(|f| std::fs::read(f).unwrap()).collect::<Vec<_>>()
    };
    let a = gen("a", "7");
    let b = gen("b", "7");
    let c = gen("c", "8");
    assert_eq!(a.len(), 3);
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Generated files are valid MIDI with notes.
    for bytes in &a {
        let p = cadenza::midi::read_bytes(bytes, Path::new("gen.mid"), &Default::default()).unwrap();
        assert!(p.note_count() > 0);
    }
}

#[test]
fn strip_primer_leaves_out_the_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(tmp.path(), 20, false);
    let ckpt = train(tmp.path(), &corpus, "markov", &["--order", "3"]);
    let seed = corpus.join("piece01.mid");
    let seed = seed.to_str().unwrap();
    let run = |dir: &str, strip: bool| {
        let mut args = vec!["--seed", seed, "--seed-beats", "8", "--length", "60", "--rng-seed", "1"];
        if strip {
            args.push("--strip-primer");
        }
        let files = generate(tmp.path(), &ckpt, dir, &args);
        cadenza::midi::read_file(&files[0], &Default::default()).unwrap()
    };
    let full = run("full", false);
    let stripped = run("stripped", true);
    // The primer (8 beats, 2 notes a beat on average here) is in the full piece only.
    assert!(full.note_count() > stripped.note_count(), "{} vs {}", full.note_count(), stripped.note_count());
}

#[test]
fn hmm_trains_and_prints_viterbi_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(tmp.path(), 20, false);
    let ckpt = train(tmp.path(), &corpus, "hmm", &["--states", "4", "--max-iters", "5"]);
    let out = eval(tmp.path(), &ckpt, &corpus, "train", &["--viterbi", "1"]);
    let text = String::from_utf8(out).unwrap();
    let path_line = text.lines().nth(1).expect("a Viterbi line");
    let states: Vec<usize> =
        path_line.split(": ").nth(1).unwrap().split(' ').map(|s| s.parse().unwrap()).collect();
    assert!(states.len() > 10 && states.iter().all(|&s| s < 4), "{path_line}");
}

#[test]
fn corpus_stats_reports_skipped_files_and_uses_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(tmp.path(), 12, true);
    let out =
        cadenza(tmp.path()).args(["corpus", "stats", corpus.to_str().unwrap(), "--json"]).output().unwrap();
    assert!(out.status.success());
    let v = json(&out.stdout);
    assert_eq!(v["files_read"], 12);
    assert_eq!(v["files_skipped"], 1);
    assert_eq!(v["cache_hits"], 0);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.lines().any(|l| l.starts_with("skipped ") && l.contains("broken.mid")), "{err}");
    let again =
        cadenza(tmp.path()).args(["corpus", "stats", corpus.to_str().unwrap(), "--json"]).output().unwrap();
    assert_eq!(json(&again.stdout)["cache_hits"], 13);
}

#[test]
fn bad_inputs_give_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let one_line_error = |args: &[&str], needle: &str| {
        let out = cadenza(tmp.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        let last = err.lines().last().unwrap_or("");
        assert!(last.starts_with("error: ") && last.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    one_line_error(&["corpus", "stats", "/no/such/dir"], "/no/such/dir");
    one_line_error(
        &["train", "--model", "markov", "--corpus", empty.to_str().unwrap(), "--out", "x.markov"],
        "no MIDI files",
    );
    let junk = tmp.path().join("junk.markov");
    std::fs::write(&junk, b"CDZCKPT\0\x01\0\0\0").unwrap();
    one_line_error(&["generate", junk.to_str().unwrap()], "truncated");
    one_line_error(&["tokens", "Cargo.toml"], "Cargo.toml");
    assert!(!Path::new("x.markov").exists());
    // Nothing to generate is a mistake, not an empty file.
    let corpus = tiny_corpus(tmp.path(), 6, false);
    let ckpt = train(tmp.path(), &corpus, "markov", &["--order", "2"]);
    let gen = tmp.path().join("gen");
    for (flag, needle) in
        [("--length", "length must be at least 1 new token"), ("--count", "count must be at least 1")]
    {
        one_line_error(
            &["generate", ckpt.to_str().unwrap(), "--out", gen.to_str().unwrap(), flag, "0"],
            needle,
        );
    }
    assert!(!gen.exists() || std::fs::read_dir(&gen).unwrap().next().is_none(), "a file was written");
    // Bad model settings are told before the corpus is read.
    let c = corpus.to_str().unwrap();
    for (args, needle) in [
        (&["--model", "markov", "--order", "0"][..], "markov order must be in 1..=32, got 0"),
        (&["--model", "hmm", "--states", "0"][..], "HMM states must be at least 1, got 0"),
    ] {
        let out = cadenza(tmp.path()).args(["train", "--corpus", c]).args(args).output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: read the corpus first: {err}");
        assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
    }
}

#[test]
fn the_note_guard_closes_notes_that_unguarded_sampling_leaves_ringing() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(tmp.path(), 20, false);
    // Order 2 cannot remember which notes are sounding, so free sampling strays (midi-like:
    // under TSD and REMI a note's end comes with its start).
    let ckpt = train(tmp.path(), &corpus, "markov", &["--order", "2", "--tokenizer", "midi-like"]);
    let run = |dir: &str, extra: &[&str]| {
        let mut args = vec!["--count", "4", "--length", "300", "--rng-seed", "3"];
        args.extend_from_slice(extra);
        let mut beats = Vec::new();
        for f in generate(tmp.path(), &ckpt, dir, &args) {
            let p = cadenza::midi::read_file(&f, &Default::default()).unwrap();
            let tpb = f64::from(p.ticks_per_beat);
            beats.extend(p.instruments.iter().flat_map(|i| &i.notes).map(|n| n.duration() as f64 / tpb));
        }
        beats
    };
    let guarded = run("guarded", &[]);
    let free = run("free", &["--unguarded"]);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let longest = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    // The tokenizer's cap is 16 beats; free sampling leaves notes ringing up to it.
    assert!(longest(&guarded) <= 16.0 + 1e-9);
    assert!((longest(&free) - 16.0).abs() < 1e-9, "free sampling: longest note {} beats", longest(&free));
    assert!(
        mean(&guarded) < mean(&free) / 2.0,
        "mean note: guarded {} vs free {} beats",
        mean(&guarded),
        mean(&free)
    );
}

#[test]
fn a_closed_pipe_ends_the_program_without_a_panic() {
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    // A token listing far longer than a pipe's buffer, into a pipe nobody reads.
    let file = tmp.path().join("long.mid");
    cadenza::midi::write_file(&common::melody(0, 2000), &file).unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("cadenza"))
        .args(["tokens", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}
