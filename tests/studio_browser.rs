//! The studio's page in a real browser: `cadenza studio` as a process on a free port, and
//! headless Chromium driven over the DevTools protocol (`support/cdp.rs`). The page is loaded,
//! a seed MIDI file is chosen in the file input and continued under a copy limit ("max copy"),
//! the piano roll is drawn with the sample's longest copy of the training music and the audio
//! element loads its WAV, a region of the sample's piano roll is selected with the mouse and
//! regenerated (under the edit's own copy limit) and an uploaded melody harmonized (kept notes
//! drawn apart from new ones), a blind
//! trial is voted on and the vote shows in the results table, all without one JavaScript error. A screenshot of the page is written to
//! `target/tmp/studio-browser.png` (`docs/studio.png` is a copy of it).
//!
//! Without chromium the test skips, except under CI (`CI` set), where it fails; the same holds
//! for the SoundFont the WAV is rendered with.

#[path = "support/cdp.rs"]
mod cdp;
mod common;
#[path = "support/studio.rs"]
mod studio;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cdp::Chrome;

/// The page's state when a wait fails.
const SHOW: &str = "JSON.stringify({gen: document.getElementById('genstatus').textContent, \
    trial: document.getElementById('tstatus').textContent, \
    edit: document.getElementById('estatus').textContent, \
    selected: document.getElementById('editsel').textContent, \
    info: document.getElementById('ckptinfo').textContent, \
    samples: document.querySelectorAll('#samples .sample').length, \
    results: document.getElementById('results').textContent})";

const WAIT: Duration = Duration::from_secs(120);

fn soundfont() -> Option<PathBuf> {
    let found = cadenza::doctor::find_soundfont();
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but there is no SoundFont (scripts/setup.sh)");
        eprintln!("skipping: no SoundFont (install timgm6mb-soundfont or set CADENZA_SOUNDFONT)");
    }
    found
}

#[test]
fn generate_listen_and_vote_in_a_real_browser() {
    let Some(bin) = cdp::chromium() else { return };
    let Some(sf) = soundfont() else { return };
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, ckpts, data) = studio::setup(tmp.path());
    let server =
        studio::start_with(tmp.path(), &ckpts, &data, &corpus, &["--soundfont", sf.to_str().unwrap()]);
    let seed = tmp.path().join("seed.mid");
    cadenza::midi::write_file(&common::melody(2, 4), &seed).unwrap();
    // A single line to harmonize: the top voice of a corpus-like melody.
    let mut line = common::melody(5, 4);
    line.instruments[0].notes.retain(|n| n.end - n.start == 400);
    let melody = tmp.path().join("melody.mid");
    cadenza::midi::write_file(&line, &melody).unwrap();

    let mut chrome = Chrome::launch(&bin, 1100, 900);
    let launched = t0.elapsed();
    chrome.navigate(&server.url());
    assert_eq!(chrome.eval("document.title"), "cadenza studio");
    chrome.wait_for("document.getElementById('ckpt').options.length === 2", WAIT, SHOW);
    chrome.wait_for("document.getElementById('seedpiece').options.length > 1", WAIT, SHOW);

    // Generate: one variation of a seed file chosen in the file input (a real upload), no
    // sampled note ending a copy of more than 6 notes of the training music.
    let inputs = chrome.eval(
        "['maxcopy', 'editmaxcopy'].map((id) => { const i = document.getElementById(id);
           return i && [i.type, i.min, i.value, i.closest('label').textContent.trim()]; })",
    );
    assert_eq!(
        inputs,
        serde_json::json!([["number", "1", "", "max copy (notes)"], ["number", "1", "", "max copy (notes)"]]),
        "the copy limit inputs, empty (off) at first"
    );
    chrome.set_files("#seedfile", &[&seed]);
    chrome.eval(
        "(() => { const s = (id, v) => { document.getElementById(id).value = v; };
           s('seedbeats', '4'); s('length', '384'); s('variations', '1'); s('rngseed', '11'); s('maxcopy', '6');
           document.getElementById('go').click(); })()",
    );
    let status = chrome.wait_for(
        "(() => { const t = document.getElementById('genstatus').textContent;
           return /sample\\(s\\)/.test(t) && document.querySelectorAll('#samples .sample').length === 1 ? t : ''; })()",
        WAIT,
        SHOW,
    );
    assert!(status.as_str().unwrap().starts_with("1 sample(s)"), "{status}");
    assert!(status.as_str().unwrap().contains("notes (max 6)"), "the longest copy: {status}");
    let generated = t0.elapsed();

    // The piano roll: an SVG with one rectangle per note, inside its box, and the primer marked.
    let roll = chrome.eval(
        "(() => { const svg = document.querySelector('#samples .sample svg.roll');
           if (!svg) return null;
           const box = svg.getBoundingClientRect();
           const notes = svg.querySelectorAll('rect.note');
           return { notes: notes.length, width: box.width, height: box.height,
                    primer: svg.querySelectorAll('.primer').length,
                    said: document.querySelector('#samples .sample .muted').textContent }; })()",
    );
    assert!(roll["notes"].as_u64().is_some_and(|n| n > 10), "piano roll: {roll}");
    assert!(roll["width"].as_f64() > Some(300.0) && roll["height"].as_f64() > Some(100.0), "{roll}");
    assert!(roll["said"].as_str().unwrap().contains(&format!("{} notes", roll["notes"])), "{roll}");
    assert_eq!(roll["primer"], 1, "the seed's end is marked: {roll}");
    // The sample's longest copy (the seed's notes included: its primer may quote the corpus).
    let said = roll["said"].as_str().unwrap();
    let copy = said
        .split("longest copy of the training music ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    assert!(copy.is_some_and(|n| n >= 1) && said.contains("(max 6)"), "the longest copy is shown: {roll}");

    // Edit: drag across the middle of the sample's piano roll to select a region (snapped to
    // whole beats), regenerate it with K = 4, and find the result drawn with the kept notes
    // apart from the new ones.
    let bounds = chrome.eval(
        "(() => { const svg = document.querySelector('#samples .sample svg.roll');
           svg.scrollIntoView({ block: 'center' });
           const r = svg.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()",
    );
    let b: Vec<f64> = bounds.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let y = b[1] + b[3] / 2.0;
    chrome.drag((b[0] + 0.3 * b[2], y), (b[0] + 0.55 * b[2], y), 5);
    let selected = chrome.eval(
        "(() => { const r = document.querySelector('#samples svg.roll rect.selection');
           return r && { start: Number(r.dataset.start), end: Number(r.dataset.end), width: r.getBoundingClientRect().width,
                         said: document.getElementById('editsel').textContent,
                         ready: !document.getElementById('infill').disabled }; })()",
    );
    let (start, end) = (selected["start"].as_f64().unwrap(), selected["end"].as_f64().unwrap());
    assert!(start >= 1.0 && end > start && selected["width"].as_f64() > Some(10.0), "selection: {selected}");
    assert!(selected["said"].as_str().unwrap().contains(&format!("beats {start}-{end}")), "{selected}");
    assert_eq!(selected["ready"], true, "{selected}");
    chrome.eval(
        "(() => { document.getElementById('candidates').value = '4'; document.getElementById('editmaxcopy').value = '8';
           document.getElementById('infill').click(); })()",
    );
    let edited = chrome.wait_for(
        "(() => { const s = document.querySelector('#edits .sample');
           const svg = s && s.querySelector('svg.roll');
           if (!svg || !/sample\\(s\\)/.test(document.getElementById('estatus').textContent)) return null;
           const fill = (r) => r ? getComputedStyle(r).fill : null;
           return { title: s.querySelector('strong').textContent, said: s.querySelector('.muted').textContent,
                    notes: svg.querySelectorAll('rect.note').length, kept: svg.querySelectorAll('rect.note.kept').length,
                    fresh: svg.querySelectorAll('rect.note.new').length, region: svg.querySelectorAll('.region').length,
                    keptFill: fill(svg.querySelector('rect.note.kept')), newFill: fill(svg.querySelector('rect.note.new')),
                    midi: !!s.querySelector('a[href$=\".mid\"]'), audio: !!s.querySelector('audio'),
                    status: document.getElementById('estatus').textContent }; })()",
        WAIT,
        SHOW,
    );
    let count = |k: &str| edited[k].as_u64().unwrap();
    assert!(count("kept") > 0 && count("fresh") > 0, "kept and new notes: {edited}");
    assert_eq!(count("kept") + count("fresh"), count("notes"), "every note is one or the other: {edited}");
    assert_ne!(edited["keptFill"], edited["newFill"], "kept notes look different: {edited}");
    assert_eq!(edited["region"], 1, "the region is marked: {edited}");
    assert!(
        edited["title"].as_str().unwrap().contains(&format!("beats {start}-{end} regenerated")),
        "{edited}"
    );
    assert!(edited["said"].as_str().unwrap().contains(&format!("{} new", count("fresh"))), "{edited}");
    assert!(edited["midi"] == true && edited["audio"] == true, "{edited}");
    assert!(edited["status"].as_str().unwrap().contains("best of 4 candidates"), "{edited}");
    let said = edited["said"].as_str().unwrap();
    let copy = said
        .split("longest copy of the training music ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        copy.is_some_and(|n| n <= 8) && said.contains("ending at a new note") && said.contains("(max 8)"),
        "the edit's longest copy, within its limit: {edited}"
    );

    // Harmonize an uploaded melody in two voices: the melody is kept, the voices are new.
    chrome.set_files("#editfile", &[&melody]);
    chrome.wait_for("document.querySelector('#editsource svg.roll rect.note') !== null", WAIT, SHOW);
    chrome.eval(
        "(() => { document.getElementById('voices').value = '2';
           document.getElementById('harmonize').click(); })()",
    );
    let harmonized = chrome.wait_for(
        "(() => { const s = document.querySelectorAll('#edits .sample');
           if (s.length < 2 || !/sample\\(s\\)/.test(document.getElementById('estatus').textContent)) return null;
           const svg = s[0].querySelector('svg.roll');
           return { title: s[0].querySelector('strong').textContent,
                    kept: svg.querySelectorAll('rect.note.kept').length, fresh: svg.querySelectorAll('rect.note.new').length }; })()",
        WAIT,
        SHOW,
    );
    assert!(harmonized["title"].as_str().unwrap().contains("melody.mid harmonized"), "{harmonized}");
    assert_eq!(
        harmonized["kept"].as_u64(),
        Some(line.note_count() as u64),
        "the melody is kept: {harmonized}"
    );
    assert!(harmonized["fresh"].as_u64() > Some(0), "voices were written: {harmonized}");
    chrome.eval("window.scrollTo(0, 0)");

    // The audio element loads its WAV (rendered with the SoundFont) and knows its duration.
    let audio = chrome.eval(
        "new Promise((resolve) => {
           const a = document.querySelector('#samples audio');
           const done = () => resolve({ ready: a.readyState, duration: String(a.duration), error: a.error && a.error.code,
                                        src: a.currentSrc });
           a.addEventListener('loadedmetadata', done, { once: true });
           a.addEventListener('error', done, { once: true });
           a.preload = 'auto'; a.load();
         })",
    );
    assert!(audio["error"].is_null(), "audio: {audio}");
    let duration: f64 = audio["duration"].as_str().unwrap().parse().unwrap();
    assert!(audio["ready"].as_u64() >= Some(1) && duration.is_finite() && duration > 1.0, "audio: {audio}");
    let played = chrome.eval(
        "(async () => { const a = document.querySelector('#samples audio'); await a.play();
           await new Promise((r) => setTimeout(r, 300)); a.pause(); return a.currentTime; })()",
    );
    assert!(played.as_f64() > Some(0.0), "the audio plays: {played}");

    // The compare view: the seed continued by both checkpoints, side by side, both rolls drawn.
    chrome.eval("document.getElementById('compare').click()");
    let compared = chrome.wait_for(
        "(() => { const c = document.querySelectorAll('#comparison .compared > div');
           return c.length === 2 && [...c].every((d) => d.querySelectorAll('svg.roll rect.note').length > 0)
             ? [...c].map((d) => d.querySelector('strong').textContent) : null; })()",
        WAIT,
        SHOW,
    );
    assert_eq!(compared, serde_json::json!(["tiny.markov", "twin.markov"]), "{compared}");
    // Fine-tuning needs an LSTM or Transformer base; with Markov chains only, it is off.
    assert_eq!(
        chrome.eval("[document.getElementById('finetune').disabled, document.getElementById('ftbase').options.length]"),
        serde_json::json!([true, 0])
    );

    // A blind trial between the two checkpoints; vote for clip 2 with ratings.
    chrome.eval(
        "(() => { document.getElementById('ta').value = 'tiny.markov'; document.getElementById('tb').value = 'twin.markov';
           document.getElementById('tlength').value = '128'; document.getElementById('newtrial').click(); })()",
    );
    chrome.wait_for("document.getElementById('vote1') !== null", WAIT, SHOW);
    let hidden = chrome.eval("document.getElementById('trial').textContent");
    assert!(!hidden.as_str().unwrap().contains("markov"), "identities hidden: {hidden}");
    assert_eq!(chrome.eval("document.querySelectorAll('#trial svg.roll rect.note').length > 0"), true);
    chrome.eval(
        "(() => { document.getElementById('rate0').value = '2'; document.getElementById('rate1').value = '5';
           document.getElementById('vote1').click(); })()",
    );
    chrome.wait_for("/vote saved/.test(document.getElementById('tstatus').textContent)", WAIT, SHOW);
    let row = chrome.wait_for(
        "(() => { const rows = [...document.querySelectorAll('#results tr')].slice(1)
             .map((tr) => [...tr.children].map((td) => td.textContent));
           return rows.length ? rows : null; })()",
        WAIT,
        SHOW,
    );
    let rows = row.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{row}");
    let cells: Vec<&str> = rows[0].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!((cells[0], cells[1], cells[2]), ("tiny.markov", "twin.markov", "1"), "{row}");
    // The same vote, through the API.
    let (status, body) = studio::http(server.addr, "GET", "/api/results", b"");
    assert_eq!(status, 200);
    assert_eq!(studio::json_of(&body)["pairs"][0]["votes"], 1);

    // A second trial left open, so that the screenshot shows every part of the page.
    chrome.eval("document.getElementById('newtrial').click()");
    chrome.wait_for("document.getElementById('vote1') !== null", WAIT, SHOW);
    chrome.eval("window.scrollTo(0, 0)");

    let errors = chrome.errors();
    assert!(errors.is_empty(), "JavaScript errors: {errors:#?}\nchromium stderr:\n{}", chrome.stderr());

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("studio-browser.png");
    let bytes = chrome.screenshot(&shot);
    assert!(bytes > 10_000, "a real screenshot: {bytes} bytes");
    eprintln!(
        "studio_browser: chromium up in {:.1} s, generated at {:.1} s, done in {:.1} s; screenshot {} ({} KB)",
        launched.as_secs_f64(),
        generated.as_secs_f64(),
        t0.elapsed().as_secs_f64(),
        shot.display(),
        bytes / 1024
    );
}

/// What the Live panel shows when a wait fails.
const LIVE_SHOW: &str = "JSON.stringify({status: document.getElementById('livestatus').textContent, \
    log: document.getElementById('livelog').textContent, sent: (window.fakeMidi || {sent: []}).sent.length})";

/// A fake Web MIDI keyboard and synth: `navigator.requestMIDIAccess` resolves to one input,
/// whose messages `fakeMidi.play([[pitch, start s, length s], ...])` dispatches in real time
/// (recording each onset and release on `performance.now()`'s clock, in seconds), and one output
/// that records what it is sent, with its timestamp and when it was handed over (ms).
const FAKE_MIDI: &str = "(() => {
  const input = { id: 'kbd', name: 'Fake keyboard', onmidimessage: null };
  const fake = window.fakeMidi = { input, sent: [], onsets: [], releases: [] };
  const output = { id: 'synth', name: 'Fake synth',
    send(data, ts) { const now = performance.now(); fake.sent.push({ data: [...data], ts: ts || now, at: now }); } };
  const message = (bytes) => input.onmidimessage && input.onmidimessage({ data: new Uint8Array(bytes), timeStamp: performance.now() });
  fake.key = (bytes) => { message(bytes); };
  fake.play = (notes) => {
    for (const [p, s, d] of notes) {
      setTimeout(() => { fake.onsets.push(performance.now() / 1000); message([0x90, p, 80]); }, 200 + s * 1000);
      setTimeout(() => { fake.releases.push(performance.now() / 1000); message([0x80, p, 64]); }, 200 + (s + d) * 1000);
    }
  };
  Object.defineProperty(navigator, 'requestMIDIAccess', { configurable: true,
    value: async () => ({ inputs: new Map([['kbd', input]]), outputs: new Map([['synth', output]]) }) });
  return true;
})()";

/// Note-ons and note-offs sent, as (pitch, on, timestamp ms), in timestamp order (offs first at
/// one time); and the all-notes-off messages' timestamps.
fn sent_notes(chrome: &mut Chrome) -> (Vec<(u64, bool, f64)>, Vec<f64>) {
    let sent = chrome.eval("fakeMidi.sent");
    let mut notes = Vec::new();
    let mut all_off = Vec::new();
    for m in sent.as_array().unwrap() {
        let d: Vec<u64> = m["data"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
        let ts = m["ts"].as_f64().unwrap();
        assert!(m["at"].as_f64().unwrap() <= ts + 60.0, "handed over well before its time: {m}");
        match d[0] & 0xf0 {
            0x90 if d[2] > 0 => notes.push((d[1], true, ts)),
            0x80 | 0x90 => notes.push((d[1], false, ts)),
            0xb0 if d[1] == 123 => all_off.push(ts),
            _ => panic!("unexpected message {m}"),
        }
    }
    notes.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.1.cmp(&b.1)));
    (notes, all_off)
}

/// Every note-on is followed by its note-off; no note sounds at the end.
fn no_stuck_notes(notes: &[(u64, bool, f64)]) {
    let mut sounding = std::collections::HashMap::<u64, i32>::new();
    for &(pitch, on, ts) in notes {
        let n = sounding.entry(pitch).or_default();
        *n += if on { 1 } else { -1 };
        assert!(*n >= 0, "a note-off of {pitch} at {ts} before its note-on: {notes:?}");
    }
    assert!(sounding.values().all(|&n| n == 0), "stuck notes: {sounding:?}");
}

/// The Live panel (issue 27): without Web MIDI, or refused it, the page says so in one line;
/// with a (fake) keyboard and synth, a phrase at 120 bpm is answered through
/// `POST /api/live/answer`, its first note on the phrase's beat grid after the wait and every
/// note released; a key pressed during the next answer stops it with every note released and
/// all notes off, and Stop leaves nothing sounding.
#[test]
fn the_live_panel_answers_a_keyboard_through_web_midi() {
    let Some(bin) = cdp::chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, ckpts, data) = studio::setup(tmp.path());
    let server = studio::start(tmp.path(), &ckpts, &data, &corpus);
    let mut chrome = Chrome::launch(&bin, 1100, 900);
    chrome.navigate(&server.url());
    chrome.wait_for("document.getElementById('ckpt').options.length === 2", WAIT, LIVE_SHOW);

    chrome.eval(
        "Object.defineProperty(navigator, 'requestMIDIAccess', { configurable: true, value: undefined });
         document.getElementById('livestart').click()",
    );
    let said = chrome.wait_for("document.querySelector('#livestatus .error')?.textContent", WAIT, LIVE_SHOW);
    assert!(said.as_str().unwrap().contains("no MIDI access"), "{said}");
    chrome.eval(
        "Object.defineProperty(navigator, 'requestMIDIAccess', { configurable: true,
           value: async () => { throw new DOMException('Permission denied', 'SecurityError'); } });
         document.getElementById('livestart').click()",
    );
    let said = chrome.wait_for(
        "(() => { const t = document.querySelector('#livestatus .error')?.textContent || ''; return /refused/.test(t) ? t : ''; })()",
        WAIT,
        LIVE_SHOW,
    );
    assert!(said.as_str().unwrap().contains("Permission denied"), "{said}");

    assert_eq!(chrome.eval(FAKE_MIDI), true);
    chrome.eval(
        "(() => { document.getElementById('livewait').value = '0.4'; document.getElementById('livebeats').value = '4';
           document.getElementById('rngseed').value = '5'; document.getElementById('livestart').click(); })()",
    );
    chrome.wait_for("document.getElementById('livestop').disabled === false", WAIT, LIVE_SHOW);
    chrome.eval(
        "(() => { const out = document.getElementById('liveout'); out.value = 'synth';
           out.dispatchEvent(new Event('change')); })()",
    );
    let said = chrome.wait_for(
        "(() => { const t = document.getElementById('livestatus').textContent; return /Fake synth/.test(t) ? t : ''; })()",
        WAIT,
        LIVE_SHOW,
    );
    assert!(
        said.as_str().unwrap().contains("Fake keyboard") && said.as_str().unwrap().contains("Fake synth"),
        "{said}"
    );

    // A phrase of eight notes at 120 bpm, in C major.
    chrome.eval("fakeMidi.play([60, 62, 64, 65, 67, 65, 64, 62].map((p, i) => [p, i * 0.5, 0.35]))");
    chrome.wait_for("live.index === 1 && live.answer === null && live.queue.length === 0", WAIT, LIVE_SHOW);
    let (notes, all_off) = sent_notes(&mut chrome);
    assert!(!notes.is_empty() && all_off.is_empty(), "{notes:?} {all_off:?}");
    no_stuck_notes(&notes);
    let onsets: Vec<f64> = serde_json::from_value(chrome.eval("fakeMidi.onsets")).unwrap();
    let releases: Vec<f64> = serde_json::from_value(chrome.eval("fakeMidi.releases")).unwrap();
    let released = releases.iter().copied().fold(0.0, f64::max);
    let first = notes[0].2 / 1000.0;
    assert!(first >= released + 0.4 - 0.002, "after the wait: first note {first}, released {released}");
    assert!(first < released + 0.4 + 0.5 + 0.03, "on the first beat after the wait: {first} vs {released}");
    let beats = (first - onsets[0]) / 0.5;
    assert!(
        (beats - beats.round()).abs() * 0.5 < 0.03,
        "on the phrase's beat: {beats} beats after its first note"
    );
    let log = chrome.eval("document.getElementById('livelog').textContent");
    assert!(log.as_str().unwrap().contains("answer 1:"), "{log}");

    // A second phrase; once its answer sounds, a key stops it.
    chrome.eval("fakeMidi.play([67, 65, 64, 62].map((p, i) => [p, i * 0.5, 0.35]))");
    chrome.wait_for(
        "live.answer !== null && fakeMidi.sent.some((m) => m.data[0] === 0x90 && m.ts <= performance.now() && m.ts > fakeMidi.releases.at(-1) * 1000)",
        WAIT,
        LIVE_SHOW,
    );
    let pressed = chrome
        .eval("(() => { fakeMidi.key([0x90, 72, 90]); return performance.now(); })()")
        .as_f64()
        .unwrap();
    let log = chrome.wait_for(
        "(() => { const t = document.getElementById('livelog').textContent; return /interrupted/.test(t) ? t : ''; })()",
        WAIT,
        LIVE_SHOW,
    );
    assert!(log.as_str().unwrap().contains("answer 2: interrupted"), "{log}");
    chrome.eval("fakeMidi.key([0x80, 72, 0]); document.getElementById('livestop').click()");
    std::thread::sleep(Duration::from_millis(300));
    let (notes, all_off) = sent_notes(&mut chrome);
    no_stuck_notes(&notes);
    assert!(!all_off.is_empty(), "all notes off on the interruption");
    let late: Vec<_> = notes.iter().filter(|n| n.1 && n.2 > pressed + 1.0).collect();
    assert!(late.is_empty(), "note-ons after the key that stopped the answer at {pressed}: {late:?}");
    assert_eq!(chrome.eval("document.getElementById('livestatus').textContent"), "stopped");

    let errors = chrome.errors();
    assert!(errors.is_empty(), "JavaScript errors: {errors:#?}\nchromium stderr:\n{}", chrome.stderr());
}
