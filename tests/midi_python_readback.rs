//! Files written by `cadenza::midi::write_file` read back by independent Python readers (mido,
//! with its own first-in-first-out pairing, and pretty_midi): every note must come back with the
//! same pitch, velocity, ticks, program and drum flag, and seconds within 1e-6 of [`TempoMap`].
//!
//! Python: `CADENZA_PYTHON`, else `<repo>/.pyenv/bin/python`; without either the test is skipped,
//! unless `CI` is set, where that is a failure.

mod common;

use common::python;
use std::path::Path;
use std::process::Command;

use cadenza::midi::{
    read_file, write_file, Instrument, KeySignature, Note, Piece, ReadOptions, TempoChange, TempoMap,
    TimeSignature,
};
use serde_json::Value;

fn n(start: u64, end: u64, pitch: u8, velocity: u8) -> Note {
    Note { start, end, pitch, velocity }
}

fn inst(program: u8, channel: u8, is_drum: bool, name: &str, notes: Vec<Note>) -> Instrument {
    let mut i = Instrument { program, channel, is_drum, name: name.into(), notes };
    i.notes.sort_by_key(|n| (n.start, n.pitch, n.end, n.velocity));
    i
}

/// A small deterministic generator (tests need no RNG quality).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// Notes that never overlap another note of the same pitch.
fn random_notes(rng: &mut Lcg, count: usize, low: u8, span: u8, len: u64) -> Vec<Note> {
    let mut next_free = [0u64; 128];
    let mut notes = Vec::new();
    let mut t = 0u64;
    for _ in 0..count {
        t += rng.next(len);
        let pitch = low + rng.next(u64::from(span)) as u8;
        let start = t.max(next_free[usize::from(pitch)]);
        let end = start + 1 + rng.next(2 * len);
        next_free[usize::from(pitch)] = end;
        notes.push(n(start, end, pitch, 1 + rng.next(127) as u8));
    }
    notes
}

/// `(name, piece, has same-pitch overlaps)`.
fn pieces() -> Vec<(&'static str, Piece, bool)> {
    let mut out = Vec::new();

    // A band: several instruments, drums, tempo changes inside notes.
    let mut p = Piece::new(480);
    p.tempos = vec![
        TempoChange { tick: 0, micros_per_beat: 500_000 },
        TempoChange { tick: 960, micros_per_beat: 400_000 },
        TempoChange { tick: 2000, micros_per_beat: 652_174 },
        TempoChange { tick: 3001, micros_per_beat: 1_000_001 },
    ];
    p.time_signatures = vec![TimeSignature { tick: 0, numerator: 3, denominator: 4 }];
    p.key_signatures = vec![KeySignature { tick: 0, sharps: 1, minor: false }];
    p.instruments = vec![
        inst(0, 0, false, "Piano", vec![n(0, 480, 60, 100), n(0, 1000, 64, 90), n(900, 2100, 67, 80)]),
        inst(33, 1, false, "Bass", vec![n(0, 1920, 36, 110), n(1920, 3840, 38, 64), n(3840, 3841, 40, 1)]),
        inst(48, 2, false, "Strings", vec![n(100, 5000, 72, 127), n(2999, 3003, 74, 50)]),
        inst(
            0,
            9,
            true,
            "Drums",
            vec![n(0, 60, 36, 127), n(0, 60, 42, 100), n(240, 300, 42, 90), n(480, 540, 38, 120)],
        ),
    ];
    out.push(("band", p, false));

    // Same-pitch notes overlapping, repeated and struck together.
    let mut p = Piece::new(96);
    p.tempos = vec![
        TempoChange { tick: 0, micros_per_beat: 600_000 },
        TempoChange { tick: 100, micros_per_beat: 300_000 },
    ];
    p.instruments = vec![
        inst(
            5,
            0,
            false,
            "Overlaps",
            vec![
                n(0, 50, 60, 10),
                n(20, 80, 60, 20),
                n(80, 120, 60, 30),
                n(80, 100, 62, 40),
                n(90, 130, 62, 50),
                n(200, 250, 64, 60),
                n(200, 300, 64, 70),
                n(300, 301, 64, 80),
            ],
        ),
        inst(0, 9, true, "Kit", vec![n(0, 10, 38, 100), n(5, 15, 38, 101), n(15, 16, 38, 102)]),
    ];
    out.push(("overlaps", p, true));

    // More pitched instruments than channels: shared channels; no tempo events at all.
    let mut rng = Lcg(7);
    let mut p = Piece::new(220);
    for i in 0..17u8 {
        p.instruments.push(inst(i * 7, i, false, "", random_notes(&mut rng, 30, 30 + i, 24, 200)));
    }
    p.instruments.push(inst(0, 9, true, "Drums", random_notes(&mut rng, 60, 35, 20, 100)));
    out.push(("crowd", p, false));

    // Many random notes under many tempo changes.
    let mut rng = Lcg(42);
    let mut p = Piece::new(384);
    let mut tick = 0;
    for _ in 0..40 {
        p.tempos.push(TempoChange { tick, micros_per_beat: 200_000 + rng.next(1_500_000) as u32 });
        tick += 1 + rng.next(2000);
    }
    p.instruments = vec![
        inst(24, 3, false, "Guitar", random_notes(&mut rng, 800, 40, 40, 120)),
        inst(0, 9, true, "", random_notes(&mut rng, 400, 35, 30, 60)),
    ];
    out.push(("random", p, false));
    out
}

/// `(is_drum, program, pitch, start, end, velocity)` of every note, sorted.
type Key = (bool, u8, u8, u64, u64, u8);

fn keys(piece: &Piece, notes_of: impl Fn(&Instrument) -> Vec<Note>) -> Vec<Key> {
    let mut out: Vec<Key> = piece
        .instruments
        .iter()
        .flat_map(|i| {
            let program = if i.is_drum { 0 } else { i.program };
            notes_of(i).into_iter().map(move |n| (i.is_drum, program, n.pitch, n.start, n.end, n.velocity))
        })
        .collect();
    out.sort_unstable();
    out
}

/// pretty_midi's pairing rule on the events our writer emits (note-offs before note-ons on a
/// tick): a note-off closes every open note of its pitch that started on an earlier tick.
fn pretty_midi_pairing(instrument: &Instrument) -> Vec<Note> {
    let mut events: Vec<(u64, bool, u8, u8)> = Vec::new(); // (tick, is_on, pitch, velocity)
    for n in &instrument.notes {
        events.push((n.start, true, n.pitch, n.velocity));
        events.push((n.end, false, n.pitch, 0));
    }
    events.sort_by_key(|e| (e.0, e.1)); // offs (false) first on a tick
    let mut open: Vec<Vec<(u64, u8)>> = vec![Vec::new(); 128];
    let mut out = Vec::new();
    for (tick, is_on, pitch, velocity) in events {
        let queue = &mut open[usize::from(pitch)];
        if is_on {
            queue.push((tick, velocity));
        } else {
            let (close, keep): (Vec<_>, Vec<_>) = queue.iter().partition(|o| o.0 != tick);
            out.extend(close.iter().map(|&(start, velocity)| n(start, tick, pitch, velocity)));
            *queue = if close.is_empty() { Vec::new() } else { keep };
        }
    }
    out
}

fn python_keys(notes: &Value) -> Vec<(Key, f64, f64)> {
    let mut out: Vec<(Key, f64, f64)> = notes
        .as_array()
        .expect("note list")
        .iter()
        .map(|v| {
            let u = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
            let f = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"));
            let key = (
                v["is_drum"].as_bool().expect("is_drum"),
                u("program") as u8,
                u("pitch") as u8,
                u("start_tick"),
                u("end_tick"),
                u("velocity") as u8,
            );
            (key, f("start_s"), f("end_s"))
        })
        .collect();
    out.sort_by_key(|a| a.0);
    out
}

fn check(reader: &str, name: &str, piece: &Piece, expected: &[Key], got: &Value) {
    let got = python_keys(got);
    let got_keys: Vec<Key> = got.iter().map(|g| g.0).collect();
    assert_eq!(got_keys, expected, "{reader} on {name}: notes differ");
    let map = TempoMap::new(piece);
    for (key, start_s, end_s) in got {
        let (want_start, want_end) = (map.seconds_at(key.3), map.seconds_at(key.4));
        assert!(
            (start_s - want_start).abs() < 1e-6 && (end_s - want_end).abs() < 1e-6,
            "{reader} on {name}: {key:?} at {start_s}..{end_s} s, TempoMap says {want_start}..{want_end}"
        );
    }
}

#[test]
fn python_readers_agree_with_written_files() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let pieces = pieces();
    let mut paths = Vec::new();
    for (name, piece, _) in &pieces {
        let path = dir.path().join(format!("{name}.mid"));
        write_file(piece, &path).expect("write");
        // Our own reader gives the piece back (channels as the writer kept them).
        let back = read_file(&path, &ReadOptions::default()).expect("read back");
        let mut want = piece.clone();
        want.normalize();
        if *name == "crowd" {
            // Channels past the 15th pitched instrument are shared; compare without them.
            for (a, b) in want.instruments.iter_mut().zip(&back.instruments) {
                a.channel = b.channel;
            }
        }
        assert_eq!(back, want, "our reader on {name}");
        paths.push(path);
    }

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/midi_readback.py");
    let output = Command::new(&python).arg(&script).args(&paths).output().expect("run Python");
    assert!(
        output.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON from the script");
    let files = json["files"].as_array().expect("files");
    assert_eq!(files.len(), pieces.len());

    for ((name, piece, overlaps), file) in pieces.iter().zip(files) {
        assert_eq!(file["ticks_per_beat"].as_u64(), Some(u64::from(piece.ticks_per_beat)));
        let ours = keys(piece, |i| i.notes.clone());
        check("mido", name, piece, &ours, &file["mido"]);
        let pm_expected = if *overlaps { keys(piece, pretty_midi_pairing) } else { ours.clone() };
        if *overlaps {
            assert_ne!(pm_expected, ours, "the overlap case must exercise pretty_midi's rule");
        }
        check("pretty_midi", name, piece, &pm_expected, &file["pretty_midi"]);
    }
}

/// Pieces decoded from each scheme's tokens, written and read by pretty_midi and mido: the
/// files hold exactly the quantized notes (`Tokenizer::quantize`), in ticks and in seconds.
#[test]
fn python_readers_see_the_quantized_notes_of_every_scheme() {
    use cadenza::tokens::{Scheme, Tokenizer, TokenizerConfig};
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cases = Vec::new();
    for (name, piece, _) in pieces() {
        for scheme in Scheme::ALL {
            let t = Tokenizer::new(TokenizerConfig { scheme, ..TokenizerConfig::default() }).unwrap();
            let decoded = t.decode(&t.encode(&piece));
            assert_eq!(decoded, t.quantize(&piece), "{scheme} on {name}");
            let path = dir.path().join(format!("{name}-{scheme}.mid"));
            write_file(&decoded, &path).expect("write");
            cases.push((format!("{name} ({scheme})"), decoded, path));
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/midi_readback.py");
    let output =
        Command::new(&python).arg(&script).args(cases.iter().map(|c| &c.2)).output().expect("run Python");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON from the script");
    let files = json["files"].as_array().expect("files");
    assert_eq!(files.len(), cases.len());
    for ((name, piece, _), file) in cases.iter().zip(files) {
        check("mido", name, piece, &keys(piece, |i| i.notes.clone()), &file["mido"]);
        check("pretty_midi", name, piece, &keys(piece, pretty_midi_pairing), &file["pretty_midi"]);
    }
}

/// A format-0 file written by mido: several channels, program changes while notes sound,
/// velocity-0 note-offs, overlapping same-pitch notes, a zero-length note, an unterminated note,
/// drums and tempo changes mid-track.
const MIDO_WRITER: &str = r#"
import sys, mido
mid = mido.MidiFile(type=0, ticks_per_beat=120)
t = mido.MidiTrack(); mid.tracks.append(t)
M = mido.Message
evs = [
    (0, mido.MetaMessage('set_tempo', tempo=450000)),
    (0, M('program_change', channel=0, program=10)),
    (0, M('program_change', channel=3, program=70)),
    (0, M('note_on', channel=0, note=60, velocity=90)),
    (0, M('note_on', channel=3, note=50, velocity=40)),
    (30, M('note_on', channel=0, note=60, velocity=91)),
    (60, M('program_change', channel=0, program=11)),
    (60, M('note_on', channel=0, note=64, velocity=92)),
    (90, M('note_on', channel=0, note=60, velocity=0)),
    (100, mido.MetaMessage('set_tempo', tempo=700000)),
    (120, M('note_off', channel=0, note=60, velocity=64)),
    (120, M('note_on', channel=9, note=36, velocity=100)),
    (120, M('note_on', channel=9, note=36, velocity=0)),
    (150, M('note_off', channel=0, note=64)),
    (200, M('note_on', channel=3, note=50, velocity=0)),
    (210, M('note_on', channel=3, note=55, velocity=1)),
    (400, mido.MetaMessage('end_of_track')),
]
now = 0
for tick, msg in evs:
    t.append(msg.copy(time=tick - now)); now = tick
mid.save(sys.argv[1])
"#;

#[test]
fn our_reader_agrees_with_mido_on_a_file_mido_wrote() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("mido.mid");
    let status = Command::new(&python).arg("-c").arg(MIDO_WRITER).arg(&path).status().expect("run");
    assert!(status.success(), "mido failed to write the file");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/midi_readback.py");
    let output = Command::new(&python).arg(&script).arg(&path).output().expect("run Python");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON");

    let piece = read_file(&path, &ReadOptions::default()).expect("our reader");
    assert_eq!(piece.ticks_per_beat, 120);
    assert_eq!(
        piece.tempos,
        vec![
            TempoChange { tick: 0, micros_per_beat: 450_000 },
            TempoChange { tick: 100, micros_per_beat: 700_000 },
        ]
    );
    // Programs at note-on: 10 and 11 on channel 0, 70 on channel 3, drums.
    let mut programs: Vec<(u8, u8, bool)> =
        piece.instruments.iter().map(|i| (i.channel, i.program, i.is_drum)).collect();
    programs.sort_unstable();
    assert_eq!(programs, vec![(0, 10, false), (0, 11, false), (3, 70, false), (9, 0, true)]);
    let ours = keys(&piece, |i| i.notes.clone());
    // Computed by hand from the events above.
    let mut by_hand: Vec<Key> = vec![
        (false, 10, 60, 0, 90, 90),
        (false, 10, 60, 30, 120, 91), // FIFO: the vel-0 off at 90 closes the older 60
        (false, 11, 64, 60, 150, 92), // program 11 from tick 60
        (false, 70, 50, 0, 200, 40),
        (false, 70, 55, 210, 400, 1), // never turned off: ends with the track
        (true, 0, 36, 120, 121, 100), // on and off on one tick: one tick long
    ];
    by_hand.sort_unstable();
    assert_eq!(ours, by_hand);
    check("mido", "mido.mid", &piece, &ours, &json["files"][0]["mido"]);
}
