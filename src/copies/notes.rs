//! The notes a copy is measured on: every pitched note of a piece as `(onset, pitch)` on a grid
//! of [`COPY_STEPS_PER_BEAT`] steps per beat, in onset-then-pitch order, and the [`Step`] from
//! each note to the next (pitch interval and onset gap). A copy of N notes is N consecutive notes
//! whose N - 1 steps equal those of N consecutive notes of another piece, so a transposed or
//! re-tempoed quote counts (the steps are relative, and counted in beats); durations, velocities
//! and instruments do not.

use crate::midi::Piece;

/// Grid steps per beat of the copy definition: fine enough for sixteenth-note triplets and
/// thirty-seconds, coarse enough that a quote played a little off the grid still matches.
pub const COPY_STEPS_PER_BEAT: u64 = 12;

/// One note as the copy definition sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NoteKey {
    /// Onset in steps of [`COPY_STEPS_PER_BEAT`] per beat.
    pub onset: u64,
    pub pitch: u8,
}

impl NoteKey {
    /// The onset in beats.
    pub fn beat(&self) -> f64 {
        self.onset as f64 / COPY_STEPS_PER_BEAT as f64
    }
}

/// The copy grid's step of `tick` at `ticks_per_beat` (rounded to the nearest step).
pub fn onset_step(tick: u64, ticks_per_beat: u16) -> u64 {
    let tpb = u128::from(ticks_per_beat.max(1));
    ((u128::from(tick) * u128::from(COPY_STEPS_PER_BEAT) * 2 + tpb) / (2 * tpb)) as u64
}

/// The notes of `piece` for the copy definition: every note of every pitched instrument (drums
/// are left out: their "pitches" are sounds), its onset on the copy grid, sorted by onset then
/// pitch, one note per (onset, pitch) (the same note doubled by two instruments counts once).
pub fn note_keys(piece: &Piece) -> Vec<NoteKey> {
    let mut keys: Vec<NoteKey> = piece
        .instruments
        .iter()
        .filter(|i| !i.is_drum)
        .flat_map(|i| i.notes.iter())
        .map(|n| NoteKey { onset: onset_step(n.start, piece.ticks_per_beat), pitch: n.pitch })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The top line of `keys` (sorted by onset, then pitch, as [`note_keys`] gives them): the
/// highest note at each onset, the melody in most textures. The copy definition applied to it
/// catches a melody quoted under a new accompaniment, which the definition on every note misses
/// (see `docs/ARCHITECTURE.md`, "Originality", for why the default stays on every note).
pub fn top_line(keys: &[NoteKey]) -> Vec<NoteKey> {
    let mut line: Vec<NoteKey> = Vec::new();
    for &k in keys {
        match line.last_mut() {
            Some(last) if last.onset == k.onset => *last = k,
            _ => line.push(k),
        }
    }
    line
}

/// The move from one note to the next: the pitch interval and the onset gap, packed in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Step(u64);

impl Step {
    /// The step from note `a` to note `b` (`b` not before `a`).
    pub fn between(a: NoteKey, b: NoteKey) -> Step {
        let interval = (i64::from(b.pitch) - i64::from(a.pitch) + 128) as u64;
        let gap = b.onset.saturating_sub(a.onset).min(u64::MAX >> 9);
        Step((gap << 8) | interval)
    }

    /// The pitch interval in semitones.
    pub fn interval(self) -> i32 {
        (self.0 & 0xff) as i32 - 128
    }

    /// The onset gap in copy-grid steps.
    pub fn gap(self) -> u64 {
        self.0 >> 8
    }
}

/// The steps between consecutive notes of `keys` (one fewer than the notes).
pub fn steps(keys: &[NoteKey]) -> Vec<Step> {
    keys.windows(2).map(|w| Step::between(w[0], w[1])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_line_is_the_highest_note_of_each_onset() {
        let k = |onset, pitch| NoteKey { onset, pitch };
        let keys = [k(0, 48), k(0, 60), k(0, 67), k(6, 62), k(12, 50), k(12, 71)];
        assert_eq!(top_line(&keys), [k(0, 67), k(6, 62), k(12, 71)]);
        assert!(top_line(&[]).is_empty());
    }
    use crate::midi::{Instrument, Note};

    fn piece(tpb: u16, notes: &[(u64, u8)], drums: &[(u64, u8)]) -> Piece {
        let mut p = Piece::new(tpb);
        let inst = |is_drum, notes: &[(u64, u8)]| Instrument {
            is_drum,
            notes: notes
                .iter()
                .map(|&(start, pitch)| Note { start, end: start + 10, pitch, velocity: 80 })
                .collect(),
            ..Instrument::default()
        };
        p.instruments.push(inst(false, notes));
        p.instruments.push(inst(true, drums));
        p
    }

    #[test]
    fn keys_are_sorted_deduplicated_pitched_notes_on_the_copy_grid() {
        // 480 ticks per beat: 40 ticks a step; 19 ticks rounds down, 20 up.
        let p = piece(480, &[(480, 64), (0, 67), (0, 60), (19, 62), (20, 72), (480, 64)], &[(0, 36)]);
        let k = note_keys(&p);
        let want = [(0, 60), (0, 62), (0, 67), (1, 72), (12, 64)];
        assert_eq!(k, want.map(|(onset, pitch)| NoteKey { onset, pitch }).to_vec());
        assert_eq!(k[4].beat(), 1.0);
    }

    #[test]
    fn steps_are_relative_so_transposed_and_retempoed_quotes_match() {
        let a = note_keys(&piece(96, &[(0, 60), (48, 64), (96, 62), (192, 67)], &[]));
        // Up 3 semitones, at another resolution, starting on beat 4.
        let b = note_keys(&piece(480, &[(1920, 63), (2160, 67), (2400, 65), (2880, 70)], &[]));
        assert_eq!(steps(&a), steps(&b));
        let s = steps(&a);
        assert_eq!((s[0].interval(), s[0].gap()), (4, 6));
        assert_eq!((s[1].interval(), s[1].gap()), (-2, 6));
        assert_ne!(Step::between(a[0], a[1]), Step::between(a[1], a[2]));
    }
}
