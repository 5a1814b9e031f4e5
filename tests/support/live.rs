//! What the `cadenza live` tests on a JACK dummy server share (`tests/live_jack.rs`,
//! `tests/live_accompany_jack.rs`): phrases played by the test client, what cadenza sent, the
//! check that every note was released, and `cadenza live` started between the client's ports.
//! Included with `#[path]`, next to `mod common` and `mod jack`.

#![allow(dead_code)]

use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::jack;

pub const BPM: f64 = 120.0;
pub const WAIT: f64 = 0.3;

/// Schedule a phrase of quarter notes at `BPM` starting `lead` seconds from now (JACK's clock):
/// each note held for three quarters of a beat, some released by note-ons of velocity 0 and
/// sent with running status, a sustain pedal and a sysex message between the notes. Returns
/// the onsets and the last release (microseconds).
pub fn play_phrase(
    client: &::jack::Client,
    traffic: &Arc<Mutex<jack::Traffic>>,
    pitches: &[u8],
    lead: f64,
) -> (Vec<u64>, u64) {
    let beat = 60.0 / BPM * 1e6;
    let start = client.time() + (lead * 1e6) as u64;
    let mut t = traffic.lock().unwrap();
    let mut onsets = Vec::new();
    let mut last = 0;
    for (i, &p) in pitches.iter().enumerate() {
        let on = start + (i as f64 * beat) as u64;
        let off = on + (beat * 0.75) as u64;
        onsets.push(on);
        last = off;
        t.to_send.push_back((on, vec![0x90, p, 80]));
        if i % 2 == 0 {
            t.to_send.push_back((off, vec![0x90, p, 0])); // velocity-0 note-on
        } else {
            t.to_send.push_back((off, vec![0x80, p, 0]));
        }
        if i == 1 {
            t.to_send.push_back((off + 1000, vec![0xb0, 64, 127])); // sustain pedal
            t.to_send.push_back((off + 2000, vec![0xf0, 0x7e, 0x7f, 0x06, 0x01, 0xf7]));
        }
    }
    (onsets, last)
}

/// Note-ons and note-offs cadenza sent, with their times (µs), from `since` on.
pub fn answers(traffic: &Arc<Mutex<jack::Traffic>>, since: u64) -> Vec<(u64, u8, bool)> {
    let t = traffic.lock().unwrap();
    t.got
        .iter()
        .filter(|(us, b)| *us >= since && b.len() == 3 && matches!(b[0] & 0xf0, 0x80 | 0x90))
        .map(|(us, b)| (*us, b[1], b[0] & 0xf0 == 0x90 && b[2] > 0))
        .collect()
}

/// Every note-on followed by its note-off (or an all-notes-off on its channel).
pub fn assert_released(traffic: &Arc<Mutex<jack::Traffic>>) {
    let t = traffic.lock().unwrap();
    let mut sounding = std::collections::BTreeMap::<u8, i32>::new();
    for (_, b) in &t.got {
        match (b[0] & 0xf0, b.get(1), b.get(2)) {
            (0x90, Some(&p), Some(&v)) if v > 0 => *sounding.entry(p).or_default() += 1,
            (0x80 | 0x90, Some(&p), _) => *sounding.entry(p).or_default() -= 1,
            (0xb0, Some(&123), _) => sounding.clear(),
            _ => {}
        }
    }
    assert!(sounding.values().all(|&n| n <= 0), "stuck notes: {sounding:?}");
}

pub fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `cadenza live` on `ckpt` between the test client's ports, once its ports are connected.
pub fn start_live(
    tmp: &std::path::Path,
    ckpt: &std::path::Path,
    client: &::jack::Client,
    extra: &[&str],
) -> Child {
    let bin = assert_cmd::cargo::cargo_bin("cadenza");
    let child = std::process::Command::new(bin)
        .env("CADENZA_CACHE", tmp)
        .arg("live")
        .arg(ckpt)
        .args(["--in", "jack:keys:out", "--out", "jack:keys:in", "--wait", &WAIT.to_string()])
        .args(["--answer-beats", "4", "--rng-seed", "3"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let connected =
        |name: &str| client.port_by_name(name).is_some_and(|p| p.connected_count().unwrap_or(0) > 0);
    wait_until("cadenza:in and cadenza:out to be connected", Duration::from_secs(30), || {
        connected("keys:out") && connected("keys:in")
    });
    child
}

pub fn interrupt(child: &Child) {
    // SAFETY: kill(2) on a child of this test.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
}
