//! Which notes should the copy definition (issue 24) run on: every note, or the top line (the
//! highest note of each onset)? Measured on a corpus folder, for each view:
//!
//! - **held out**: every K-th piece checked against an index of all the others: the longest
//!   copy real music of the corpus shares with the rest (what a sample's figure reads against);
//! - **planted**: a melody quoted under a new accompaniment, the case the definition on every
//!   note is said to miss: the top line of piece A, moved up a tone, over the notes of piece B
//!   below it (B's own top line removed), checked against an index without B. The longest copy
//!   found, and whether it stands out of the held-out figures (above their 95th percentile).
//!
//! ```text
//! cargo run --release --example copy_views -- corpora/bach [--every K] [--planted N]
//! ```
//!
//! Prints one JSON object.

use std::path::PathBuf;

use cadenza::copies::{top_line, NoteKey};
use cadenza::originality::{folder_notes, index_keys};

/// Sorted copy of `v`'s figures, with its median, mean, 95th percentile and max.
fn summary(v: &[usize]) -> serde_json::Value {
    let mut s = v.to_vec();
    s.sort_unstable();
    let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    serde_json::json!({
        "n": s.len(),
        "median": at(0.5),
        "mean": s.iter().sum::<usize>() as f64 / s.len() as f64,
        "p95": at(0.95),
        "max": s[s.len() - 1],
    })
}

/// Piece `a`'s top line, moved up two semitones, over the notes of `b` that lie below the
/// melody note last struck (b's own top line left out), over the onsets both pieces have.
fn planted(a: &[NoteKey], b: &[NoteKey]) -> Vec<NoteKey> {
    let melody: Vec<NoteKey> = top_line(a)
        .into_iter()
        .map(|k| NoteKey { onset: k.onset, pitch: k.pitch.saturating_add(2) })
        .collect();
    let end = melody.last().map_or(0, |k| k.onset).min(b.last().map_or(0, |k| k.onset));
    let b_top = top_line(b);
    let mut out: Vec<NoteKey> = melody.iter().copied().filter(|k| k.onset <= end).collect();
    for k in b.iter().filter(|k| k.onset <= end && b_top.binary_search(k).is_err()) {
        let above = melody.partition_point(|m| m.onset <= k.onset);
        if above > 0 && k.pitch < melody[above - 1].pitch {
            out.push(*k);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    let (mut every, mut planted_n) = (1usize, 40usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--every" => every = args.next().and_then(|v| v.parse().ok()).expect("--every K"),
            "--planted" => planted_n = args.next().and_then(|v| v.parse().ok()).expect("--planted N"),
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let dir = dir.expect("usage: copy_views DIR [--every K] [--planted N]");
    let notes = folder_notes(&dir, None).expect("the corpus folder");
    let pieces: Vec<(String, Vec<NoteKey>)> =
        notes.pieces.into_iter().filter(|(_, k)| k.len() >= 16).collect();
    let n = pieces.len();
    assert!(n >= 3, "need three pieces or more");
    let views: [(&str, fn(&[NoteKey]) -> Vec<NoteKey>); 2] =
        [("all_notes", |k| k.to_vec()), ("top_line", |k| top_line(k))];
    let index_without = |skip: usize, view: fn(&[NoteKey]) -> Vec<NoteKey>| {
        index_keys(
            pieces
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, (name, k))| (name.clone(), view(k))),
        )
    };
    let mut out = serde_json::Map::new();
    for (name, view) in views {
        let held: Vec<usize> = (0..n)
            .step_by(every.max(1))
            .map(|i| index_without(i, view).longest(&view(&pieces[i].1)))
            .collect();
        let mut p95 = held.clone();
        p95.sort_unstable();
        let threshold = p95[((p95.len() - 1) as f64 * 0.95).round() as usize];
        let mut found = Vec::new();
        let mut melody = Vec::new();
        for i in 0..planted_n.min(n) {
            let (a, b) = (i * n / planted_n.min(n), (i * n / planted_n.min(n) * 7 + 3) % n);
            let b = if a == b { (b + 1) % n } else { b };
            let query = planted(&pieces[a].1, &pieces[b].1);
            melody.push(top_line(&query).len());
            found.push(index_without(b, view).longest(&view(&query)));
        }
        let detected = found.iter().filter(|&&f| f > threshold).count();
        out.insert(
            name.into(),
            serde_json::json!({
                "held_out_longest": summary(&held),
                "planted_longest": summary(&found),
                "planted_melody_notes": summary(&melody),
                "planted_above_held_out_p95": detected as f64 / found.len() as f64,
            }),
        );
    }
    out.insert("pieces".into(), n.into());
    out.insert("corpus".into(), dir.display().to_string().into());
    println!("{}", serde_json::to_string_pretty(&serde_json::Value::Object(out)).unwrap());
}
