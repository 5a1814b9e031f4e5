//! The General MIDI program names against pretty_midi's table (an independent reference).
//!
//! Python comes from env `CADENZA_PYTHON`, else `<repo>/.pyenv/bin/python`; without one the
//! test prints a skip message, unless env `CI` is set, where that is a failure.

mod common;

use common::python;
use std::process::Command;

use cadenza::tokens::gm_names::GM_PROGRAM_NAMES;

#[test]
fn gm_names_match_pretty_midi() {
    let Some(py) = python() else { return };
    let out = Command::new(py)
        .args([
            "-c",
            "import pretty_midi\nfor i in range(128): print(pretty_midi.program_to_instrument_name(i))",
        ])
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
    assert_eq!(theirs.len(), 128);
    for (i, (ours, theirs)) in GM_PROGRAM_NAMES.iter().zip(&theirs).enumerate() {
        // pretty_midi spells two names differently from the GM 1 specification, which we follow.
        let expected = match theirs.as_str() {
            "Blown bottle" => "Blown Bottle",
            "Lead 4 chiff" => "Lead 4 (chiff)",
            other => other,
        };
        assert_eq!(*ours, expected, "program {i}");
    }
}
