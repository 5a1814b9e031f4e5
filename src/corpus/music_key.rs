//! The musical identity of a piece: a hash of its quantized notes that ignores everything a copy
//! of the same music may change (file bytes, unknown chunks, track names, tempo, velocities,
//! programs, channels, resolution), so that two files with the same music share a key, hence a
//! split ([`super::SplitKey::Music`]) and, with `--dedup`, one place in the corpus.
//!
//! The key is the blake3 hash of the sorted, de-duplicated set of `(onset, pitch, drum)` of
//! every note, onsets on the canonical beats grid of [`crate::tokens`] (12 steps per beat,
//! `round(tick * 12 / ticks_per_beat)`). It does not depend on the tokenizer (so one piece has
//! one split under every scheme and bits per note stay comparable across schemes) nor on the
//! sustain pedal (which only moves note ends): note ends are left out on purpose.

use crate::midi::Piece;

/// Steps per beat of the key's grid: the default tokenizer grid.
pub const KEY_STEPS_PER_BEAT: u64 = 12;

/// A piece's musical identity.
pub type MusicKey = [u8; 32];

/// How many of `keys` (in order) repeat an earlier one: the pieces `--dedup` would leave out.
pub fn repeated_keys<'a>(keys: impl IntoIterator<Item = &'a MusicKey>) -> usize {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter().filter(|k| !seen.insert(*k)).count()
}

/// The [`MusicKey`] of `piece`.
pub fn music_key(piece: &Piece) -> MusicKey {
    let tpb = u64::from(piece.ticks_per_beat.max(1));
    let mut notes: Vec<(u64, u8, bool)> = piece
        .instruments
        .iter()
        .flat_map(|i| {
            i.notes.iter().map(move |n| {
                let onset = (u128::from(n.start) * u128::from(KEY_STEPS_PER_BEAT) * 2 + u128::from(tpb))
                    / (2 * u128::from(tpb));
                (u64::try_from(onset).unwrap_or(u64::MAX), n.pitch, i.is_drum)
            })
        })
        .collect();
    notes.sort_unstable();
    notes.dedup();
    let mut h = blake3::Hasher::new();
    h.update(b"cadenza music key v1\0");
    h.update(&(notes.len() as u64).to_le_bytes());
    for (onset, pitch, drum) in notes {
        h.update(&onset.to_le_bytes());
        h.update(&[pitch, drum as u8]);
    }
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{Instrument, Note, TempoChange};

    fn piece(tpb: u16, notes: &[(u64, u64, u8)]) -> Piece {
        let mut p = Piece::new(tpb);
        let mut inst = Instrument { program: 0, channel: 0, is_drum: false, name: "a".into(), notes: vec![] };
        for &(start, end, pitch) in notes {
            inst.notes.push(Note { start, end, pitch, velocity: 80 });
        }
        p.instruments.push(inst);
        p
    }

    #[test]
    fn ignores_resolution_tempo_velocity_program_and_note_ends() {
        let a = piece(480, &[(0, 480, 60), (480, 960, 64), (960, 1920, 67)]);
        let mut b = piece(96, &[(0, 90, 60), (96, 150, 64), (192, 384, 67)]);
        b.tempos.push(TempoChange { tick: 0, micros_per_beat: 300_000 });
        b.instruments[0].program = 40;
        b.instruments[0].name = "violin".into();
        for n in &mut b.instruments[0].notes {
            n.velocity = 20;
        }
        // Split one part into two: the notes, not their tracks, are the music.
        let moved = b.instruments[0].notes.pop().unwrap();
        let mut second = b.instruments[0].clone();
        second.notes = vec![moved];
        b.instruments.push(second);
        assert_eq!(music_key(&a), music_key(&b));
    }

    #[test]
    fn different_music_has_a_different_key() {
        let a = piece(480, &[(0, 480, 60), (480, 960, 64)]);
        for other in [
            piece(480, &[(0, 480, 60), (480, 960, 65)]),
            piece(480, &[(0, 480, 60), (720, 960, 64)]),
            piece(480, &[(0, 480, 60)]),
        ] {
            assert_ne!(music_key(&a), music_key(&other));
        }
        let mut drums = a.clone();
        drums.instruments[0].is_drum = true;
        assert_ne!(music_key(&a), music_key(&drums));
    }

    #[test]
    fn onsets_round_to_the_grid() {
        // 480 ticks per beat: 40 ticks per step; 19 ticks rounds to step 0, 21 to step 1.
        let a = piece(480, &[(0, 480, 60), (480, 960, 64)]);
        assert_eq!(music_key(&a), music_key(&piece(480, &[(19, 480, 60), (499, 960, 64)])));
        assert_ne!(music_key(&a), music_key(&piece(480, &[(21, 480, 60), (480, 960, 64)])));
    }
}
