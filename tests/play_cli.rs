//! `cadenza play` end to end, through the binary.
#![cfg(feature = "audio")]

use assert_cmd::Command;
use midly::num::{u15, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use predicates::prelude::*;

/// A one-note MIDI file (A4 for one beat at 120 bpm), written with midly directly.
fn one_note(path: &std::path::Path) {
    let ev = |delta: u32, kind| TrackEvent { delta: u28::new(delta), kind };
    let midi = |message| TrackEventKind::Midi { channel: u4::new(0), message };
    let track = vec![
        ev(0, midi(MidiMessage::NoteOn { key: u7::new(69), vel: u7::new(100) })),
        ev(480, midi(MidiMessage::NoteOff { key: u7::new(69), vel: u7::new(0) })),
        ev(0, TrackEventKind::Meta(MetaMessage::EndOfTrack)),
    ];
    let smf = Smf {
        header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(480))),
        tracks: vec![track],
    };
    smf.save(path).unwrap();
}

fn cadenza() -> Command {
    Command::cargo_bin("cadenza").unwrap()
}

#[test]
fn list_ports_prints_a_clear_message_and_exits_0() {
    cadenza().args(["play", "--list-ports"]).assert().success().stdout(
        predicate::str::contains("MIDI output port").or(predicate::str::is_match(r"(?m)^0: ").unwrap()),
    );
}

#[test]
fn missing_soundfont_is_a_one_line_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let mid = dir.path().join("a.mid");
    one_note(&mid);
    let sf = dir.path().join("no-such-font.sf2");
    let out = cadenza()
        .args(["play", "--wav"])
        .arg(dir.path().join("a.wav"))
        .arg("--soundfont")
        .arg(&sf)
        .arg(&mid)
        .assert()
        .failure()
        .stderr(predicate::str::contains("no-such-font.sf2").and(predicate::str::contains("panicked").not()))
        .get_output()
        .stderr
        .clone();
    assert_eq!(String::from_utf8_lossy(&out).trim().lines().count(), 1);
    assert!(!dir.path().join("a.wav").exists());
}

#[test]
fn invalid_midi_is_a_one_line_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mid = dir.path().join("broken.mid");
    std::fs::write(&mid, b"this is not MIDI").unwrap();
    cadenza()
        .args(["play", "--quiet", "--wav"])
        .arg(dir.path().join("a.wav"))
        .arg(&mid)
        .assert()
        .failure()
        .stderr(predicate::str::contains("broken.mid").and(predicate::str::contains("panicked").not()));
}

#[test]
fn wav_render_writes_the_file() {
    if cadenza::doctor::find_soundfont().is_none() {
        assert!(std::env::var_os("CI").is_none(), "no SoundFont installed");
        eprintln!("skipped: no SoundFont installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mid = dir.path().join("a.mid");
    one_note(&mid);
    let wav = dir.path().join("a.wav");
    cadenza().args(["play", "--quiet", "--tail", "0.5", "--wav"]).arg(&wav).arg(&mid).assert().success();
    let reader = hound::WavReader::open(&wav).unwrap();
    // 1 beat at 120 bpm (0.5 s) + 0.5 s tail.
    assert_eq!(reader.duration(), 44_100);
}
