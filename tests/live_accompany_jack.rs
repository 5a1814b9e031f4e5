//! `cadenza live --mode accompany` end to end on a JACK dummy server of the test's own (a test
//! binary of its own: libjack keeps process-wide state, so one server per test process): a test
//! client plays twelve quarter notes into `cadenza:in`; bars from the first bar line after the
//! count-in sound on the player's grid, under the player's lowest note, until the player stops,
//! and every note is released at Ctrl-C.
//!
//! Without `jackd` the test skips, except under CI (`CI` set), where it fails.
#![cfg(feature = "jack")]

mod common;
#[path = "support/jack.rs"]
mod jack;
#[path = "support/live.rs"]
mod live;

use std::time::Duration;

use live::{answers, assert_released, interrupt, play_phrase, start_live, wait_until, BPM};

/// `--mode accompany`: the tempo counted in from the first six notes, bars of 4 beats from the
/// first bar line after them, every note under the player's lowest and on the grid, none once
/// the player has stopped for a bar, every note released at Ctrl-C.
#[test]
fn live_accompanies_bar_by_bar_under_the_player() {
    let Some(jackd) = jack::jackd() else { return };
    let server = jack::Server::start(&jackd, "accompany");
    let (active, traffic) = jack::test_client(&server, "keys", true);
    let client = active.as_client();
    let tmp = tempfile::tempdir().unwrap();
    let corpus = common::tiny_corpus(tmp.path(), 12, false);
    let ckpt = common::train(tmp.path(), &corpus, "markov", &["--order", "4"]);
    let mut child = start_live(tmp.path(), &ckpt, client, &["--mode", "accompany"]);
    let pitches = [67u8, 69, 71, 72, 74, 72, 71, 69, 67, 71, 72, 74];
    let (onsets, _) = play_phrase(client, &traffic, &pitches, 0.3);
    let beat = 60.0 / BPM * 1e6;
    let at_beat = |k: f64| onsets[0] + (k * beat) as u64;
    wait_until("the accompaniment to end", Duration::from_secs(30), || client.time() > at_beat(18.0));
    interrupt(&child);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(status.success(), "{stderr}");
    std::thread::sleep(Duration::from_millis(100));
    assert_released(&traffic);
    let got = answers(&traffic, onsets[0]);
    let ons: Vec<&(u64, u8, bool)> = got.iter().filter(|e| e.2).collect();
    assert!(ons.len() >= 2, "accompaniment: {got:?}\n{stdout}\n{stderr}");
    assert!(ons.iter().all(|e| e.1 < 67), "under the player's lowest note (G4): {ons:?}");
    let off_by = ons[0].0 as f64 - at_beat(8.0) as f64;
    eprintln!("accompaniment: {} notes, the first {:+.1} ms from beat 8", ons.len(), off_by / 1e3);
    assert!(off_by > -3_000.0 && off_by < 150_000.0, "the first bar opens on beat 8: {off_by} µs; {stdout}");
    assert!(ons.iter().all(|e| e.0 < at_beat(16.0)), "no bar after the player stopped: {ons:?}");
    let bars = stdout.lines().filter(|l| l.starts_with("bar ")).count();
    assert_eq!(bars, 2, "{stdout}");
    assert!(stderr.contains("accompanying") && stderr.contains("2 bars"), "{stderr}");
    drop(server);
}
