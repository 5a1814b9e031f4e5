//! One piece checked against the training music: its longest copy (how many notes, where it
//! starts in the piece and in its source, by how many semitones it is transposed) and the share
//! of its notes inside copies of at least `min` notes ([`CopyReport`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::copies::{note_keys, CopyIndex, Match, NoteKey};
use crate::error::Result;
use crate::midi::{self, Piece, ReadOptions};

/// The smallest copy there is: two notes (one step). A `min` below it counts as it.
pub const MIN_COPY_NOTES: usize = 2;

/// What [`check`] finds in one piece (the JSON of `cadenza check-copy --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyReport {
    /// The piece checked, as the caller named it.
    pub file: String,
    /// Notes of its longest copy (the first, if several are as long); 1 when no two consecutive
    /// notes are a copy, 0 for a piece without pitched notes.
    pub longest_notes: usize,
    /// Where the longest copy starts in the piece, in beats (its first note's onset on the copy
    /// grid); without a copy, the first note's.
    pub beat: f64,
    /// The training piece the longest copy comes from (its first occurrence); `None` without a
    /// copy.
    pub source: Option<String>,
    /// Where the copy starts in the source, in beats.
    pub source_beat: Option<f64>,
    /// Semitones from the source to the piece: the piece's first copied pitch minus the
    /// source's.
    pub transposition: Option<i32>,
    /// Share of the piece's notes inside a copy of at least `min` notes (0 without notes).
    pub copied_share: f64,
}

/// Share of the notes inside copies of at least `min` notes (`min` below
/// [`MIN_COPY_NOTES`] counts as it), given the notes of the longest copy ending at each note
/// ([`Match::notes`] of [`CopyIndex::matches`]): the copy of `n` notes ending at note `i` covers
/// notes `i + 1 - n ..= i`; the union of those with `n >= min`, over the number of notes (0 for
/// no notes).
pub fn copied_share(copy_notes: &[usize], min: usize) -> f64 {
    if copy_notes.is_empty() {
        return 0.0;
    }
    let min = min.max(MIN_COPY_NOTES);
    // +1 where a covering copy starts, -1 after it ends.
    let mut edges = vec![0i64; copy_notes.len() + 1];
    for (end, &n) in copy_notes.iter().enumerate() {
        let notes = n.min(end + 1);
        if notes >= min {
            edges[end + 1 - notes] += 1;
            edges[end + 1] -= 1;
        }
    }
    let mut depth = 0;
    let covered = edges[..copy_notes.len()]
        .iter()
        .filter(|&&e| {
            depth += e;
            depth > 0
        })
        .count();
    covered as f64 / copy_notes.len() as f64
}

/// Check the notes `keys` (in the copy definition's order, [`note_keys`]) of the piece named
/// `file` against `index`, counting copies of at least `min` notes in the copied share.
pub fn check(index: &CopyIndex, file: impl Into<String>, keys: &[NoteKey], min: usize) -> CopyReport {
    let matches = index.matches(keys);
    let notes: Vec<usize> = matches.iter().map(Match::notes).collect();
    let copied_share = copied_share(&notes, min);
    // The first note where the longest copy ends.
    let best = matches.iter().enumerate().fold(None, |best: Option<(usize, Match)>, (i, m)| match best {
        Some((_, b)) if b.len >= m.len => best,
        _ => Some((i, *m)),
    });
    let Some((end, m)) = best else {
        return CopyReport {
            file: file.into(),
            longest_notes: 0,
            beat: 0.0,
            source: None,
            source_beat: None,
            transposition: None,
            copied_share,
        };
    };
    let start = end - m.len as usize;
    let first = keys[start];
    let source = index.source(m).map(|s| (s, index.piece_notes(s.piece)[s.first]));
    CopyReport {
        file: file.into(),
        longest_notes: m.notes(),
        beat: first.beat(),
        source: source.map(|(s, _)| index.piece_name(s.piece).to_string()),
        source_beat: source.map(|(_, k)| k.beat()),
        transposition: source.map(|(_, k)| i32::from(first.pitch) - i32::from(k.pitch)),
        copied_share,
    }
}

/// [`check`] of a piece in memory.
pub fn check_piece(index: &CopyIndex, file: impl Into<String>, piece: &Piece, min: usize) -> CopyReport {
    check(index, file, &note_keys(piece), min)
}

/// [`check`] of the MIDI file at `path` (named as given); an error naming it if it cannot be
/// read.
pub fn check_file(index: &CopyIndex, path: &Path, min: usize) -> Result<CopyReport> {
    let piece = midi::read_file(path, &ReadOptions::default())?;
    Ok(check_piece(index, path.display().to_string(), &piece, min))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copies::COPY_STEPS_PER_BEAT;
    use crate::midi::{Instrument, Note};

    /// Notes from `(beat, pitch)` pairs at `tpb` ticks per beat.
    fn piece(tpb: u16, notes: &[(f64, u8)]) -> Piece {
        let mut p = Piece::new(tpb);
        let notes = notes
            .iter()
            .map(|&(beat, pitch)| {
                let start = (beat * f64::from(tpb)).round() as u64;
                Note { start, end: start + 1, pitch, velocity: 80 }
            })
            .collect();
        p.instruments.push(Instrument { notes, ..Instrument::default() });
        p
    }

    /// A pseudo-random melody: `n` notes, half-beat or beat gaps, pitches 50-89.
    fn random(seed: u64, n: usize) -> Vec<(f64, u8)> {
        let mut x = seed;
        let mut beat = 0.0;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                beat += if x >> 63 == 0 { 0.5 } else { 1.0 };
                (beat, 50 + ((x >> 33) % 40) as u8)
            })
            .collect()
    }

    #[test]
    fn a_planted_copy_is_found_with_its_source_beat_and_transposition() {
        let a = piece(96, &random(1, 40));
        let b = piece(480, &random(2, 40));
        let index = crate::originality::index_pieces([("a.mid".into(), &a), ("b.mid".into(), &b)]);
        // Notes 10..22 of b (12 notes), up 3 semitones, at another resolution, shifted to start
        // at beat 7.5 of a piece of other notes.
        let src = random(2, 40);
        let shift = 7.5 - src[10].0;
        let mut notes: Vec<(f64, u8)> = (0..6).map(|i| (f64::from(i) * 1.25, 100 + i as u8 % 3)).collect();
        notes.extend(src[10..22].iter().map(|&(beat, pitch)| (beat + shift, pitch + 3)));
        notes.extend((0..6).map(|i| (30.0 + f64::from(i) * 0.75, 20 + i as u8 * 5)));
        let r = check_piece(&index, "q.mid", &piece(240, &notes), 8);
        assert_eq!(r.longest_notes, 12, "{r:?}");
        assert_eq!((r.file.as_str(), r.source.as_deref()), ("q.mid", Some("b.mid")));
        assert_eq!((r.beat, r.source_beat, r.transposition), (7.5, Some(src[10].0), Some(3)));
        assert!((r.copied_share - 12.0 / 24.0).abs() < 1e-12, "{r:?}");
        // With a higher bar the copy no longer counts in the share.
        assert_eq!(check_piece(&index, "q.mid", &piece(240, &notes), 13).copied_share, 0.0);
    }

    #[test]
    fn a_training_piece_is_all_copy_and_nothing_is_a_copy_of_an_empty_index() {
        let notes = random(1, 30);
        let a = piece(96, &notes);
        let index = crate::originality::index_pieces([("a.mid".into(), &a)]);
        let r = check_piece(&index, "a.mid", &a, 8);
        assert_eq!((r.longest_notes, r.beat, r.copied_share), (30, notes[0].0, 1.0));
        assert_eq!((r.source_beat, r.transposition), (Some(notes[0].0), Some(0)));
        let empty = CopyIndex::new();
        let r = check_piece(&empty, "a.mid", &a, 8);
        assert_eq!((r.longest_notes, r.beat, r.copied_share), (1, notes[0].0, 0.0));
        assert_eq!((r.source, r.source_beat, r.transposition), (None, None, None));
        let r = check_piece(&index, "none.mid", &Piece::new(96), 8);
        assert_eq!((r.longest_notes, r.beat, r.copied_share), (0, 0.0, 0.0));
    }

    #[test]
    fn copied_share_is_the_union_of_long_enough_copies() {
        // Copies ending at each note, as CopyIndex::matches gives them (at most one more note
        // than at the note before).
        // Notes 0-2; 3-7 (copies of 3, 4 and 5 notes nested); 8-9; 10-15 (three copies of 4
        // overlapping).
        let m = [1, 2, 3, 1, 2, 3, 4, 5, 1, 2, 1, 2, 3, 4, 4, 4];
        let share = |min| copied_share(&m, min) * 16.0;
        assert_eq!([share(2), share(3), share(4), share(5), share(6)], [16.0, 14.0, 11.0, 5.0, 0.0]);
        // min 0 and 1 mean 2: notes in a copy of two or more.
        assert_eq!(copied_share(&m, 0), copied_share(&m, 2));
        assert_eq!(copied_share(&[], 8), 0.0);
    }

    #[test]
    fn the_report_serializes_with_exactly_the_documented_keys() {
        let r = CopyReport {
            file: "x.mid".into(),
            longest_notes: 1,
            beat: 0.0,
            source: None,
            source_beat: None,
            transposition: None,
            copied_share: 0.0,
        };
        let v = serde_json::to_value(&r).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want =
            ["file", "longest_notes", "beat", "source", "source_beat", "transposition", "copied_share"];
        want.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, want);
        assert!(v["source"].is_null() && v["source_beat"].is_null() && v["transposition"].is_null());
        assert_eq!(COPY_STEPS_PER_BEAT, 12, "beats in these tests are multiples of a twelfth");
    }
}
