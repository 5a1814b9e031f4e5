//! Crash safety of training checkpoints: an LSTM training is killed with SIGKILL at random
//! moments, over and over. After every kill the checkpoint on disk must be a complete one (it
//! loads and verifies), its step never goes backwards, and `--resume` carries on from it until
//! the run finishes.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cadenza::checkpoint;
use rand::{Rng, SeedableRng};

fn step_of(path: &Path) -> u64 {
    let (header, _) = checkpoint::load(path).unwrap_or_else(|e| panic!("after a kill: {e}"));
    header.extra["step"].as_u64().expect("training step in the header")
}

#[test]
fn sigkill_never_leaves_a_broken_checkpoint_and_resume_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = common::tiny_corpus(tmp.path(), 24, false);
    let out = tmp.path().join("m.lstm");
    let last = tmp.path().join("m.lstm.last");
    let total = 120;
    let args = |resume: bool| {
        let mut a: Vec<String> = ["train", "--model", "lstm", "--corpus", corpus.to_str().unwrap(), "--out", out.to_str().unwrap()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for s in ["--embed", "8", "--hidden", "16", "--layers", "1", "--batch", "4", "--window", "16", "--checkpoint-every", "2", "--rng-seed", "3"] {
            a.push(s.into());
        }
        a.push("--steps".into());
        a.push(total.to_string());
        if resume {
            a.push("--resume".into());
            a.push(last.to_str().unwrap().into());
        }
        a
    };
    let bin = assert_cmd::cargo::cargo_bin("cadenza");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut previous = 0u64;
    let mut kills = 0;
    for _ in 0..6 {
        let mut child = Command::new(&bin)
            .args(args(last.exists()))
            .env("CADENZA_CACHE", tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(400..2500)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        if last.exists() {
            let step = step_of(&last);
            assert!(step >= previous, "checkpoint went back from step {previous} to {step}");
            previous = step;
        }
        if out.exists() {
            checkpoint::load(&out).unwrap_or_else(|e| panic!("best model after a kill: {e}"));
        }
    }
    assert!(kills > 0, "training always finished before the kill: make it longer");
    // Resume until done.
    let status = Command::new(&bin).args(args(last.exists())).env("CADENZA_CACHE", tmp.path()).output().unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert_eq!(step_of(&last), total);
    assert!(previous <= total);
}
