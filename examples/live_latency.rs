//! How fast and how well `cadenza live` answers: a JACK dummy server of its own, a client that
//! plays `--phrases` phrases (eight notes in a major key, 80-140 bpm, mostly quarters: tonic
//! chord tones on beats 1 and 3, steps between, a close on the tonic; `--walk`: a random walk
//! on the scale instead) into `cadenza live CKPT` for each checkpoint given (a new key every
//! four phrases, as a player keeps to a key for a while), and records the answers.
//!
//! Per checkpoint it prints: the answer latency (its first note against the first beat of the
//! phrase's own grid after the wait, median and 95th percentile; measured at the client, whose
//! reading of `cadenza:out` trails one JACK period of 2.7 ms in the graph), the time cadenza
//! took to have the answer ready after the last key went up (median, p95; from its report), how
//! many phrases were answered, how many phrases are heard in the key they were written in (by
//! the session, `cadenza::live::answer::session_key`: both profiles, the last note counting
//! double; by the key finder's Aarden-Essen and Krumhansl-Kessler profiles each alone), how
//! many answers each profile alone (and both together, as cadenza chooses its answers) places
//! in the phrase's key, how many answers each profile places in the key the session hears in
//! the phrase, how many Aarden-Essen places in the phrase's key or a related one (its relative
//! minor, the keys a fifth either side), and the share of the answers' sounding time on the
//! phrase key's scale (7 of 12 pitch classes: about 58% for notes drawn at random).
//! Answers sampled in parts (`--part-beats`, or picked by `cadenza live` for a slow model):
//! the parts after the first, and how many of them were ready only after their first beat.
//! `--chromatic`, `--no-cadence`, `--tonic-weight`, `--part-beats`, `--candidates` and
//! `--threads` are passed to `cadenza live`.
//!
//! ```sh
//! cargo build --release --bin cadenza --example live_latency
//! target/release/examples/live_latency --bin target/release/cadenza --phrases 20 \
//!     checkpoints/bach.lstm checkpoints/bach.transformer /tmp/bach.markov checkpoints/bach-key.hmm
//! ```

#[path = "support/args.rs"]
mod args;
#[path = "../tests/support/jack.rs"]
mod jack;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cadenza::key::{finder, Key, Mode};
use cadenza::live::answer::{session_key, Played};
use cadenza::midi::{Note, Piece};
use rand::{Rng, SeedableRng};

struct Phrase {
    key: Key,
    bpm: f64,
    /// (onset µs, pitch, release µs)
    notes: Vec<(u64, u8, u64)>,
}

/// A phrase of eight notes (mostly quarters, at most one eighth pair) in `tonic`'s major key at
/// 80-140 bpm, each note held for 80% of its spacing. `tonal`: as a player keeps to a key, the
/// notes on the beats of a half note (beats 1 and 3 of a bar) are the tonic chord's root, third
/// and fifth in some order (then one of them again), each near the last note, the notes between
/// step by a degree, and the phrase closes on the tonic from the degree above or below (a
/// cadence). Otherwise a random walk on the scale that starts and ends on the tonic (whose key
/// the finder often hears elsewhere).
fn phrase(rng: &mut impl Rng, start: u64, tonic: u8, tonal: bool) -> Phrase {
    let key = Key { tonic, mode: Mode::Major };
    let scale = key.scale();
    let bpm = rng.random_range(80.0..140.0);
    let beat = 60e6 / bpm;
    let mut at = 0.0; // beats
    let mut degree: i32 = 0;
    let mut degrees = Vec::new();
    let mut times = Vec::new();
    let mut pairs = 0;
    // The chord tones of the strong beats: root, third and fifth shuffled, then one again.
    let mut chord = vec![0, 2, 4];
    for i in (1..3).rev() {
        chord.swap(i, rng.random_range(0..=i));
    }
    chord.push(chord[rng.random_range(0..3)]);
    let mut strong = chord.into_iter();
    while degrees.len() < 8 {
        let len = if pairs == 0 && degrees.len() > 2 && degrees.len() < 6 && rng.random_bool(0.3) {
            0.5
        } else {
            1.0
        };
        if len < 1.0 {
            pairs += 1;
        }
        let steps = if len < 1.0 { 2 } else { 1 };
        for _ in 0..steps {
            if tonal && at % 2.0 == 0.0 {
                // That chord tone in the octave nearest the last note.
                let tone = strong.next().unwrap_or(0);
                degree =
                    [tone - 7, tone, tone + 7].into_iter().min_by_key(|d| (d - degree).abs()).unwrap_or(tone);
            }
            degrees.push(degree);
            times.push((at, len));
            at += len;
            let moves: &[i32] = if tonal { &[-1, 1] } else { &[-2, -1, -1, 1, 1, 2, 0] };
            degree = (degree + moves[rng.random_range(0..moves.len())]).clamp(-3, 9);
        }
    }
    let n = degrees.len();
    if tonal {
        // Close on the tonic from the degree above or below.
        degrees[n - 2] = if rng.random_bool(0.5) { 1 } else { -1 };
    }
    // End on the tonic, as phrases in one key often do.
    degrees[n - 1] = 0;
    let notes = degrees
        .iter()
        .zip(&times)
        .map(|(&d, &(at, len))| {
            let step = i32::from((scale[d.rem_euclid(7) as usize] + 12 - tonic) % 12);
            let pitch = 60 + i32::from(tonic) + 12 * d.div_euclid(7) + step;
            let on = start + (at * beat) as u64;
            (on, pitch.clamp(48, 88) as u8, on + (len * 0.8 * beat) as u64)
        })
        .collect();
    Phrase { key, bpm, notes }
}

/// Notes (onset µs, pitch, release µs) as a piece in milliseconds from `t0`.
fn in_ms(notes: &[(u64, u8, u64)], t0: u64) -> Piece {
    let notes = notes
        .iter()
        .map(|&(on, pitch, off)| {
            let (on, off) = ((on - t0) / 1000, (off - t0) / 1000);
            Note { start: on, end: off.max(on + 1), pitch, velocity: 80 }
        })
        .collect();
    Piece::of_notes(1000, notes)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() -> Result<(), String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let bin: String = args::arg(&argv, "--bin", "target/debug/cadenza".to_string())?;
    let phrases: usize = args::arg(&argv, "--phrases", 20)?;
    let wait: f64 = args::arg(&argv, "--wait", 0.5)?;
    let beats: u32 = args::arg(&argv, "--answer-beats", 4)?;
    let seed: u64 = args::arg(&argv, "--seed", 1)?;
    let verbose = argv.iter().any(|a| a == "--verbose");
    let chromatic = argv.iter().any(|a| a == "--chromatic");
    let no_cadence = argv.iter().any(|a| a == "--no-cadence");
    let walk = argv.iter().any(|a| a == "--walk");
    let flags = ["--verbose", "--chromatic", "--no-cadence", "--walk"];
    // Not given: `cadenza live` picks them (4, or up to 16 for a quick model).
    let candidates: Option<u32> = args::opt_arg(&argv, "--candidates")?;
    let context: u32 = args::arg(&argv, "--context-beats", 16)?;
    let tonic_weight: f64 = args::arg(&argv, "--tonic-weight", cadenza::live::answer::DEFAULT_TONIC_WEIGHT)?;
    let threads: Option<u32> = args::opt_arg(&argv, "--threads")?;
    let part_beats: Option<u32> = args::opt_arg(&argv, "--part-beats")?;
    let mut ckpts = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        if flags.contains(&argv[i].as_str()) {
            i += 1;
        } else if argv[i].starts_with("--") {
            i += 2;
        } else {
            ckpts.push(argv[i].clone());
            i += 1;
        }
    }
    if ckpts.is_empty() {
        return Err("give one or more checkpoints".into());
    }
    let jackd = jack::jackd().ok_or("no jackd")?;
    let server = jack::Server::start(&jackd, "bench");
    let (active, traffic) = jack::test_client(&server, "keys", true);
    let client = active.as_client();
    println!(
        "| checkpoint | answered | latency median | p95 | ready after release, median | p95 | phrases in their key (session / AE / KK) | answers in the phrase's key (AE / KK / both) | answers in the key the session hears in the phrase (AE / KK) | in a related key (AE) | answer time on the key's scale | later parts (late) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for ckpt in &ckpts {
        let mut child = Command::new(&bin)
            .args([
                "live",
                ckpt,
                "--in",
                "jack:keys:out",
                "--out",
                "jack:keys:in",
                "--wait",
                &wait.to_string(),
            ])
            .args(["--answer-beats", &beats.to_string(), "--rng-seed", &seed.to_string()])
            .args(["--context-beats", &context.to_string()])
            .args(candidates.iter().flat_map(|c| ["--candidates".to_string(), c.to_string()]))
            .args(threads.iter().flat_map(|c| ["--threads".to_string(), c.to_string()]))
            .args(chromatic.then_some("--chromatic"))
            .args(no_cadence.then_some("--no-cadence"))
            .args(["--tonic-weight", &tonic_weight.to_string()])
            .args(part_beats.iter().flat_map(|p| ["--part-beats".to_string(), p.to_string()]))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{bin}: {e}"))?;
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let theirs = Arc::clone(&lines);
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let reader = std::thread::spawn(move || {
            for l in stdout.lines().map_while(Result::ok) {
                theirs.lock().unwrap().push(l);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let connected =
            |n: &str| client.port_by_name(n).is_some_and(|p| p.connected_count().unwrap_or(0) > 0);
        while !(connected("keys:out") && connected("keys:in")) {
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                return Err(format!("{ckpt}: cadenza live did not connect"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let (mut late, mut in_key, mut kk_key, mut near_key, mut answered) = (Vec::new(), 0, 0, 0, 0);
        let (mut phrase_in_key, mut as_heard, mut session_in_key, mut both_in_key) = (0, 0, 0, 0);
        let (mut phrase_kk_in_key, mut kk_in_key) = (0, 0);
        let (mut in_scale, mut all_beats) = (0.0, 0.0);
        let mut tonic = 0;
        for n in 0..phrases {
            // A player keeps to a key for a while: a new key every four phrases.
            if n % 4 == 0 {
                tonic = rng.random_range(0..12u8);
            }
            let start = client.time() + 300_000;
            let p = phrase(&mut rng, start, tonic, !walk);
            {
                let mut t = traffic.lock().unwrap();
                let mut events: Vec<(u64, Vec<u8>)> = Vec::new();
                for &(on, pitch, off) in &p.notes {
                    events.push((on, vec![0x90, pitch, 80]));
                    events.push((off, vec![0x80, pitch, 0]));
                }
                events.sort();
                t.to_send.extend(events);
            }
            let beat = 60e6 / p.bpm;
            let last_off = p.notes.iter().map(|n| n.2).max().unwrap();
            let first = p.notes[0].0;
            let k = ((last_off + (wait * 1e6) as u64 - first) as f64 / beat - 1e-3).ceil();
            let due = first + (k * beat) as u64;
            let end = due + (f64::from(beats) * beat) as u64;
            while client.time() < end + 400_000 {
                std::thread::sleep(Duration::from_millis(20));
            }
            let t = traffic.lock().unwrap();
            let ons: Vec<(u64, u8, u64)> = {
                let got: Vec<&(u64, Vec<u8>)> = t.got.iter().filter(|(us, _)| *us > last_off).collect();
                got.iter()
                    .filter(|(_, b)| b.len() == 3 && b[0] & 0xf0 == 0x90 && b[2] > 0)
                    .map(|(us, b)| {
                        let off = got
                            .iter()
                            .find(|(u2, b2)| {
                                *u2 > *us
                                    && b2.len() == 3
                                    && b2[1] == b[1]
                                    && (b2[0] & 0xf0 == 0x80 || b2[2] == 0)
                            })
                            .map_or(*us + 250_000, |(u2, _)| *u2);
                        (*us, b[1], off)
                    })
                    .collect()
            };
            drop(t);
            let Some(first_on) = ons.first() else { continue };
            answered += 1;
            late.push((first_on.0 as f64 - due as f64) / 1e3);
            let piece = in_ms(&ons, first_on.0);
            let heard = finder::key_of_notes(&piece, None, finder::Profile::default());
            // The phrase itself, as the finder hears it: how clear its key is to begin with.
            let played = in_ms(&p.notes, p.notes[0].0);
            let phrase_heard = finder::key_of_notes(&played, None, finder::Profile::default());
            if phrase_heard.as_ref().is_some_and(|k| k.key == p.key) {
                phrase_in_key += 1;
            }
            // The key the session hears in the phrase (both profiles, its last note counting
            // double), and the answer in it by each profile alone (cadenza chooses its answers
            // by the two together).
            let as_played: Vec<Played> = p
                .notes
                .iter()
                .map(|&(on, pitch, off)| Played {
                    pitch,
                    velocity: 80,
                    start: on as f64 / 1e6,
                    end: off as f64 / 1e6,
                })
                .collect();
            let session = session_key(&as_played, None, None);
            session_in_key += usize::from(session == Some(p.key));
            if session.zip(heard.as_ref()).is_some_and(|(a, b)| a == b.key) {
                as_heard += 1;
            }
            let kk = |piece: &Piece| finder::key_of_notes(piece, None, finder::Profile::KrumhanslKessler);
            if session.zip(kk(&piece)).is_some_and(|(a, b)| a == b.key) {
                kk_key += 1;
            }
            let both = finder::find_key_by_both(&finder::pitch_class_beats(&piece, None));
            both_in_key += usize::from(both.is_some_and(|k| k.key == p.key));
            phrase_kk_in_key += usize::from(kk(&played).is_some_and(|k| k.key == p.key));
            kk_in_key += usize::from(kk(&piece).is_some_and(|k| k.key == p.key));
            if heard.as_ref().is_some_and(|k| k.key == p.key) {
                in_key += 1;
            }

            // The same key, its relative minor, or the keys a fifth either side.
            let related = |k: Key| {
                let major = if k.mode == Mode::Major { k.tonic } else { (k.tonic + 3) % 12 };
                [0u8, 5, 7].iter().any(|&d| (p.key.tonic + d) % 12 == major)
            };
            if heard.as_ref().is_some_and(|k| related(k.key)) {
                near_key += 1;
            }
            // How much of the answer (in sounding time) is on the phrase key's scale.
            let scale = p.key.scale();
            for &(on, pitch, off) in &ons {
                let d = (off - on) as f64;
                all_beats += d;
                if scale.contains(&(pitch % 12)) {
                    in_scale += d;
                }
            }
            if verbose {
                let pitches: Vec<u8> = p.notes.iter().map(|n| n.1).collect();
                let answer: Vec<(u64, u8)> = ons.iter().map(|n| ((n.0 - first_on.0) / 1000, n.1)).collect();
                eprintln!(
                    "{} at {:.0} bpm: {pitches:?} (heard in {:?}) answered {answer:?}, heard in {:?} (Krumhansl-Kessler: {:?} and {:?}), first note {:+.1} ms",
                    p.key,
                    p.bpm,
                    finder::key_of_notes(&played, None, finder::Profile::default()).map(|k| k.key.to_string()),
                    heard.map(|k| k.key.to_string()),
                    kk(&played).map(|k| k.key.to_string()),
                    kk(&piece).map(|k| k.key.to_string()),
                    late.last().unwrap()
                );
            }
        }
        cadenza_stop(&mut child);
        reader.join().unwrap();
        let lines = lines.lock().unwrap().clone();
        if verbose {
            lines.iter().for_each(|l| eprintln!("  {l}"));
        }
        let field = |l: &str, before: &str, after: &str| -> Option<f64> {
            let i = l.find(after)?;
            let head = &l[..i];
            head.rsplit(before).next()?.trim().parse().ok()
        };
        let mut ready: Vec<f64> = lines.iter().filter_map(|l| field(l, "ready ", " ms after")).collect();
        late.sort_by(f64::total_cmp);
        ready.sort_by(f64::total_cmp);
        // Answers in parts: the parts after the first, and those ready after their first beat.
        let parts = lines.iter().filter(|l| l.contains(" part ")).count();
        let late_parts = lines.iter().filter(|l| l.contains(" part ") && l.contains("(late")).count();
        println!(
            "| {ckpt} | {answered}/{phrases} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {session_in_key} / {phrase_in_key} / {phrase_kk_in_key} of {answered} | {in_key} / {kk_in_key} / {both_in_key} of {answered} | {as_heard} / {kk_key} of {answered} | {near_key}/{answered} | {:.0}% | {parts} ({late_parts}) |",
            percentile(&late, 0.5),
            percentile(&late, 0.95),
            percentile(&ready, 0.5),
            percentile(&ready, 0.95),
            100.0 * in_scale / all_beats.max(1e-9)
        );
    }
    drop(active);
    drop(server);
    Ok(())
}

fn cadenza_stop(child: &mut std::process::Child) {
    // SAFETY: kill(2) on our child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let _ = child.wait();
}
