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

/// When `path` was last modified (None if it does not exist).
fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[test]
fn sigkill_never_leaves_a_broken_checkpoint_and_resume_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = common::tiny_corpus(tmp.path(), 24, false);
    let out = tmp.path().join("m.lstm");
    let last = tmp.path().join("m.lstm.last");
    let args = |steps: u64, resume: bool| {
        let mut a: Vec<String> = [
            "train",
            "--model",
            "lstm",
            "--corpus",
            corpus.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for s in [
            "--embed",
            "8",
            "--hidden",
            "16",
            "--layers",
            "1",
            "--batch",
            "4",
            "--window",
            "16",
            "--checkpoint-every",
            "2",
            "--rng-seed",
            "3",
        ] {
            a.push(s.into());
        }
        a.push("--steps".into());
        a.push(steps.to_string());
        if resume {
            a.push("--resume".into());
            a.push(last.to_str().unwrap().into());
        }
        a
    };
    let bin = assert_cmd::cargo::cargo_bin("cadenza");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut previous = 0u64;
    for round in 0..6 {
        // A run far too long to finish: it is always killed, at a random moment shortly after
        // it has written a checkpoint (so kills land before, during and after later writes).
        let before = modified(&last);
        let mut child = Command::new(&bin)
            .args(args(1_000_000, last.exists()))
            .env("CADENZA_CACHE", tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while modified(&last) == before && std::time::Instant::now() < deadline {
            assert!(child.try_wait().unwrap().is_none(), "round {round}: training exited early");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let step = step_of(&last);
        assert!(step >= previous, "checkpoint went back from step {previous} to {step}");
        previous = step;
        if out.exists() {
            checkpoint::load(&out).unwrap_or_else(|e| panic!("best model after a kill: {e}"));
        }
    }
    assert!(previous > 0, "no checkpoint was ever written");
    // Resume from the last complete checkpoint and finish ten steps later.
    let target = previous + 10;
    let done = Command::new(&bin).args(args(target, true)).env("CADENZA_CACHE", tmp.path()).output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert_eq!(step_of(&last), target);
}
