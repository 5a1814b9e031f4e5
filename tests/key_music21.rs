//! The key finder against music21's `analyze('key')` (an independent reference) on pieces in
//! all 24 keys: melodies that wander through their key's scale with chromatic neighbours,
//! held notes and chords, written as MIDI files that music21 parses itself.
//!
//! Python comes from env `CADENZA_PYTHON`, else `<repo>/.pyenv/bin/python`; without one the
//! test prints a skip message, unless env `CI` is set, where that is a failure.

mod common;

use std::process::Command;

use cadenza::key::{key_of_notes, Key, Mode, Profile};
use common::{piece_in_key, python};

#[test]
fn keys_agree_with_music21_in_all_24_keys() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for key in Key::all() {
        for seed in 0..3u64 {
            let piece = piece_in_key(key, seed * 24 + key.index() as u64);
            let path = dir.path().join(format!("{:02}-{seed}.mid", key.index()));
            cadenza::midi::write_file(&piece, &path).unwrap();
            files.push((path, piece, key));
        }
    }
    let script = "import sys, warnings\nwarnings.filterwarnings('ignore')\nimport music21\n\
                  for p in sys.argv[1:]:\n    k = music21.converter.parse(p).analyze('key')\n    \
                  print(k.tonic.pitchClass, k.mode)\n";
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .args(files.iter().map(|(p, _, _)| p))
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Vec<Key> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (tonic, mode) = l.split_once(' ').unwrap();
            Key::new(tonic.parse().unwrap(), if mode == "minor" { Mode::Minor } else { Mode::Major })
        })
        .collect();
    assert_eq!(theirs.len(), files.len());
    let mut same = 0;
    let mut meant = 0;
    for ((path, piece, key), theirs) in files.iter().zip(&theirs) {
        let ours = key_of_notes(piece, None, Profile::AardenEssen).unwrap().key;
        if ours == *theirs {
            same += 1;
        } else {
            eprintln!("{}: ours {ours}, music21 {theirs} (written in {key})", path.display());
        }
        meant += usize::from(ours == *key);
    }
    eprintln!("{same} of {} agree with music21, {meant} found in the key they were written in", files.len());
    // Same weights, same durations: only music21's own quantization can make them differ.
    assert!(same * 100 >= files.len() * 95, "{same} of {} agree with music21", files.len());
    assert!(
        meant * 100 >= files.len() * 85,
        "{meant} of {} found in the key they were written in",
        files.len()
    );
}
