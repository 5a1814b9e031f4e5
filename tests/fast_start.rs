//! Fast start (issue 17): the `cadenza` built without libtorch (`scripts/build.sh`, which keeps a
//! copy in `target/<profile>/lite/`) links no libtorch, runs the plain-Rust commands itself and
//! hands the libtorch ones to `cadenza-torch` beside it, which still links libtorch's CUDA part.
//! (How fast it starts is measured by `scripts/bench_start.sh`, not here.)
//!
//! `scripts/test.sh` builds the lite binary before the tests; without it this test fails and
//! says how to build it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn lite_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CADENZA_LITE_BIN") {
        return PathBuf::from(p);
    }
    let full = assert_cmd::cargo::cargo_bin("cadenza");
    let lite = full.parent().unwrap().join("lite/cadenza");
    assert!(
        lite.is_file(),
        "no {}: build it with `bash scripts/build.sh --debug` (scripts/test.sh does)",
        lite.display()
    );
    lite
}

fn torch_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cadenza-torch"))
}

/// The shared libraries `binary` names as DT_NEEDED.
fn needed(binary: &Path) -> Vec<String> {
    let out = Command::new("readelf").arg("-d").arg(binary).output().expect("readelf (binutils)");
    assert!(out.status.success(), "readelf -d {}", binary.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1).map(|s| s.trim_end_matches(']').to_string()))
        .collect()
}

#[test]
fn the_lite_binary_links_no_libtorch_and_the_full_one_keeps_cuda() {
    let lite = needed(&lite_binary());
    assert!(!lite.is_empty(), "readelf found no NEEDED entries");
    assert!(lite.iter().all(|l| !l.contains("torch") && !l.contains("c10")), "{lite:?}");
    let full = needed(&torch_binary());
    assert!(full.iter().any(|l| l == "libtorch.so"), "{full:?}");
    // libtorch.so is what pulls libtorch_cuda in (the `--no-as-needed` of build.rs).
    let ldd = Command::new("ldd").arg(torch_binary()).output().unwrap();
    let ldd = String::from_utf8_lossy(&ldd.stdout);
    assert!(ldd.contains("libtorch_cuda.so"), "{ldd}");
    assert!(!ldd.contains("not found"), "{ldd}");
}

/// A folder holding the lite binary as `cadenza` and `torch` (if any) as `cadenza-torch`.
fn install(dir: &Path, torch: Option<&Path>) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(lite_binary(), bin.join("cadenza")).unwrap();
    if let Some(t) = torch {
        std::os::unix::fs::symlink(t, bin.join("cadenza-torch")).unwrap();
    }
    bin.join("cadenza")
}

fn run(bin: &Path, args: &[&str]) -> Output {
    // A binary copied while another test thread forks can be briefly held open for writing by
    // that child until it execs (Linux answers ETXTBSY): try again a few times.
    for _ in 0..50 {
        match Command::new(bin)
            .args(args)
            .current_dir(REPO)
            .env("CADENZA_CACHE", "/nonexistent-cache")
            .output()
        {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => return other.unwrap(),
        }
    }
    panic!("{} stayed busy", bin.display());
}

#[test]
fn plain_rust_commands_run_here_and_libtorch_ones_are_handed_over() {
    let dir = tempfile::tempdir().unwrap();
    // A stand-in for the full binary that says what it was given.
    let fake = dir.path().join("fake-torch");
    std::fs::write(&fake, "#!/bin/sh\necho \"handed over: $*\"\nexit 42\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cadenza = install(dir.path(), Some(&fake));

    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for (i, f) in std::fs::read_dir(Path::new(REPO).join("corpora/bach")).unwrap().take(24).enumerate() {
        std::fs::copy(f.unwrap().path(), corpus.join(format!("p{i}.mid"))).unwrap();
    }
    let markov = dir.path().join("c.markov");
    let out = dir.path().join("out");
    let (c, m, o) = (corpus.to_str().unwrap(), markov.to_str().unwrap(), out.to_str().unwrap());
    let here: &[&[&str]] = &[
        &["--version"],
        &["tokens", "corpora/bach/bwv1.6.mid"],
        &["corpus", "stats", c, "--no-cache"],
        &["train", "--model", "markov", "--order", "3", "--corpus", c, "--out", m, "--no-cache"],
        &["generate", m, "--count", "1", "--length", "64", "--out", o],
        &["eval", m, "--corpus", c, "--no-cache"],
    ];
    for args in here {
        let r = run(&cadenza, args);
        assert!(r.status.success(), "{args:?}: {}", String::from_utf8_lossy(&r.stderr));
        assert!(!String::from_utf8_lossy(&r.stdout).contains("handed over"), "{args:?}");
    }
    assert!(out.read_dir().unwrap().next().is_some(), "generate wrote nothing");

    let handed: &[&[&str]] = &[
        &["--help"],
        &["doctor", "--json"],
        &["train", "--model", "lstm", "--corpus", c],
        &["train", "--model=transformer", "--corpus", c],
        &["generate", "checkpoints/bach.lstm", "--out", o],
        &["eval", "checkpoints/bach.transformer", "--corpus", c],
        &["compare", "--corpus", c, "--models", m, "--judge", "checkpoints/styles.classifier"],
        &["classify", "eval", "checkpoints/styles.classifier", "--data", c],
        &["studio", "--port", "0"],
    ];
    for args in handed {
        let r = run(&cadenza, args);
        assert_eq!(r.status.code(), Some(42), "{args:?} was not handed over");
        assert_eq!(String::from_utf8_lossy(&r.stdout).trim(), format!("handed over: {}", args.join(" ")));
    }
}

#[test]
fn the_real_hand_over_reaches_libtorch() {
    let dir = tempfile::tempdir().unwrap();
    let cadenza = install(dir.path(), Some(&torch_binary()));
    let r = run(&cadenza, &["doctor", "--json"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let doctor: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert!(doctor["libtorch_version"].as_str().is_some_and(|v| v.starts_with("2.")), "{doctor}");
    // The full flags are there: the LSTM's options in `train --help`.
    let r = run(&cadenza, &["train", "--help"]);
    assert!(String::from_utf8_lossy(&r.stdout).contains("--hidden"));

    // Without a cadenza-torch beside it, a libtorch command fails with a clear error.
    let alone = install(&dir.path().join("alone"), None);
    let r = run(&alone, &["train", "--model", "lstm", "--corpus", "corpora/bach"]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("lstm") && err.lines().count() <= 3, "{err}");
}
