//! `generate --density low|medium|high` (issue 25) through the binary: a Markov chain and an
//! HMM trained on a corpus of sparse and busy pieces write sparser pieces asked for `low` than
//! for `medium`, and sparser for `medium` than for `high` (notes per beat, counted here from the
//! written files), and `compare --density` likewise; a density that is no level is refused in
//! one line.

mod common;

use std::path::Path;

use cadenza::midi::{Instrument, Note, Piece, TempoChange};
use common::{cadenza, pieces_in, train, Lcg};

/// A piece of 16 beats whose onsets fall on `per_beat` of the four sixteenths of each beat (on
/// average), pseudo-random pitches of a C major scale.
fn piece(per_beat: u64, seed: u64) -> Piece {
    let mut rng = Lcg(seed);
    let mut p = Piece::new(480);
    p.tempos.push(TempoChange { tick: 0, micros_per_beat: 500_000 });
    let mut notes = Vec::new();
    for s in 0..64u64 {
        if rng.next(4) < per_beat {
            let pitch = 60 + [0u8, 2, 4, 5, 7, 9, 11, 12][rng.next(8) as usize];
            notes.push(Note { start: s * 120, end: s * 120 + 110, pitch, velocity: 80 });
        }
    }
    p.instruments.push(Instrument { notes, ..Default::default() });
    p.normalize();
    p
}

/// Notes per beat of every piece in `dir`, averaged.
fn mean_density(dir: &Path) -> f64 {
    let pieces = pieces_in(dir);
    assert!(!pieces.is_empty());
    let each = pieces.iter().map(|p| {
        let beats = p.end_tick() as f64 / f64::from(p.ticks_per_beat);
        p.note_count() as f64 / beats.max(1.0)
    });
    each.sum::<f64>() / pieces.len() as f64
}

#[test]
fn low_medium_and_high_order_the_density_of_every_model() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for i in 0..24u64 {
        let per_beat = 1 + i % 3; // one, two or three sixteenths a beat
        cadenza::midi::write_file(&piece(per_beat, i + 1), &corpus.join(format!("p{i:02}.mid"))).unwrap();
    }
    let markov = train(tmp.path(), &corpus, "markov", &["--order", "3"]);
    let hmm_dir = tmp.path().join("hmm");
    std::fs::create_dir_all(&hmm_dir).unwrap();
    let hmm = train(&hmm_dir, &corpus, "hmm", &["--states", "12", "--max-iters", "15"]);
    for ckpt in [&markov, &hmm] {
        let kind = ckpt.extension().unwrap().to_str().unwrap().to_string();
        let mut means = Vec::new();
        for level in ["low", "medium", "high"] {
            let out = tmp.path().join(format!("{kind}-{level}"));
            let run = cadenza(tmp.path())
                .args(["generate", ckpt.to_str().unwrap(), "--count", "8", "--length", "300"])
                .args(["--rng-seed", "5", "--density", level, "--candidates", "9", "--out"])
                .arg(&out)
                .output()
                .unwrap();
            assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
            means.push(mean_density(&out));
        }
        assert!(means[0] < means[1] && means[1] < means[2], "{kind}: low, medium, high = {means:?}");
    }
    // compare asks the same way.
    let mut compared = Vec::new();
    for level in ["low", "high"] {
        let out = tmp.path().join(format!("compare-{level}"));
        let run = cadenza(tmp.path())
            .args(["compare", "--corpus", corpus.to_str().unwrap(), "--models", markov.to_str().unwrap()])
            .args(["--samples", "6", "--length", "200", "--density", level, "--no-audio", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let dir = std::fs::read_dir(out.join("samples")).unwrap().next().unwrap().unwrap().path();
        compared.push(mean_density(&dir));
    }
    assert!(compared[0] < compared[1], "compare: low, high = {compared:?}");

    let bad = cadenza(tmp.path())
        .args(["generate", markov.to_str().unwrap(), "--density", "loud", "--out"])
        .arg(tmp.path().join("bad"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("density") && err.contains("low, medium or high"), "{err}");
}
