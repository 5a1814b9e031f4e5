//! `cadenza live` without a MIDI server: what it says about bad checkpoints, options and ports,
//! each in one line and with a non-zero exit code, before any port is opened. (The session
//! itself is tested on a JACK dummy server in `tests/live_jack.rs`.)

mod common;

fn one_line_error(args: &[&str], cache: &std::path::Path, want: &[&str]) {
    let out = common::cadenza(cache).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    for w in want {
        assert!(err.contains(w), "{args:?}: {err} does not say {w}");
    }
}

#[test]
fn bad_checkpoints_options_and_ports_are_one_line_each() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = common::tiny_corpus(tmp.path(), 8, false);
    let ckpt = common::train(tmp.path(), &corpus, "markov", &["--order", "3"]);
    let ck = ckpt.to_str().unwrap();
    let missing = tmp.path().join("nope.markov");
    one_line_error(
        &["live", missing.to_str().unwrap(), "--in", "0", "--out", "0"],
        tmp.path(),
        &["nope.markov"],
    );
    let text = tmp.path().join("text.markov");
    std::fs::write(&text, b"not a checkpoint").unwrap();
    one_line_error(
        &["live", text.to_str().unwrap(), "--in", "0", "--out", "0"],
        tmp.path(),
        &["text.markov"],
    );
    one_line_error(
        &["live", ck, "--in", "0", "--out", "0", "--temperature=-1"],
        tmp.path(),
        &["temperature"],
    );
    one_line_error(&["live", ck, "--in", "0", "--out", "0", "--wait=-2"], tmp.path(), &["wait"]);
    one_line_error(&["live", ck, "--in", "0", "--out", "0", "--bpm", "1000"], tmp.path(), &["bpm"]);
    one_line_error(
        &["live", ck, "--in", "0", "--out", "0", "--tonic-weight", "0"],
        tmp.path(),
        &["tonic-weight"],
    );
    // Ranges clap checks: its line, then its pointer to --help.
    let out = common::cadenza(tmp.path())
        .args(["live", ck, "--in", "0", "--out", "0", "--part-beats", "0"])
        .output();
    let err = String::from_utf8_lossy(&out.as_ref().unwrap().stderr).to_string();
    assert!(
        !out.unwrap().status.success() && err.lines().next().is_some_and(|l| l.contains("--part-beats")),
        "{err}"
    );
    // The ports: one of each kind, or no MIDI system at all, is one line naming them.
    one_line_error(&["live", ck, "--in", "jack:a", "--out", "0"], tmp.path(), &["jack:a", "both"]);
    let out = common::cadenza(tmp.path()).args(["live", "--list-ports"]).output().unwrap();
    assert!(out.status.success());
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("MIDI input port") || listed.lines().any(|l| l.starts_with("0: ")), "{listed}");
    let help = common::cadenza(tmp.path()).args(["live", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--answer-beats")
            && help.contains("--wait")
            && help.contains("on the beat")
            && help.contains("--no-cadence")
            && help.contains("--tonic-weight")
            && help.contains("--part-beats"),
        "{help}"
    );
}
