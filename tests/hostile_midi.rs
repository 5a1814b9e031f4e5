//! Hostile MIDI files, built byte by byte: every one must read as a best-effort piece or fail
//! with one clear `InvalidMidi` line naming the file, go through the whole pipeline (see
//! `support/pipeline.rs`) when it reads, and stay within bounded memory and work. A corpus
//! mixing them with good files must load with the good ones present and every hostile one
//! either read or listed as skipped with its reason.
//!
//! The expected outcome of each file is worked out by hand from the reader's documented rules
//! (`src/midi/read.rs`), not taken from the reader.

#[path = "support/pipeline.rs"]
mod pipeline;

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use cadenza::corpus::{Corpus, LoadOptions};
use cadenza::midi::smf_bytes::{self, chunk, eot, events, header, mtrk, smf, vlq};
use cadenza::midi::write_file;
use cadenza::{Tokenizer, TokenizerConfig};

// ---- allocation accounting -----------------------------------------------------------------

/// The system allocator, counting live bytes, their peak and every byte ever allocated.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static TOTAL: AtomicU64 = AtomicU64::new(0);

fn grew(size: usize) {
    let now = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(now, Ordering::Relaxed);
    TOTAL.fetch_add(size as u64, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests in this binary run one at a time so each one's allocation figures are its own.
static SERIAL: Mutex<()> = Mutex::new(());

/// Most bytes live at once above the starting point while one file goes through the pipeline.
const PEAK_LIMIT: usize = 256 << 20;
/// Most bytes allocated in all (a proxy for work done) while one file goes through the pipeline.
const TOTAL_LIMIT: u64 = 2 << 30;

/// Run `f`, returning its result, the peak of live bytes above the start, and all bytes allocated.
fn measured<T>(f: impl FnOnce() -> T) -> (T, usize, u64) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let total = TOTAL.load(Ordering::Relaxed);
    let out = f();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    (out, peak, TOTAL.load(Ordering::Relaxed) - total)
}

// ---- a tiny SMF assembler ------------------------------------------------------------------

/// A track body: events, then End of Track at delta 0.
fn body(evs: &[(u32, &[u8])]) -> Vec<u8> {
    smf_bytes::body(evs, 0)
}

/// A simple track: C4 for a beat (96 ticks), then E4 for a beat.
fn two_notes() -> Vec<u8> {
    body(&[(0, &[0x90, 60, 100]), (96, &[0x80, 60, 0]), (0, &[0x90, 64, 90]), (96, &[0x80, 64, 0])])
}

/// Deterministic bytes (a 64-bit LCG), so the garbage is the same on every run.
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

// ---- the cases -----------------------------------------------------------------------------

/// What a hostile file must give.
#[derive(Debug, Clone)]
enum Expect {
    /// A piece at this resolution whose notes, as `(start, end, pitch)` sorted, are these.
    Notes(u16, Vec<(u64, u64, u8)>),
    /// A piece with this many notes (when listing them would be silly).
    Count(usize),
    /// `InvalidMidi` whose reason contains this text (case-insensitive).
    Invalid(&'static str),
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    expect: Expect,
}

/// The notes of `two_notes()` at tick offset `at`.
fn two_notes_at(at: u64) -> Vec<(u64, u64, u8)> {
    vec![(at, at + 96, 60), (at + 96, at + 192, 64)]
}

fn cases() -> Vec<Case> {
    use Expect::*;
    let mut v = Vec::new();
    let mut add = |name, bytes, expect| v.push(Case { name, bytes, expect });
    let good = smf(1, 96, &[two_notes()]);

    // -- truncation --
    add("truncated_in_header", good[..11].to_vec(), Invalid("header"));
    add("truncated_after_header", good[..14].to_vec(), Notes(96, vec![]));
    add("truncated_in_chunk_id", good[..17].to_vec(), Notes(96, vec![]));
    // The track chunk claims its full length but the file stops after the first note-off: no
    // End of Track to go on.
    add("truncated_in_chunk", good[..22 + 8].to_vec(), Invalid("runs past the end of the file"));
    // The file stops in the middle of a note-on (the chunk length is made to agree).
    let t = two_notes();
    let cut = &t[..10];
    add("truncated_in_event", [header(1, 1, [0, 96]), mtrk(cut)].concat(), Invalid("track 0"));
    // A delta time cut after a continuation byte.
    let cut = [&t[..8], &[0x81][..]].concat();
    add("truncated_in_delta", [header(1, 1, [0, 96]), mtrk(&cut)].concat(), Invalid("delta time"));

    // -- lying lengths and counts --
    let mut f = header(1, 1, [0, 96]);
    f.extend(chunk(b"MTrk", 0xFFFF_FFFF, &two_notes()));
    add("chunk_length_4gb", f, Notes(96, two_notes_at(0)));
    let mut f = header(1, 2, [0, 96]);
    f.extend(chunk(b"MTrk", 0x7FFF_FFF0, &two_notes()));
    f.extend(mtrk(&body(&[(10, &[0x91, 70, 80]), (5, &[0x81, 70, 0])])));
    add("first_chunk_length_past_eof", f, Notes(96, [two_notes_at(0), vec![(10, 15, 70)]].concat()));
    let mut f = header(1, 65535, [0, 96]);
    f.extend(mtrk(&two_notes()));
    add("claims_65535_tracks", f, Notes(96, two_notes_at(0)));
    add("zero_tracks", header(1, 0, [0, 96]), Notes(96, vec![]));
    add("claims_3_tracks_has_0", header(1, 3, [1, 0]), Notes(256, vec![]));
    let mut f = chunk(b"MThd", 10, &[0, 1, 0, 1, 0, 96, 1, 2, 3, 4]);
    f.extend(mtrk(&two_notes()));
    add("header_chunk_longer_than_6", f, Notes(96, two_notes_at(0)));
    // The header chunk swallows the rest of the file (nothing here): no tracks.
    add("header_chunk_length_4gb", chunk(b"MThd", 0xFFFF_FFFF, &[0, 1, 0, 1, 0, 96]), Notes(96, vec![]));

    // -- timing and format --
    let conductor = body(&[
        (0, b"\xFF\x51\x03\x07\xA1\x20"),
        (0, b"\xFF\x58\x04\x04\x02\x18\x08"),
        (0, b"\xFF\x03\x04Song"),
        (0, b"\xFF\x01\x05hello"),
    ]);
    let controls =
        body(&[(0, &[0xC0, 5]), (0, &[0xB0, 7, 100]), (10, &[0xB0, 64, 127]), (10, &[0xE0, 0, 64])]);
    add("no_notes", smf(1, 96, &[conductor, controls]), Notes(96, vec![]));
    add("ticks_per_beat_0", smf(1, 0, &[two_notes()]), Invalid("ticks per beat is 0"));
    // SMPTE 25 fps x 40 ticks per frame: 1000 ticks per beat of one second.
    let f = [header(0, 1, [0xE7, 40]), mtrk(&two_notes())].concat();
    add("smpte_25fps", f, Notes(1000, two_notes_at(0)));
    // 29.97 fps, 80 ticks per frame: 30 x 80 = 2400.
    let f = [header(0, 1, [0xE3, 80]), mtrk(&two_notes())].concat();
    add("smpte_2997fps", f, Notes(2400, two_notes_at(0)));
    add(
        "smpte_0_ticks_per_frame",
        [header(0, 1, [0xE7, 0]), mtrk(&two_notes())].concat(),
        Invalid("ticks per frame is 0"),
    );
    // -26 fps does not exist.
    add("smpte_26fps", [header(0, 1, [0xE6, 40]), mtrk(&two_notes())].concat(), Invalid("invalid midi"));
    // Format 2: the second sequence starts where the first one's End of Track is (192).
    add(
        "format_2",
        smf(2, 96, &[two_notes(), two_notes()]),
        Notes(96, [two_notes_at(0), two_notes_at(192)].concat()),
    );
    add("format_3", smf(3, 96, &[two_notes()]), Invalid("invalid midi"));
    add("format_65535", smf(0xFFFF, 96, &[two_notes()]), Invalid("invalid midi"));

    // -- absurd lengths inside tracks --
    let meta = [&[0xFF, 0x01][..], &vlq(0x0FFF_FFFF), b"xyz"].concat();
    add("meta_length_0x0fffffff", smf(1, 96, &[body(&[(0, &meta)])]), Invalid("meta event length 268435455"));
    let meta = [0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2];
    add("meta_length_5_byte_varlen", smf(1, 96, &[body(&[(0, &meta)])]), Invalid("longer than 4 bytes"));
    let sysex = [&[0xF0][..], &vlq(0x0FFF_FFFF), &[1, 2, 0xF7]].concat();
    add(
        "sysex_length_0x0fffffff",
        smf(1, 96, &[body(&[(0, &sysex)])]),
        Invalid("sysex event length 268435455"),
    );
    let escape = [&[0xF7][..], &vlq(0x0FFF_FFF0), &[0x90, 60, 100]].concat();
    add("escape_length_absurd", smf(1, 96, &[body(&[(0, &escape)])]), Invalid("sysex event length"));
    // A meta event cut after its type byte, at the end of the chunk.
    add("meta_without_length", [header(1, 1, [0, 96]), mtrk(&[0, 0xFF, 0x03])].concat(), Invalid("track 0"));

    // -- sysex everywhere --
    // Complete sysex messages, split packets (F0 without F7, then F7 continuations), empty
    // ones, and F7 escapes that carry note-on bytes: none of it is a note.
    let sx: &[u8] = &[0xF0, 0x05, 0x7E, 0x7F, 0x09, 0x01, 0xF7];
    let t = body(&[
        (0, sx),
        (0, &[0xF0, 0x00]),
        (0, &[0x90, 60, 100]),
        (0, &[0xF0, 0x03, 0x43, 0x12, 0x00]), // first packet, no F7
        (10, &[0xF7, 0x02, 0x01, 0xF7]),      // continuation packet
        (0, &[0xF7, 0x03, 0x90, 0x40, 0x7F]), // escape carrying a note-on: not a note
        (0, sx),
        (86, &[0x80, 60, 0]),
        (0, &[0xF7, 0x00]),
        (0, sx),
        (0, &[0x90, 64, 90]),
        (0, sx),
        (96, &[0x80, 64, 0]),
        (0, sx),
    ]);
    add("sysex_everywhere", smf(0, 96, &[t]), Notes(96, two_notes_at(0)));

    // -- delta times at the 28-bit maximum --
    const MAX_DELTA: u32 = 0x0FFF_FFFF;
    let m = u64::from(MAX_DELTA);
    // 20 000 empty text events 2^28 - 1 ticks apart after the notes: 5.4e12 ticks of nothing.
    let mut t = events(&[(0, &[0x90, 60, 100]), (96, &[0x80, 60, 0])]);
    for _ in 0..20_000 {
        t.extend(events(&[(MAX_DELTA, &[0xFF, 0x01, 0x00])]));
    }
    t.extend(eot(MAX_DELTA));
    add("max_deltas_after_the_notes", smf(1, 96, &[t.clone()]), Notes(96, vec![(0, 96, 60)]));
    // The same with a note held through them all: it ends with the track.
    let held = [events(&[(0, &[0x90, 62, 80])]), t].concat();
    add("max_deltas_held_note", smf(1, 96, &[held]), Notes(96, vec![(0, 96, 60), (0, 20_001 * m + 96, 62)]));
    // A note after 20 000 maximal deltas starts 5.4e12 ticks (5.6e10 beats) in.
    let mut t = Vec::new();
    for _ in 0..20_000 {
        t.extend(events(&[(MAX_DELTA, &[0xFF, 0x01, 0x00])]));
    }
    t.extend(body(&[(0, &[0x90, 60, 100]), (96, &[0x80, 60, 0])]));
    add("max_deltas_before_a_note", smf(1, 96, &[t]), Invalid("too far into the piece"));
    // One maximal delta at 1 tick per beat: a note 268 million beats in.
    let t = body(&[(MAX_DELTA, &[0x90, 60, 100]), (1, &[0x80, 60, 0])]);
    add("one_max_delta_at_1_tick_per_beat", smf(1, 1, &[t]), Invalid("too far into the piece"));
    // Format 2 adds the sequences up: 3 sequences 2^28 - 1 ticks long, then a note.
    let long = eot(MAX_DELTA);
    let last = body(&[(0, &[0x90, 60, 100]), (96, &[0x80, 60, 0])]);
    add(
        "format_2_long_sequences",
        smf(2, 96, &[long.clone(), long.clone(), long, last]),
        Invalid("too far into the piece"),
    );

    // -- running status where the spec forbids it --
    // After a meta event (which cancels running status), data bytes continue the last note
    // message: mido (and so pretty_midi) read them so, and so does cadenza.
    let t = body(&[
        (0, &[0x90, 60, 100]),
        (0, b"\xFF\x01\x01x"),
        (96, &[60, 0]), // note-on velocity 0 = off
        (0, &[64, 90]),
        (0, b"\xFF\x51\x03\x07\xA1\x20"),
        (96, &[64, 0]),
    ]);
    add("running_status_after_meta", smf(0, 96, &[t]), Notes(96, two_notes_at(0)));
    let t = body(&[
        (0, &[0x90, 60, 100]),
        (0, &[0xF0, 0x01, 0xF7]),
        (96, &[60, 0]),
        (0, &[64, 90]),
        (96, &[64, 0]),
    ]);
    add("running_status_after_sysex", smf(0, 96, &[t]), Notes(96, two_notes_at(0)));
    // Running status with nothing to run: the first event of a track is a data byte.
    add("running_status_at_track_start", smf(0, 96, &[body(&[(0, &[60, 100])])]), Invalid("track 0"));
    // Running status does not carry over from one track to the next.
    let a = body(&[(0, &[0x90, 60, 100]), (96, &[0x80, 60, 0])]);
    let b = body(&[(0, &[64, 90]), (96, &[64, 0])]);
    add("running_status_across_tracks", smf(1, 96, &[a, b]), Invalid("track 1"));

    // -- notes that never end --
    let t =
        [events(&[(0, &[0x90, 60, 100]), (10, &[0x90, 64, 100]), (490, &[0x90, 67, 100])]), eot(0)].concat();
    add("notes_never_end", smf(0, 96, &[t]), Notes(96, vec![(0, 500, 60), (10, 500, 64), (500, 501, 67)]));
    // No End of Track at all, in an honest chunk: the notes end at the last event.
    let t = events(&[(0, &[0x90, 60, 100]), (50, &[0xB0, 1, 2])]);
    add("no_end_of_track", smf(0, 96, &[t]), Notes(96, vec![(0, 50, 60)]));

    // -- 100 000 simultaneous notes --
    let mut t = Vec::new();
    for i in 0..100_000u32 {
        t.extend_from_slice(&[0, 0x90 | (i % 16) as u8, ((i / 16) % 128) as u8, 1 + (i % 127) as u8]);
    }
    t.extend(eot(96));
    add("100k_simultaneous_notes", smf(0, 96, &[t]), Count(100_000));

    // -- junk around valid tracks --
    let mut f = smf(1, 96, &[two_notes()]);
    f.extend(garbage(4096, 7));
    add("garbage_after_tracks", f, Notes(96, two_notes_at(0)));
    let mut f = smf(1, 96, &[two_notes()]);
    f.extend(b"MTrk\x00\x00\x00\x10");
    f.extend(garbage(16, 11).iter().map(|b| b & 0x7F)); // data bytes only: not a valid event
    add("garbage_track_after_valid_tracks", f, Invalid("track 1"));
    let mut f = header(1, 2, [0, 96]);
    f.extend(chunk(b"XFIH", 5, b"abcde"));
    f.extend(chunk(b"mtrk", 4, &[0, 0x90, 60, 100])); // wrong case: not a track
    f.extend(mtrk(&two_notes()));
    f.extend(chunk(b"MThd", 6, &[0, 1, 0, 1, 0, 96])); // a second header
    f.extend(chunk(b"RIFF", 0, &[]));
    f.extend(chunk(b"\0\0\0\0", 3, &[0x90, 64, 100]));
    f.extend(mtrk(&body(&[(10, &[0x91, 70, 80]), (5, &[0x81, 70, 0])])));
    f.extend(chunk(b"XFKM", 1000, b"runs past the end"));
    add("non_mtrk_chunks", f, Notes(96, [two_notes_at(0), vec![(10, 15, 70)]].concat()));

    // -- RIFF (RMID) wrappers --
    let inner = smf(1, 96, &[two_notes()]);
    let mut riff = b"RMID".to_vec();
    riff.extend(b"data");
    riff.extend((inner.len() as u32).to_le_bytes());
    riff.extend(&inner);
    let mut f = b"RIFF".to_vec();
    f.extend((riff.len() as u32).to_le_bytes());
    f.extend(&riff);
    add("rmid_wrapper", f.clone(), Notes(96, two_notes_at(0)));
    f[4..8].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    add("rmid_wrapper_length_4gb", f, Notes(96, two_notes_at(0)));
    add("rmid_without_data", b"RIFF\x04\x00\x00\x00RMID".to_vec(), Invalid("no rmid data chunk"));

    // -- resource bombs --
    // 200 000 empty track chunks (1.6 MB), then a real one.
    let mut f = header(1, 0, [0, 96]);
    for _ in 0..200_000 {
        f.extend(chunk(b"MTrk", 0, &[]));
    }
    f.extend(mtrk(&two_notes()));
    add("200k_empty_tracks", f, Notes(96, two_notes_at(0)));
    // A 300 kB track name over 1921 instruments (15 channels x 128 programs, plus drums).
    let name = vec![b'n'; 300_000];
    let mut t = [&[0, 0xFF, 0x03][..], &vlq(name.len() as u32), &name].concat();
    let mut expected = 0;
    for channel in 0..16u8 {
        for program in 0..128u8 {
            t.extend_from_slice(&[0, 0xC0 | channel, program, 0, 0x90 | channel, 60, 100]);
            expected += 1;
        }
    }
    t.extend(eot(10));
    add("long_name_many_instruments", smf(0, 96, &[t]), Count(expected));
    // Tempo 0, time signatures with numerator 0 or a 2^200 denominator, key signature 9 sharps:
    // all skipped; the notes stay.
    let bad = body(&[
        (0, b"\xFF\x51\x03\x00\x00\x00"),
        (0, b"\xFF\x58\x04\x00\x02\x18\x08"),
        (0, b"\xFF\x58\x04\x04\xC8\x18\x08"),
        (0, b"\xFF\x59\x02\x09\x00"),
        (0, b"\xFF\x51\x01\x07"), // tempo with a short payload
    ]);
    add("bad_conductor_values", smf(1, 96, &[bad, two_notes()]), Notes(96, two_notes_at(0)));
    // 30 000 sustain pedal presses.
    let mut t = events(&[(0, &[0x90, 60, 100])]);
    for _ in 0..30_000 {
        t.extend(events(&[(1, &[0xB0, 64, 127]), (1, &[0xB0, 64, 0])]));
    }
    t.extend(body(&[(0, &[0x80, 60, 0])]));
    add("sustain_pedal_storm", smf(0, 96, &[t]), Notes(96, vec![(0, 60_000, 60)]));
    v
}

// ---- the tests ---------------------------------------------------------------------------

/// `(start, end, pitch)` of every note, sorted.
fn note_list(p: &cadenza::Piece) -> Vec<(u64, u64, u8)> {
    let mut v: Vec<_> =
        p.instruments.iter().flat_map(|i| i.notes.iter().map(|n| (n.start, n.end, n.pitch))).collect();
    v.sort_unstable();
    v
}

/// Write every case into `dir` as `<name>.mid`; their paths and expected outcomes.
fn write_cases(dir: &Path) -> Vec<(PathBuf, Expect)> {
    cases()
        .into_iter()
        .map(|c| {
            let path = dir.join(format!("{}.mid", c.name));
            std::fs::write(&path, &c.bytes).unwrap();
            (path, c.expect)
        })
        .collect()
}

#[test]
fn every_hostile_file_reads_or_fails_cleanly_within_bounds() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tokenizers = pipeline::tokenizers();
    let mut failures = Vec::new();
    for case in cases() {
        let path = PathBuf::from(format!("hostile/{}.mid", case.name));
        let (outcome, peak, total) = measured(|| pipeline::check(&case.bytes, &path, &tokenizers));
        if peak > PEAK_LIMIT {
            failures.push(format!("{}: peak allocation {} MB", case.name, peak >> 20));
        }
        if total > TOTAL_LIMIT {
            failures.push(format!("{}: allocated {} MB in all", case.name, total >> 20));
        }
        let got = match &outcome.plain {
            Ok(p) => format!("piece with {} notes", p.note_count()),
            Err(e) => e.clone(),
        };
        eprintln!("{} | {} kB | {} kB | {got}", case.name, peak >> 10, total >> 10);
        let ok = match (&case.expect, &outcome.plain) {
            (Expect::Notes(tpb, notes), Ok(p)) => {
                let mut want = notes.clone();
                want.sort_unstable();
                p.ticks_per_beat == *tpb && note_list(p) == want
            }
            (Expect::Count(n), Ok(p)) => p.note_count() == *n,
            (Expect::Invalid(needle), Err(msg)) => msg.to_lowercase().contains(&needle.to_lowercase()),
            _ => false,
        };
        if !ok {
            failures.push(format!("{}: expected {:?}, got {got}", case.name, case.expect));
        }
        // The pedal changes note ends, never whether the file reads.
        if outcome.plain.is_ok() != outcome.sustained.is_ok() {
            failures.push(format!(
                "{}: sustain changes the outcome: {:?}",
                case.name,
                outcome.sustained.err()
            ));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn a_corpus_of_good_and_hostile_files_loads() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("scraped");
    std::fs::create_dir_all(root.join("good")).unwrap();
    std::fs::create_dir_all(root.join("hostile")).unwrap();
    let mut good = Vec::new();
    for i in 0..4u8 {
        let path = root.join(format!("good/melody{i}.mid"));
        write_file(&common::melody(i, 2 + u64::from(i)), &path).unwrap();
        good.push(path);
    }
    let hostile = write_cases(&root.join("hostile"));

    let tok = Tokenizer::new(TokenizerConfig::default()).unwrap();
    let opts = LoadOptions { cache_dir: None, ..Default::default() };
    let corpus = Corpus::load(&root, &tok, &opts).expect("the corpus loads");
    let rel = |p: &Path| p.strip_prefix(&root).unwrap().to_path_buf();
    let loaded = |p: &Path| corpus.pieces.iter().any(|c| c.path == rel(p));
    let skipped = |p: &Path| corpus.skipped.iter().find(|s| s.path == rel(p)).map(|s| s.reason.clone());

    assert_eq!(corpus.pieces.len() + corpus.skipped.len(), good.len() + hostile.len());
    for g in &good {
        assert!(loaded(g), "good file {} missing; skipped as {:?}", g.display(), skipped(g));
    }
    let read_opts = tok.read_options();
    let (lo, hi) = (tok.config().pitch_min, tok.config().pitch_max);
    for (path, expect) in &hostile {
        let name = rel(path).display().to_string();
        let reason = skipped(path);
        assert!(loaded(path) != reason.is_some(), "{name}: both loaded and skipped, or neither");
        if let Some(r) = &reason {
            assert!(!r.is_empty() && !r.contains('\n'), "{name}: reason {r:?}");
        }
        match expect {
            Expect::Invalid(needle) => {
                let r = reason.unwrap_or_else(|| panic!("{name}: loaded, expected to be skipped"));
                assert!(
                    r.to_lowercase().contains(&needle.to_lowercase()),
                    "{name}: reason {r:?} lacks {needle:?}"
                );
            }
            Expect::Notes(_, _) | Expect::Count(_) => {
                // Readable: in the corpus exactly when a note lies in the tokenizer's range.
                let p = cadenza::midi::read_file(path, &read_opts).unwrap();
                let in_range =
                    p.instruments.iter().any(|i| i.notes.iter().any(|n| (lo..=hi).contains(&n.pitch)));
                if in_range {
                    assert!(loaded(path), "{name}: readable but skipped as {reason:?}");
                } else {
                    let r = reason.unwrap_or_else(|| panic!("{name}: no notes, yet loaded"));
                    assert!(r.contains("no notes"), "{name}: reason {r:?}");
                }
            }
        }
    }
}

/// Writes every case as `<name>.mid` into the folder named by `CADENZA_HOSTILE_OUT` (the fuzz
/// seeds: see docs/reliability.md). Ignored unless asked for.
#[test]
#[ignore = "writes the hostile files for seeding the fuzzer"]
fn write_hostile_files() {
    let dir = std::env::var_os("CADENZA_HOSTILE_OUT").expect("set CADENZA_HOSTILE_OUT to a folder");
    std::fs::create_dir_all(&dir).unwrap();
    let written = write_cases(Path::new(&dir));
    eprintln!("wrote {} files", written.len());
}
