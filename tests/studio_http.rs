//! End to end: `cadenza studio` as a process on a free port, spoken to over plain HTTP/1.0 with
//! a std `TcpStream`: checkpoint listing, generation and the sample files, bad requests (each a
//! 4xx with one line of JSON), and votes that survive a `kill -9` of the server.

mod common;
#[path = "support/studio.rs"]
mod studio;

use std::path::Path;

use studio::{assert_error, http, http_as, json_of, setup, start};

#[test]
fn lists_generates_and_serves_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, ckpts, data) = setup(tmp.path());
    let studio = start(tmp.path(), &ckpts, &data, &corpus);
    let a = studio.addr;

    let (status, page) = http(a, "GET", "/", b"");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("cadenza studio"));

    let (status, body) = http(a, "GET", "/api/checkpoints", b"");
    assert_eq!(status, 200);
    let list = json_of(&body);
    let names: Vec<&str> =
        list["checkpoints"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["tiny.markov", "twin.markov"]);
    assert_eq!(list["checkpoints"][0]["kind"], "markov");
    assert!(list["checkpoints"][0]["metrics"].as_object().is_some_and(|m| !m.is_empty()));

    let req = br#"{"checkpoint": "tiny.markov", "length": 128, "variations": 2, "rng_seed": 5, "temperature": 0.9}"#;
    let (status, body) = http(a, "POST", "/api/generate", req);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["model_cached"], false, "the first request loads the checkpoint");
    let ids: Vec<String> = json_of(&body)["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        let (status, mid) = http(a, "GET", &format!("/api/samples/{id}.mid"), b"");
        assert_eq!(status, 200);
        let piece = cadenza::midi::read_bytes(&mid, Path::new("sample.mid"), &Default::default()).unwrap();
        assert!(piece.note_count() > 0);
        let (status, roll) = http(a, "GET", &format!("/api/samples/{id}.json"), b"");
        assert_eq!(status, 200);
        let roll = json_of(&roll);
        let notes = roll["notes"].as_array().unwrap();
        assert_eq!(notes.len(), piece.note_count());
        assert!(notes
            .iter()
            .all(|n| n["end"].as_f64() >= n["start"].as_f64() && n["pitch"].as_u64().is_some()));
        // No SoundFont (--soundfont names none): a clear 404, not a 500.
        assert_error("wav without SoundFont", http(a, "GET", &format!("/api/samples/{id}.wav"), b""), 404);
    }

    // A seed upload, then generation from it.
    let seed = cadenza::midi::write_to_bytes(&common::melody(3, 4));
    let (status, body) = http(a, "POST", "/api/uploads", &seed);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let upload = json_of(&body)["upload"].as_str().unwrap().to_string();
    let req = format!(
        r#"{{"checkpoint": "tiny.markov", "length": 64, "seed_upload": "{upload}", "seed_beats": 4}}"#
    );
    let (status, body) = http(a, "POST", "/api/generate", req.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["model_cached"], true, "later ones find it loaded");
    // As a background job whose progress is polled.
    let req = br#"{"checkpoint": "tiny.markov", "length": 96, "variations": 2, "rng_seed": 5}"#;
    let (status, body) = http(a, "POST", "/api/jobs", req);
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    let job = json_of(&body)["job"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let done = loop {
        let (status, body) = http(a, "GET", &format!("/api/jobs/{job}"), b"");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let s = json_of(&body);
        assert!(s["total"].as_u64().is_some() && s["elapsed_seconds"].as_f64() >= Some(0.0), "{s}");
        if s["state"] != "running" {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "job still running: {s}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["result"]["samples"].as_array().map(Vec::len), Some(2), "{done}");
    assert_eq!(done["result"]["model_cached"], true);
    let first = done["result"]["samples"][0].as_str().unwrap();
    assert_eq!(http(a, "GET", &format!("/api/samples/{first}.mid"), b"").0, 200);
    // And from a corpus piece.
    let req = br#"{"checkpoint": "tiny.markov", "length": 64, "seed_piece": "piece01.mid", "seed_beats": 2}"#;
    let (status, body) = http(a, "POST", "/api/generate", req);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

#[test]
fn bad_requests_get_a_4xx_and_one_line_of_json() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, ckpts, data) = setup(tmp.path());
    let studio = start(tmp.path(), &ckpts, &data, &corpus);
    let a = studio.addr;
    let cases: &[(&str, &str, &[u8], u16)] = &[
        ("malformed JSON", "/api/generate", b"{\"checkpoint\": ", 400),
        ("not an object", "/api/generate", b"[1, 2]", 400),
        ("unknown field", "/api/generate", br#"{"checkpoint": "tiny.markov", "temprature": 2}"#, 400),
        ("unknown checkpoint", "/api/generate", br#"{"checkpoint": "nope.markov"}"#, 404),
        ("traversal", "/api/generate", br#"{"checkpoint": "../secret.txt"}"#, 400),
        ("encoded traversal", "/api/generate", br#"{"checkpoint": "%2e%2e%2fsecret.txt"}"#, 400),
        ("absolute path", "/api/generate", br#"{"checkpoint": "/etc/passwd"}"#, 400),
        ("separator", "/api/generate", br#"{"checkpoint": "ckpts/tiny.markov"}"#, 400),
        ("backslash", "/api/generate", br#"{"checkpoint": "..\\secret.txt"}"#, 400),
        (
            "seed piece traversal",
            "/api/generate",
            br#"{"checkpoint": "tiny.markov", "seed_piece": "../secret.txt"}"#,
            400,
        ),
        (
            "seed piece absolute",
            "/api/generate",
            br#"{"checkpoint": "tiny.markov", "seed_piece": "/etc/passwd"}"#,
            400,
        ),
        (
            "seed piece unlisted",
            "/api/generate",
            br#"{"checkpoint": "tiny.markov", "seed_piece": "nope.mid"}"#,
            404,
        ),
        (
            "bad upload id",
            "/api/generate",
            br#"{"checkpoint": "tiny.markov", "seed_upload": "../../x"}"#,
            400,
        ),
        ("zero length", "/api/generate", br#"{"checkpoint": "tiny.markov", "length": 0}"#, 400),
        ("bad temperature", "/api/generate", br#"{"checkpoint": "tiny.markov", "temperature": -3}"#, 400),
        (
            "too many variations",
            "/api/generate",
            br#"{"checkpoint": "tiny.markov", "variations": 1000}"#,
            400,
        ),
        ("job, unknown checkpoint", "/api/jobs", br#"{"checkpoint": "nope.markov"}"#, 404),
        ("job, zero length", "/api/jobs", br#"{"checkpoint": "tiny.markov", "length": 0}"#, 400),
        ("not MIDI", "/api/uploads", b"this is not a MIDI file", 400),
        ("truncated MIDI", "/api/uploads", b"MThd\x00\x00\x00\x06\x00\x01\x00\x02", 400),
        ("empty upload", "/api/uploads", b"", 400),
        ("vote, bad trial id", "/api/votes", br#"{"trial": "../x", "choice": 0}"#, 400),
        (
            "vote, unknown trial",
            "/api/votes",
            br#"{"trial": "00000000000000000000000000000000", "choice": 0}"#,
            404,
        ),
    ];
    for (what, path, body, want) in cases {
        assert_error(what, http(a, "POST", path, body), *want);
    }
    let gets: &[(&str, &str, u16)] = &[
        ("unknown route", "/api/nothing", 404),
        ("sample traversal", "/api/samples/../../secret.txt", 400),
        ("encoded sample traversal", "/api/samples/%2e%2e%2f%2e%2e%2fsecret.txt", 400),
        ("absolute sample", "/api/samples//etc/passwd", 400),
        ("short id", "/api/samples/abc.mid", 400),
        ("upper-case id", "/api/samples/0123456789ABCDEF0123456789ABCDEF.mid", 400),
        ("unknown id", "/api/samples/0123456789abcdef0123456789abcdef.mid", 404),
        ("unknown extension", "/api/samples/0123456789abcdef0123456789abcdef.txt", 404),
        ("bad format", "/api/results?format=xml", 400),
        ("bad job id", "/api/jobs/../x", 400),
        ("unknown job", "/api/jobs/0123456789abcdef0123456789abcdef", 404),
    ];
    for (what, path, want) in gets {
        assert_error(what, http(a, "GET", path, b""), *want);
    }
    // Cross-site requests: a rebound DNS name, a form's body type.
    let vote = br#"{"trial": "00000000000000000000000000000000", "choice": 0}"#;
    assert_error(
        "foreign host",
        http_as(a, "GET", "/api/checkpoints", b"", "evil.example:80", "text/plain"),
        403,
    );
    assert_error(
        "text/plain body",
        http_as(a, "POST", "/api/votes", vote, &a.to_string(), "text/plain"),
        415,
    );
    // Over 4 MB: refused with 413 (and the server still answers afterwards).
    let big = vec![0u8; (4 << 20) + 1];
    assert_error("oversize upload", http(a, "POST", "/api/uploads", &big), 413);
    assert_eq!(http(a, "GET", "/api/checkpoints", b"").0, 200);
    // Nothing was written outside the studio's folders.
    assert_eq!(std::fs::read(tmp.path().join("secret.txt")).unwrap(), b"outside");
}

#[test]
fn votes_survive_kill_9_and_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, ckpts, data) = setup(tmp.path());
    let studio = start(tmp.path(), &ckpts, &data, &corpus);
    let a = studio.addr;
    let mut voted = 0;
    for i in 0..3 {
        let req = format!(r#"{{"a": "tiny.markov", "b": "twin.markov", "length": 48, "rng_seed": {i}}}"#);
        let (status, body) = http(a, "POST", "/api/trials", req.as_bytes());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let t = json_of(&body);
        assert_eq!(t["clips"].as_array().unwrap().len(), 2);
        let body = t.to_string();
        assert!(!body.contains("tiny.markov") && !body.contains("twin"), "identities hidden: {body}");
        let vote = format!(
            r#"{{"trial": "{}", "choice": {}, "ratings": [4, 2]}}"#,
            t["trial"].as_str().unwrap(),
            i % 2
        );
        let (status, body) = http(a, "POST", "/api/votes", vote.as_bytes());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        voted += 1;
        if i == 0 {
            assert_error("second vote", http(a, "POST", "/api/votes", vote.as_bytes()), 409);
        }
    }
    drop(studio); // SIGKILL, mid-test: no clean shutdown.

    let studio = start(tmp.path(), &ckpts, &data, &corpus);
    let (status, body) = http(studio.addr, "GET", "/api/results", b"");
    assert_eq!(status, 200);
    let r = json_of(&body);
    let pairs = r["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 1, "{r}");
    assert_eq!(pairs[0]["votes"], voted);
    assert_eq!((pairs[0]["a"].as_str(), pairs[0]["b"].as_str()), (Some("tiny.markov"), Some("twin.markov")));
    let (lo, hi) = (pairs[0]["low"].as_f64().unwrap(), pairs[0]["high"].as_f64().unwrap());
    assert!(0.0 <= lo && lo <= hi && hi <= 1.0);
    let (status, csv) = http(studio.addr, "GET", "/api/results?format=csv", b"");
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.lines().nth(1).is_some_and(|l| l.starts_with("tiny.markov,twin.markov,3,")), "{csv}");
}

#[test]
fn real_clips_are_test_pieces_of_model_a_s_own_split() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = common::distinct_corpus(tmp.path(), 40);
    let ckpts = tmp.path().join("ckpts");
    std::fs::create_dir_all(&ckpts).unwrap();
    // One model split by music (the default), one by file bytes (as checkpoints made before).
    let music = common::train(tmp.path(), &corpus, "markov", &["--order", "2"]);
    std::fs::rename(&music, ckpts.join("music.markov")).unwrap();
    let bytes = common::train(tmp.path(), &corpus, "markov", &["--order", "2", "--split-key", "file-bytes"]);
    std::fs::rename(&bytes, ckpts.join("bytes.markov")).unwrap();
    let studio = start(tmp.path(), &ckpts, &tmp.path().join("data"), &corpus);
    let a = studio.addr;

    let (status, body) = http(a, "GET", "/api/corpus", b"");
    assert_eq!(status, 200);
    let pieces = json_of(&body)["pieces"].as_array().unwrap().clone();
    // A test piece under music splits that is not one under file-bytes splits (the corpus is
    // big enough that the two keys disagree somewhere; the test says so if not).
    let piece = pieces
        .iter()
        .find(|p| p["split"] == "test" && p["split_file_bytes"] != "test")
        .unwrap_or_else(|| panic!("no piece whose split differs between the keys: {pieces:?}"));
    let name = piece["name"].as_str().unwrap();
    let trial = |model: &str| {
        let req = format!(
            r#"{{"a": "{model}", "b": "real", "seed_piece": "{name}", "length": 32, "rng_seed": 1}}"#
        );
        http(a, "POST", "/api/trials", req.as_bytes())
    };
    let (status, body) = trial("music.markov");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let refused = trial("bytes.markov");
    let text = String::from_utf8_lossy(&refused.1).into_owned();
    assert!(text.contains("split by file-bytes") && text.contains(name), "{text}");
    assert_error("real clip outside model A's test split", refused, 400);
}

#[test]
fn compare_continues_one_primer_with_each_model() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, ckpts, data) = setup(tmp.path());
    let studio = start(tmp.path(), &ckpts, &data, &corpus);
    let a = studio.addr;
    let req = br#"{"checkpoints": ["twin.markov", "tiny.markov"], "seed_piece": "piece01.mid", "seed_beats": 2, "length": 48, "rng_seed": 3}"#;
    let (status, body) = http(a, "POST", "/api/compare", req);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let r = json_of(&body);
    let samples = r["samples"].as_array().unwrap();
    let names: Vec<&str> = samples.iter().map(|s| s["checkpoint"].as_str().unwrap()).collect();
    assert_eq!(names, ["twin.markov", "tiny.markov"], "in the order asked");
    assert_eq!(r["rng_seed"], 3);
    let mut rolls = Vec::new();
    for s in samples {
        let id = s["sample"].as_str().unwrap();
        let (status, roll) = http(a, "GET", &format!("/api/samples/{id}.json"), b"");
        assert_eq!(status, 200);
        let roll = json_of(&roll);
        assert!(roll["primer_seconds"].as_f64().is_some_and(|p| p > 0.0), "the seed is marked: {roll}");
        rolls.push(roll);
    }
    // One primer for both: the notes before the primer's end are the same.
    let primer = |roll: &serde_json::Value| -> Vec<String> {
        let end = roll["primer_seconds"].as_f64().unwrap();
        let mut notes: Vec<String> = roll["notes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["start"].as_f64().unwrap() < end - 1e-6)
            .map(|n| format!("{}@{:.3}", n["pitch"], n["start"].as_f64().unwrap()))
            .collect();
        notes.sort();
        notes
    };
    assert!(!primer(&rolls[0]).is_empty());
    assert_eq!(primer(&rolls[0]), primer(&rolls[1]));

    for (what, body, want) in [
        ("one checkpoint", &br#"{"checkpoints": ["tiny.markov"]}"#[..], 400),
        ("twice the same", br#"{"checkpoints": ["tiny.markov", "tiny.markov"]}"#, 400),
        ("missing", br#"{"checkpoints": ["tiny.markov", "gone.markov"]}"#, 404),
        ("traversal", br#"{"checkpoints": ["tiny.markov", "../x.markov"]}"#, 400),
        ("unknown field", br#"{"checkpoints": ["tiny.markov", "twin.markov"], "bogus": 1}"#, 400),
        ("bad length", br#"{"checkpoints": ["tiny.markov", "twin.markov"], "length": 0}"#, 400),
    ] {
        assert_error(what, http(a, "POST", "/api/compare", body), want);
    }
}

/// The notes of `piece` as (start tick, end tick, pitch, velocity, program), sorted, of those
/// whose onset `keep` accepts.
fn notes_where(piece: &cadenza::midi::Piece, keep: impl Fn(u64) -> bool) -> Vec<(u64, u64, u8, u8, u8)> {
    let mut v: Vec<_> = piece
        .instruments
        .iter()
        .flat_map(|i| i.notes.iter().map(move |n| (n.start, n.end, n.pitch, n.velocity, i.program)))
        .filter(|n| keep(n.0))
        .collect();
    v.sort();
    v
}

/// Fetch sample `id`'s MIDI file into `dir` and read it with `cadenza::midi::read_file`.
fn fetch_sample(a: std::net::SocketAddr, id: &str, dir: &Path) -> cadenza::midi::Piece {
    let (status, mid) = http(a, "GET", &format!("/api/samples/{id}.mid"), b"");
    assert_eq!(status, 200);
    let path = dir.join(format!("{id}.mid"));
    std::fs::write(&path, mid).unwrap();
    cadenza::midi::read_file(&path, &Default::default()).unwrap()
}

fn upload(a: std::net::SocketAddr, piece: &cadenza::midi::Piece) -> String {
    let (status, body) = http(a, "POST", "/api/uploads", &cadenza::midi::write_to_bytes(piece));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    json_of(&body)["upload"].as_str().unwrap().to_string()
}

fn ids_of(answer: &serde_json::Value) -> Vec<String> {
    answer["samples"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

/// A single line: the top voice of `common::melody` (its notes of 400 ticks; the bass holds 960).
fn single_line(variant: u8, bars: u64) -> cadenza::midi::Piece {
    let mut p = common::melody(variant, bars);
    p.instruments[0].notes.retain(|n| n.end - n.start == 400);
    p
}

#[test]
fn infill_and_harmonize_keep_the_locked_notes_and_flag_the_new_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, ckpts, data) = setup(tmp.path());
    // A classifier checkpoint (the Markov header relabelled): not a generator.
    let (mut header, payload) = cadenza::checkpoint::load(&ckpts.join("tiny.markov")).unwrap();
    header.kind = cadenza::checkpoint::ModelKind::Classifier;
    cadenza::checkpoint::save(&ckpts.join("style.classifier"), &header, &payload).unwrap();
    let studio = start(tmp.path(), &ckpts, &data, &corpus);
    let a = studio.addr;

    // Infill beats 4-8 of an upload (16 beats, two voices in one instrument).
    let original = common::melody(3, 4);
    let original_path = tmp.path().join("original.mid");
    cadenza::midi::write_file(&original, &original_path).unwrap();
    let original = cadenza::midi::read_file(&original_path, &Default::default()).unwrap();
    let up = upload(a, &original);
    let (status, roll) = http(a, "GET", &format!("/api/uploads/{up}.json"), b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&roll));
    let roll = json_of(&roll);
    assert_eq!(roll["notes"].as_array().unwrap().len(), original.note_count());
    assert_eq!(roll["tempos"], serde_json::json!([[0.0, 0.0, 0.5]]), "{roll}");

    let req = format!(
        r#"{{"checkpoint": "tiny.markov", "upload": "{up}", "start_beat": 4, "end_beat": 8, "candidates": 4, "variations": 2, "rng_seed": 7, "temperature": 0.9}}"#
    );
    let (status, body) = http(a, "POST", "/api/infill", req.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let r = json_of(&body);
    assert_eq!(r["region"], serde_json::json!([4.0, 8.0]), "{r}");
    assert_eq!(r["candidates"], 4);
    assert_eq!(r["rng_seed"], 7);
    let ids = ids_of(&r);
    assert_eq!(ids.len(), 2, "{r}");
    for (i, id) in ids.iter().enumerate() {
        assert!(r["chosen"][i].as_u64().is_some_and(|c| c < 4), "{r}");
        assert!(r["joint_log_prob"][i].as_f64().is_some_and(|p| p < 0.0), "{r}");
        assert_eq!(r["scores"][i].as_array().map(Vec::len), Some(4), "{r}");
        let edited = fetch_sample(a, id, tmp.path());
        // Every note outside the region is the original's, exactly.
        let outside = |t: u64| !(4 * 480..8 * 480).contains(&t);
        assert_eq!(notes_where(&edited, outside), notes_where(&original, outside), "sample {i}");
        let inside = notes_where(&edited, |t| !outside(t));
        // The piano roll flags the new notes: exactly those that start in the region.
        let (status, roll) = http(a, "GET", &format!("/api/samples/{id}.json"), b"");
        assert_eq!(status, 200);
        let roll = json_of(&roll);
        assert_eq!(roll["edit"]["kind"], "infill", "{roll}");
        assert_eq!(roll["edit"]["region_beats"], serde_json::json!([4.0, 8.0]));
        assert_eq!(roll["edit"]["region_seconds"], serde_json::json!([2.0, 4.0]));
        let notes = roll["notes"].as_array().unwrap();
        assert_eq!(notes.len(), edited.note_count());
        for n in notes {
            let beat = n["start_beat"].as_f64().unwrap();
            assert_eq!(n["new"].as_bool(), Some((4.0..8.0).contains(&beat)), "{n}");
        }
        let flagged = notes.iter().filter(|n| n["new"] == true).count();
        assert_eq!(flagged, inside.len());
        assert!(flagged > 0, "the model wrote into the region: {roll}");
        assert_eq!(r["new_notes"][i].as_u64(), Some(flagged as u64), "{r}");
    }
    // Bars (1-based, inclusive) of a stored sample: bar 2 is beats 4-8 in 4/4.
    let req = format!(
        r#"{{"checkpoint": "tiny.markov", "sample": "{}", "bars": [2, 2], "candidates": 2}}"#,
        ids[0]
    );
    let (status, body) = http(a, "POST", "/api/infill", req.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let r = json_of(&body);
    assert_eq!(r["region"], serde_json::json!([4.0, 8.0]), "{r}");
    assert_eq!(r["model_cached"], true);
    // A sample that is no edit says so.
    let plain = br#"{"checkpoint": "tiny.markov", "length": 32, "rng_seed": 1}"#;
    let (status, body) = http(a, "POST", "/api/generate", plain);
    assert_eq!(status, 200);
    let plain = ids_of(&json_of(&body)).remove(0);
    let roll = json_of(&http(a, "GET", &format!("/api/samples/{plain}.json"), b"").1);
    assert!(roll["edit"].is_null() && roll["notes"][0].get("new").is_none(), "{roll}");

    // Harmonize a single line: the melody is kept as it is, the voices under it are new.
    let melody = single_line(1, 4);
    let tune = upload(a, &melody);
    let req = format!(
        r#"{{"checkpoint": "tiny.markov", "upload": "{tune}", "voices": 2, "candidates": 3, "rng_seed": 3}}"#
    );
    let (status, body) = http(a, "POST", "/api/harmonize", req.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let r = json_of(&body);
    assert!(r.get("region").is_none(), "{r}");
    let id = ids_of(&r).remove(0);
    let harmonized = fetch_sample(a, &id, tmp.path());
    let roll = json_of(&http(a, "GET", &format!("/api/samples/{id}.json"), b"").1);
    assert_eq!(roll["edit"]["kind"], "harmonize", "{roll}");
    assert!(roll["edit"]["region_beats"].is_null());
    let notes = roll["notes"].as_array().unwrap();
    assert_eq!(notes.len(), harmonized.note_count());
    let mut kept: Vec<(u64, u64)> = notes
        .iter()
        .filter(|n| n["new"] == false)
        .map(|n| ((n["start_beat"].as_f64().unwrap() * 480.0) as u64, n["pitch"].as_u64().unwrap()))
        .collect();
    kept.sort();
    let mut want: Vec<(u64, u64)> =
        melody.instruments[0].notes.iter().map(|n| (n.start, u64::from(n.pitch))).collect();
    want.sort();
    assert_eq!(kept, want, "the locked melody, and nothing else, is drawn as kept");
    let flagged = notes.iter().filter(|n| n["new"] == true).count();
    assert!(flagged > 0, "voices were written: {roll}");
    assert_eq!(r["new_notes"][0].as_u64(), Some(flagged as u64), "{r}");

    // Bad requests: each a 4xx with one line of JSON.
    let chords = upload(a, &common::melody(2, 2));
    let mut drums = single_line(0, 2);
    drums.instruments[0].is_drum = true;
    drums.instruments[0].channel = 9;
    let drums = upload(a, &drums);
    let mut low = single_line(0, 2);
    low.instruments[0].notes[1].pitch = 10;
    let low = upload(a, &low);
    let missing = "0123456789abcdef0123456789abcdef";
    let infill = |rest: &str| format!(r#"{{"checkpoint": "tiny.markov", "upload": "{up}", {rest}}}"#);
    let harmonize =
        |id: &str, rest: &str| format!(r#"{{"checkpoint": "tiny.markov", "upload": "{id}"{rest}}}"#);
    let cases: Vec<(&str, &str, String, u16)> = vec![
        ("region outside the piece", "/api/infill", infill(r#""start_beat": 40, "end_beat": 44"#), 400),
        ("empty region", "/api/infill", infill(r#""start_beat": 8, "end_beat": 8"#), 400),
        ("reversed region", "/api/infill", infill(r#""start_beat": 8, "end_beat": 4"#), 400),
        ("negative start", "/api/infill", infill(r#""start_beat": -2, "end_beat": 4"#), 400),
        ("bar 0", "/api/infill", infill(r#""bars": [0, 1]"#), 400),
        ("bars outside", "/api/infill", infill(r#""bars": [9, 10]"#), 400),
        ("no region", "/api/infill", infill(r#""candidates": 2"#), 400),
        ("half a region", "/api/infill", infill(r#""start_beat": 2"#), 400),
        ("two regions", "/api/infill", infill(r#""start_beat": 0, "end_beat": 4, "bars": [1, 1]"#), 400),
        ("K = 0", "/api/infill", infill(r#""start_beat": 0, "end_beat": 4, "candidates": 0"#), 400),
        ("K too big", "/api/infill", infill(r#""start_beat": 0, "end_beat": 4, "candidates": 5000"#), 400),
        ("no variations", "/api/infill", infill(r#""start_beat": 0, "end_beat": 4, "variations": 0"#), 400),
        (
            "bad temperature",
            "/api/infill",
            infill(r#""start_beat": 0, "end_beat": 4, "temperature": -1"#),
            400,
        ),
        ("unknown field", "/api/infill", infill(r#""start_beat": 0, "end_beat": 4, "voices": 2"#), 400),
        ("no such key", "/api/infill", infill(r#""start_beat": 0, "end_beat": 4, "key": "H minor""#), 400),
        (
            "a key the checkpoint cannot state",
            "/api/infill",
            infill(r#""start_beat": 0, "end_beat": 4, "key": "D minor""#),
            422,
        ),
        (
            "unknown upload",
            "/api/infill",
            format!(
                r#"{{"checkpoint": "tiny.markov", "upload": "{missing}", "start_beat": 0, "end_beat": 4}}"#
            ),
            404,
        ),
        (
            "unknown sample",
            "/api/infill",
            format!(
                r#"{{"checkpoint": "tiny.markov", "sample": "{missing}", "start_beat": 0, "end_beat": 4}}"#
            ),
            404,
        ),
        (
            "bad sample id",
            "/api/infill",
            r#"{"checkpoint": "tiny.markov", "sample": "../../secret", "start_beat": 0, "end_beat": 4}"#
                .into(),
            400,
        ),
        (
            "sample and upload",
            "/api/infill",
            format!(
                r#"{{"checkpoint": "tiny.markov", "sample": "{missing}", "upload": "{up}", "bars": [1, 1]}}"#
            ),
            400,
        ),
        ("no piece", "/api/infill", r#"{"checkpoint": "tiny.markov", "bars": [1, 1]}"#.into(), 400),
        (
            "unknown checkpoint",
            "/api/infill",
            format!(r#"{{"checkpoint": "nope.markov", "upload": "{up}", "bars": [1, 1]}}"#),
            404,
        ),
        (
            "checkpoint traversal",
            "/api/infill",
            format!(r#"{{"checkpoint": "../secret.txt", "upload": "{up}", "bars": [1, 1]}}"#),
            400,
        ),
        (
            "classifier",
            "/api/infill",
            format!(r#"{{"checkpoint": "style.classifier", "upload": "{up}", "bars": [1, 1]}}"#),
            422,
        ),
        ("melody of chords", "/api/harmonize", harmonize(&chords, ""), 400),
        ("empty melody (drums only)", "/api/harmonize", harmonize(&drums, ""), 400),
        ("melody out of range", "/api/harmonize", harmonize(&low, ""), 400),
        ("no voices", "/api/harmonize", harmonize(&tune, r#", "voices": 0"#), 400),
        ("K = 0, harmonize", "/api/harmonize", harmonize(&tune, r#", "candidates": 0"#), 400),
        ("region for harmonize", "/api/harmonize", harmonize(&tune, r#", "bars": [1, 1]"#), 400),
        ("unknown melody", "/api/harmonize", harmonize(missing, ""), 404),
        (
            "classifier, harmonize",
            "/api/harmonize",
            format!(r#"{{"checkpoint": "style.classifier", "upload": "{tune}"}}"#),
            422,
        ),
    ];
    for (what, path, body, want) in cases {
        let answer = http(a, "POST", path, body.as_bytes());
        if what == "melody of chords" {
            let text = String::from_utf8_lossy(&answer.1).into_owned();
            assert!(text.contains("single line") && text.starts_with(r#"{"error":"upload: "#), "{text}");
        }
        assert_error(what, answer, want);
    }
    for (what, path, want) in [
        ("unknown upload roll", format!("/api/uploads/{missing}.json"), 404),
        ("upload roll traversal", "/api/uploads/../secret.txt".to_string(), 400),
        ("upload roll extension", format!("/api/uploads/{up}.exe"), 404),
    ] {
        assert_error(what, http(a, "GET", &path, b""), want);
    }
}

/// Poll job `job` until it ends; its last status.
fn finished_job(a: std::net::SocketAddr, job: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (status, body) = http(a, "GET", &format!("/api/jobs/{job}"), b"");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let s = json_of(&body);
        if s["state"] != "running" {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "job still running: {s}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Each of `answer["longest_copy"]` (one per sample): a number of notes, at most `max`.
fn longest_copies(answer: &serde_json::Value, max: u64) -> Vec<u64> {
    let longest: Vec<u64> = answer["longest_copy"]
        .as_array()
        .unwrap_or_else(|| panic!("no longest_copy: {answer}"))
        .iter()
        .map(|n| n.as_u64().unwrap_or_else(|| panic!("not a number of notes: {answer}")))
        .collect();
    assert_eq!(longest.len(), answer["samples"].as_array().unwrap().len(), "{answer}");
    assert!(longest.iter().all(|&n| n <= max), "a copy longer than {max} notes: {answer}");
    longest
}

#[test]
fn max_copy_keeps_samples_from_copying_the_training_music() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, ckpts, data) = setup(tmp.path());
    // The same checkpoint, its training corpus moved away.
    let (mut header, payload) = cadenza::checkpoint::load(&ckpts.join("tiny.markov")).unwrap();
    let gone = tmp.path().join("moved-away");
    header.corpus.as_mut().unwrap().root = gone.display().to_string();
    cadenza::checkpoint::save(&ckpts.join("gone.markov"), &header, &payload).unwrap();
    let studio = start(tmp.path(), &ckpts, &data, &corpus);
    let a = studio.addr;

    // Generation: every sample's longest copy is at most 6 notes, and the piano roll says so.
    let req =
        br#"{"checkpoint": "tiny.markov", "length": 256, "variations": 3, "rng_seed": 2, "max_copy": 6}"#;
    let (status, body) = http(a, "POST", "/api/generate", req);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let r = json_of(&body);
    assert_eq!((r["max_copy"].as_u64(), r["copy_index_cached"].as_bool()), (Some(6), Some(false)), "{r}");
    let longest = longest_copies(&r, 6);
    assert!(longest.iter().all(|&n| n >= 1), "{r}");
    // A limit that binds: under one too large to, these draws copy 3 notes somewhere; under
    // max_copy 2, none does.
    let draw = |max: u64| {
        let req = format!(
            r#"{{"checkpoint": "tiny.markov", "length": 256, "variations": 3, "rng_seed": 2, "max_copy": {max}}}"#
        );
        let (status, body) = http(a, "POST", "/api/generate", req.as_bytes());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        json_of(&body)
    };
    let free = draw(1_000_000);
    assert!(longest_copies(&free, 1_000_000).iter().any(|&n| n > 2), "{free}");
    assert_eq!(free["copy_index_cached"], true, "{free}");
    longest_copies(&draw(2), 2);
    for (id, n) in ids_of(&r).iter().zip(&longest) {
        let roll = json_of(&http(a, "GET", &format!("/api/samples/{id}.json"), b"").1);
        assert_eq!((roll["max_copy"].as_u64(), roll["longest_copy"].as_u64()), (Some(6), Some(*n)), "{roll}");
    }
    // Without a limit: no copy fields.
    let (status, body) = http(a, "POST", "/api/generate", br#"{"checkpoint": "tiny.markov", "length": 32}"#);
    assert_eq!(status, 200);
    let r = json_of(&body);
    assert!(r.get("longest_copy").is_none() && r.get("max_copy").is_none(), "{r}");
    let plain = ids_of(&r).remove(0);
    let roll = json_of(&http(a, "GET", &format!("/api/samples/{plain}.json"), b"").1);
    assert!(roll["longest_copy"].is_null() && roll["max_copy"].is_null(), "{roll}");
    // A job, from a seed: the index is kept from the first request.
    let req = br#"{"checkpoint": "tiny.markov", "length": 128, "variations": 2, "rng_seed": 4, "seed_piece": "piece01.mid", "seed_beats": 2, "max_copy": 6}"#;
    let (status, body) = http(a, "POST", "/api/jobs", req);
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    let done = finished_job(a, json_of(&body)["job"].as_str().unwrap());
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["result"]["copy_index_cached"], true, "{done}");
    assert_eq!(done["result"]["longest_copy"].as_array().map(Vec::len), Some(2), "{done}");

    // Compare: each sample says its longest copy; a blind trial's clips do not.
    let req =
        br#"{"checkpoints": ["tiny.markov", "twin.markov"], "length": 64, "rng_seed": 3, "max_copy": 5}"#;
    let (status, body) = http(a, "POST", "/api/compare", req);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let r = json_of(&body);
    assert_eq!(r["max_copy"], 5, "{r}");
    for s in r["samples"].as_array().unwrap() {
        assert!(s["longest_copy"].as_u64().is_some_and(|n| n <= 5), "{r}");
    }
    let req = br#"{"a": "tiny.markov", "b": "twin.markov", "length": 48, "max_copy": 5}"#;
    let (status, body) = http(a, "POST", "/api/trials", req);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let t = json_of(&body);
    for clip in t["clips"].as_array().unwrap() {
        let roll = json_of(&http(a, "GET", &format!("/api/samples/{}.json", clip.as_str().unwrap()), b"").1);
        assert!(roll["longest_copy"].is_null() && roll["max_copy"].is_null(), "blind: {roll}");
    }

    // Infill and harmonize with a copy limit: the longest copy ending at a new note.
    let up = upload(a, &common::melody(3, 4));
    let req = format!(
        r#"{{"checkpoint": "tiny.markov", "upload": "{up}", "start_beat": 4, "end_beat": 12, "candidates": 3, "variations": 2, "rng_seed": 7, "max_copy": 6}}"#
    );
    let (status, body) = http(a, "POST", "/api/infill", req.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let r = json_of(&body);
    assert_eq!((r["max_copy"].as_u64(), r["copy_index_cached"].as_bool()), (Some(6), Some(true)), "{r}");
    let longest = longest_copies(&r, 6);
    let id = ids_of(&r).remove(0);
    let roll = json_of(&http(a, "GET", &format!("/api/samples/{id}.json"), b"").1);
    assert_eq!(roll["longest_copy"].as_u64(), Some(longest[0]), "{roll}");
    let tune = upload(a, &single_line(1, 4));
    let req =
        format!(r#"{{"checkpoint": "tiny.markov", "upload": "{tune}", "candidates": 2, "max_copy": 8}}"#);
    let (status, body) = http(a, "POST", "/api/harmonize", req.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    longest_copies(&json_of(&body), 8);

    // Bad limits: a 400 that names the field, whatever the route.
    let infill = |v: &str| {
        format!(r#"{{"checkpoint": "tiny.markov", "upload": "{up}", "bars": [1, 1], "max_copy": {v}}}"#)
    };
    for v in ["0", "-1", r#""x""#, "2.5", "[6]", "true"] {
        let bodies = [
            ("/api/generate", format!(r#"{{"checkpoint": "tiny.markov", "max_copy": {v}}}"#)),
            ("/api/jobs", format!(r#"{{"checkpoint": "tiny.markov", "max_copy": {v}}}"#)),
            (
                "/api/compare",
                format!(r#"{{"checkpoints": ["tiny.markov", "twin.markov"], "max_copy": {v}}}"#),
            ),
            ("/api/trials", format!(r#"{{"a": "tiny.markov", "b": "twin.markov", "max_copy": {v}}}"#)),
            ("/api/infill", infill(v)),
            (
                "/api/harmonize",
                format!(r#"{{"checkpoint": "tiny.markov", "upload": "{tune}", "max_copy": {v}}}"#),
            ),
        ];
        for (path, body) in bodies {
            let answer = http(a, "POST", path, body.as_bytes());
            let text = String::from_utf8_lossy(&answer.1).into_owned();
            assert!(text.contains("max_copy"), "{path} {v}: {text}");
            assert_error(&format!("{path} max_copy {v}"), answer, 400);
        }
    }
    let unguarded = br#"{"checkpoint": "tiny.markov", "unguarded": true, "max_copy": 6}"#;
    let answer = http(a, "POST", "/api/generate", unguarded);
    assert!(String::from_utf8_lossy(&answer.1).contains("max_copy"), "{:?}", answer);
    assert_error("unguarded with max_copy", answer, 400);

    // A checkpoint whose training corpus is gone: 422 with the reason, and fine without a limit.
    let answer = http(a, "POST", "/api/generate", br#"{"checkpoint": "gone.markov", "max_copy": 6}"#);
    let text = String::from_utf8_lossy(&answer.1).into_owned();
    assert!(
        text.contains("max_copy") && text.contains("moved-away") && text.contains("not on this machine"),
        "{text}"
    );
    assert_error("training corpus gone", answer, 422);
    let (status, _) = http(a, "POST", "/api/generate", br#"{"checkpoint": "gone.markov", "length": 32}"#);
    assert_eq!(status, 200);
    let (status, body) = http(a, "POST", "/api/jobs", br#"{"checkpoint": "gone.markov", "max_copy": 6}"#);
    assert_eq!(status, 202);
    let failed = finished_job(a, json_of(&body)["job"].as_str().unwrap());
    assert_eq!(
        (failed["state"].as_str(), failed["status"].as_u64()),
        (Some("failed"), Some(422)),
        "{failed}"
    );
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("not on this machine")), "{failed}");
    let req = format!(r#"{{"checkpoint": "gone.markov", "upload": "{up}", "bars": [1, 1], "max_copy": 6}}"#);
    assert_error("infill, training corpus gone", http(a, "POST", "/api/infill", req.as_bytes()), 422);
    assert!(gone.to_str().is_some() && !gone.exists());
}

#[test]
fn keys_are_asked_of_key_relative_checkpoints_and_refused_by_others() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, ckpts, data) = setup(tmp.path());
    // A key-relative chain on the same corpus (its melodies are in C major).
    let keyed = common::train(tmp.path(), &corpus, "markov", &["--order", "3", "--transpose-to-key"]);
    std::fs::copy(&keyed, ckpts.join("keyed.markov")).unwrap();
    let studio = start(tmp.path(), &ckpts, &data, &corpus);
    let a = studio.addr;

    let req = br#"{"checkpoint": "keyed.markov", "length": 128, "variations": 2, "rng_seed": 1, "key": "F# major"}"#;
    let (status, body) = http(a, "POST", "/api/generate", req);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let want: cadenza::key::Key = "F# major".parse().unwrap();
    for id in json_of(&body)["samples"].as_array().unwrap() {
        let path = format!("/api/samples/{}.mid", id.as_str().unwrap());
        let (status, bytes) = http(a, "GET", &path, b"");
        assert_eq!(status, 200);
        let piece = cadenza::midi::read_bytes(&bytes, Path::new("sample.mid"), &Default::default()).unwrap();
        let found = cadenza::key::key_of_notes(&piece, None, cadenza::key::Profile::AardenEssen).unwrap();
        assert_eq!(found.key, want);
    }
    // Refused in one line: a key of a checkpoint trained without --transpose-to-key (422), and
    // something that is no key (400).
    let req = br#"{"checkpoint": "tiny.markov", "length": 32, "key": "A minor"}"#;
    let answer = http(a, "POST", "/api/generate", req);
    assert!(String::from_utf8_lossy(&answer.1).contains("transpose-to-key"));
    assert_error("key of a plain checkpoint", answer, 422);
    let req = br#"{"checkpoint": "keyed.markov", "length": 32, "key": "H minor"}"#;
    assert_error("no key", http(a, "POST", "/api/generate", req), 400);

    // Tempo and instruments ride along: the seed's piano, at 90 bpm.
    let req = br#"{"checkpoint": "tiny.markov", "length": 64, "seed_piece": "piece01.mid", "seed_beats": 2, "tempo": 90, "instruments": "seed"}"#;
    let (status, body) = http(a, "POST", "/api/generate", req);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["samples"][0].as_str().unwrap().to_string();
    let (_, bytes) = http(a, "GET", &format!("/api/samples/{id}.mid"), b"");
    let piece = cadenza::midi::read_bytes(&bytes, Path::new("sample.mid"), &Default::default()).unwrap();
    assert_eq!(piece.tempos[0].micros_per_beat, 666_667);
    assert!(piece.instruments.iter().all(|i| i.program == 0 && !i.is_drum));
    let req = br#"{"checkpoint": "tiny.markov", "length": 32, "instruments": "flute, kazoo"}"#;
    let answer = http(a, "POST", "/api/generate", req);
    assert!(String::from_utf8_lossy(&answer.1).contains("kazoo"), "{}", String::from_utf8_lossy(&answer.1));
    assert_error("no instrument", answer, 400);
    let req = br#"{"checkpoint": "tiny.markov", "length": 32, "tempo": 1000}"#;
    assert_error("tempo out of range", http(a, "POST", "/api/generate", req), 422);

    // Density: from one set of candidates (one rng seed), `low` keeps a sparser piece than
    // `high`; a level that is none is a 400.
    let mut per_beat = Vec::new();
    for level in ["low", "high"] {
        let req =
            format!(r#"{{"checkpoint": "tiny.markov", "length": 200, "rng_seed": 4, "density": "{level}"}}"#);
        let (status, body) = http(a, "POST", "/api/generate", req.as_bytes());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let id = json_of(&body)["samples"][0].as_str().unwrap().to_string();
        let (_, bytes) = http(a, "GET", &format!("/api/samples/{id}.mid"), b"");
        let piece = cadenza::midi::read_bytes(&bytes, Path::new("sample.mid"), &Default::default()).unwrap();
        per_beat.push(cadenza::density::notes_per_beat(&piece, 0));
    }
    assert!(per_beat[0] < per_beat[1], "low, high: {per_beat:?}");
    let req = br#"{"checkpoint": "tiny.markov", "length": 32, "density": "loud"}"#;
    assert_error("no density", http(a, "POST", "/api/generate", req), 400);
}

/// `POST /api/finetune` (issue 26): an LSTM in the checkpoint folder, fine-tuned on uploaded
/// files as a background job, becomes a checkpoint the studio lists and generates from; a base
/// that is no neural model, a missing upload, a bad name and a name taken are refused.
#[test]
fn a_base_model_is_fine_tuned_on_uploads_as_a_job() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, ckpts, data) = setup(tmp.path());
    let shape = ["--embed", "8", "--hidden", "16", "--layers", "1", "--batch", "4", "--window", "16"];
    let mut args = shape.to_vec();
    args.extend(["--steps", "20", "--device", "cpu", "--tokenizer", "midi-like"]);
    let base = ckpts.join("base.lstm");
    let out = common::cadenza(tmp.path())
        .args([
            "train",
            "--model",
            "lstm",
            "--corpus",
            corpus.to_str().unwrap(),
            "--out",
            base.to_str().unwrap(),
        ])
        .args(&args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_file(ckpts.join("base.lstm.last")).unwrap();
    let studio = start(tmp.path(), &ckpts, &data, &corpus);
    let a = studio.addr;
    let uploads: Vec<String> =
        (0..12).map(|v| upload(a, &common::melody(v % 8, 4 + u64::from(v % 3)))).collect();
    let list = serde_json::to_string(&uploads).unwrap();

    let req = format!(r#"{{"base": "base.lstm", "uploads": {list}, "name": "mine", "steps": 12}}"#);
    let (status, body) = http(a, "POST", "/api/finetune", req.as_bytes());
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    let job = json_of(&body)["job"].as_str().unwrap().to_string();
    let done = finished_job(a, &job);
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["result"]["checkpoint"], "mine.lstm", "{done}");
    let header = cadenza::checkpoint::load_header(&ckpts.join("mine.lstm")).unwrap();
    assert!(header.extra["base"]["path"].as_str().unwrap().ends_with("base.lstm"));
    let (_, body) = http(a, "GET", "/api/checkpoints", b"");
    assert!(String::from_utf8_lossy(&body).contains("mine.lstm"));
    let (status, body) = http(a, "POST", "/api/generate", br#"{"checkpoint": "mine.lstm", "length": 32}"#);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    let refused = |what: &str, req: String, want: u16| {
        assert_error(what, http(a, "POST", "/api/finetune", req.as_bytes()), want)
    };
    refused("markov base", format!(r#"{{"base": "tiny.markov", "uploads": {list}, "name": "x"}}"#), 422);
    refused("no base", format!(r#"{{"base": "none.lstm", "uploads": {list}, "name": "x"}}"#), 404);
    let missing = format!(r#"["{}", "0123456789abcdef0123456789abcdef"]"#, uploads[0]);
    refused("missing upload", format!(r#"{{"base": "base.lstm", "uploads": {missing}, "name": "x"}}"#), 404);
    refused(
        "one upload",
        format!(r#"{{"base": "base.lstm", "uploads": ["{}"], "name": "x"}}"#, uploads[0]),
        400,
    );
    refused("bad name", format!(r#"{{"base": "base.lstm", "uploads": {list}, "name": "../x"}}"#), 400);
    refused("taken", format!(r#"{{"base": "base.lstm", "uploads": {list}, "name": "mine"}}"#), 409);
}

/// `POST /api/live/answer` (issue 27, the studio's Live panel): a phrase at 100 bpm is answered
/// on its beat grid, its first note on the first beat at or after the release plus the wait,
/// every note inside the answer, in the phrase's key; the same rng seed answers the same; a
/// given tempo is kept; bad phrases and options are one line each.
#[test]
fn live_answers_a_phrase_on_its_beat() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, ckpts, data) = setup(tmp.path());
    let studio = start(tmp.path(), &ckpts, &data, &corpus);
    let a = studio.addr;
    let (beat, t0) = (0.6, 10.0);
    let pitches = [60, 62, 64, 65, 67, 65, 64, 62, 60];
    let notes: Vec<serde_json::Value> = pitches
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let start = t0 + i as f64 * beat + if i % 2 == 1 { 0.012 } else { -0.008 };
            serde_json::json!({"pitch": p, "velocity": 80, "start": start, "end": start + 0.45})
        })
        .collect();
    let released = notes.last().unwrap()["end"].as_f64().unwrap();
    let ask = |extra: serde_json::Value| {
        let mut body = serde_json::json!({"checkpoint": "tiny.markov", "notes": notes, "released": released,
            "wait": 0.5, "answer_beats": 4, "rng_seed": 3});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        http(a, "POST", "/api/live/answer", body.to_string().as_bytes())
    };
    let (status, body) = ask(serde_json::json!({}));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let r = json_of(&body);
    let bpm = r["bpm"].as_f64().unwrap();
    assert!((bpm - 100.0).abs() <= 3.0, "tempo from the phrase: {r}");
    let (first, end) = (r["first_beat"].as_f64().unwrap(), r["end"].as_f64().unwrap());
    let b = r["beat"].as_f64().unwrap();
    assert!(first >= released + 0.5 - 1e-3 && first < released + 0.5 + b, "first beat after the wait: {r}");
    let beats = (first - t0) / beat;
    assert!(
        (beats - beats.round()).abs() * beat < 0.02,
        "the first beat on the phrase's grid: {beats} beats"
    );
    assert!((end - first - 4.0 * b).abs() < 1e-6, "four beats: {r}");
    let answer = r["notes"].as_array().unwrap();
    assert!(!answer.is_empty(), "{r}");
    let starts: Vec<f64> = answer.iter().map(|n| n["start"].as_f64().unwrap()).collect();
    assert!((starts[0] - first).abs() < 1e-3, "the first note on the first beat: {starts:?} vs {first}");
    for n in answer {
        let (s, e) = (n["start"].as_f64().unwrap(), n["end"].as_f64().unwrap());
        assert!(s >= first - 1e-6 && s < end && e > s && e <= end + 1e-6, "inside the answer: {n}");
    }
    // The tiny corpus is in C major, and so is the phrase: the answer stays on its scale.
    let scale = [0, 2, 4, 5, 7, 9, 11];
    let in_scale = answer.iter().filter(|n| scale.contains(&(n["pitch"].as_u64().unwrap() % 12))).count();
    assert!(in_scale * 10 >= answer.len() * 8, "{in_scale} of {} notes in C major", answer.len());
    let (_, again) = ask(serde_json::json!({}));
    assert_eq!(json_of(&again)["notes"], r["notes"], "the same rng seed answers the same");
    // Without the cadence and the tonic's weight: still an answer on the beat.
    let (status, body) = ask(serde_json::json!({"cadence": false, "tonic_weight": 1}));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(!json_of(&body)["notes"].as_array().unwrap().is_empty());
    let (status, body) = ask(serde_json::json!({"bpm": 90}));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!((json_of(&body)["bpm"].as_f64().unwrap() - 90.0).abs() < 1e-9);

    let bad = |what: &str, extra: serde_json::Value, code: u16, says: &str| {
        let answer = ask(extra);
        let text = String::from_utf8_lossy(&answer.1).to_string();
        assert!(text.contains(says), "{what}: {text}");
        assert_error(what, answer, code);
    };
    let silent = serde_json::json!([{"pitch": 60, "velocity": 0, "start": 1.0, "end": 1.5}]);
    bad("velocity 0", serde_json::json!({"notes": silent}), 400, "velocity");
    let backwards = serde_json::json!([{"pitch": 60, "velocity": 9, "start": 2.0, "end": 1.5}]);
    bad("ends before it starts", serde_json::json!({"notes": backwards}), 400, "start <= end");
    bad("no phrase", serde_json::json!({"notes": []}), 400, "no note of the phrase");
    bad("a phrase after the release", serde_json::json!({"phrase_start": 99.0}), 400, "phrase");
    bad("unknown field", serde_json::json!({"mode": "accompany"}), 400, "mode");
    bad("wait", serde_json::json!({"wait": 99}), 400, "wait");
    bad("answer beats", serde_json::json!({"answer_beats": 0}), 400, "answer_beats");
    bad("tonic weight", serde_json::json!({"tonic_weight": 0.5}), 400, "tonic_weight");
    bad("no checkpoint", serde_json::json!({"checkpoint": "nope.markov"}), 404, "nope.markov");
    bad("a path", serde_json::json!({"checkpoint": "../secret.txt"}), 400, "checkpoint");
    bad("key of a plain checkpoint", serde_json::json!({"key": "A minor"}), 422, "transpose-to-key");
}
