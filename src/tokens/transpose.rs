//! Transposition for data augmentation, on pieces and directly on token sequences.
//!
//! Only pitched notes move; drum notes (drum sounds, not pitches) never do.
//!
//! **Range rule.** A pitch in `lo..=hi` shifted by `semitones` that lands outside the range is
//! folded back by whole octaves: moved down (or up) by the fewest octaves that bring it into
//! `lo..=hi` ([`fold_pitch`]). Only when the range is narrower than an octave and no octave of
//! the pitch lies in it is the pitch clamped to the nearest end. The new pitch depends on the
//! old pitch alone, so a NOTE_ON and its NOTE_OFF always move to the same new pitch.
//!
//! Folding can send two pitches an octave apart to one pitch. When that happens to notes of one
//! instrument sounding at once, the token stream re-pairs them FIFO on decoding, so
//! `decode(transpose_tokens(encode(p)))` can then differ from `quantize(transpose_piece(p))` in
//! which note keeps which velocity. Shifts that keep every note in range have no such caveat:
//! there `transpose_tokens(encode(p), k) == encode(transpose_piece(p, k, ..))` exactly.

use super::vocab::{Event, Vocab};
use super::TokenId;
use crate::midi::Piece;

/// `pitch + semitones`, folded into `lo..=hi` by whole octaves (see the module doc). `lo` and
/// `hi` are swapped if given in the wrong order and capped at 127.
pub fn fold_pitch(pitch: u8, semitones: i8, lo: u8, hi: u8) -> u8 {
    let (lo, hi) = (lo.min(hi).min(127), hi.max(lo).min(127));
    let (lo, hi) = (i32::from(lo), i32::from(hi));
    let p = i32::from(pitch) + i32::from(semitones);
    let folded = if p > hi {
        p - 12 * (p - hi + 11).div_euclid(12)
    } else if p < lo {
        p + 12 * (lo - p + 11).div_euclid(12)
    } else {
        p
    };
    if (lo..=hi).contains(&folded) {
        folded as u8
    } else {
        p.clamp(lo, hi) as u8
    }
}

/// `piece` with every pitched note whose pitch lies in `lo..=hi` shifted by `semitones`
/// (folded back into the range, see the module doc). Drum notes, and pitched notes already
/// outside `lo..=hi`, are left as they are; notes are re-sorted. Conductor data is kept.
pub fn transpose_piece(piece: &Piece, semitones: i8, lo: u8, hi: u8) -> Piece {
    let (lo, hi) = (lo.min(hi), hi.max(lo));
    let mut out = piece.clone();
    for inst in out.instruments.iter_mut().filter(|i| !i.is_drum) {
        for n in &mut inst.notes {
            if (lo..=hi).contains(&n.pitch) {
                n.pitch = fold_pitch(n.pitch, semitones, lo, hi);
            }
        }
        inst.notes.sort_by_key(|n| (n.start, n.pitch, n.end, n.velocity));
    }
    out
}

/// `tokens` with the NOTE_ON/NOTE_OFF (or PITCH) tokens of pitched instruments shifted by `semitones`,
/// folded into the vocabulary's pitch range. The instrument is tracked through the stream as
/// the decoder does: notes after `DRUMS` are drums and stay put until a `PROGRAM_p`; notes
/// before any instrument token are pitched. A KEY control token moves its tonic by the same
/// shift. Every other token, including ids outside the vocabulary, is copied unchanged.
pub fn transpose_tokens(vocab: &Vocab, tokens: &[TokenId], semitones: i8) -> Vec<TokenId> {
    let (lo, hi) = vocab.pitch_range();
    let mut drums = false;
    tokens
        .iter()
        .map(|&token| {
            let moved = match vocab.event(token) {
                Event::Drums(_) => {
                    drums = true;
                    None
                }
                Event::Program(..) => {
                    drums = false;
                    None
                }
                Event::NoteOn(p) if !drums => vocab.id(Event::NoteOn(fold_pitch(p, semitones, lo, hi))),
                Event::NoteOff(p) if !drums => vocab.id(Event::NoteOff(fold_pitch(p, semitones, lo, hi))),
                Event::Pitch(p) if !drums => vocab.id(Event::Pitch(fold_pitch(p, semitones, lo, hi))),
                // A stated key moves with the notes (its mode stays).
                Event::Key(k) => {
                    let tonic = (i16::from(k % 12) + i16::from(semitones)).rem_euclid(12) as u8;
                    vocab.id(Event::Key(tonic + 12 * (k / 12)))
                }
                _ => None,
            };
            moved.unwrap_or(token)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{Instrument, Note};
    use crate::tokens::{Tokenizer, TokenizerConfig};

    #[test]
    fn folding_moves_by_whole_octaves() {
        // Range 21..=108 (piano).
        assert_eq!(fold_pitch(60, 7, 21, 108), 67);
        assert_eq!(fold_pitch(105, 5, 21, 108), 98); // 110 → 98
        assert_eq!(fold_pitch(108, 12, 21, 108), 108); // 120 → 108
        assert_eq!(fold_pitch(22, -5, 21, 108), 29); // 17 → 29
        assert_eq!(fold_pitch(21, -12, 21, 108), 21); // 9 → 21
        assert_eq!(fold_pitch(21, -13, 21, 108), 32); // 8 → 20 → 32
        assert_eq!(fold_pitch(127, 127, 0, 127), 122); // 254 → 122
        assert_eq!(fold_pitch(0, -128, 0, 127), 4); // -128 → 4
                                                    // Narrower than an octave: 64 has no octave in 60..=62, so it is clamped.
        assert_eq!(fold_pitch(60, 4, 60, 62), 62);
        assert_eq!(fold_pitch(60, 2, 62, 60), 62); // bounds given in the wrong order
                                                   // Exhaustively: the result is in range and differs from pitch + k by whole octaves
                                                   // whenever the range is at least an octave wide.
        for p in 0..=127u8 {
            for k in -30..=30i8 {
                let f = fold_pitch(p, k, 21, 108);
                assert!((21..=108).contains(&f));
                assert_eq!((i32::from(f) - i32::from(p) - i32::from(k)).rem_euclid(12), 0);
                if (21..=108).contains(&(i32::from(p) + i32::from(k))) {
                    assert_eq!(i32::from(f), i32::from(p) + i32::from(k));
                }
            }
        }
    }

    #[test]
    fn drums_stay_and_pitched_notes_move_in_tokens() {
        let t = Tokenizer::new(TokenizerConfig::default()).expect("valid config");
        let v = t.vocab();
        let ids =
            |s: &str| -> Vec<TokenId> { s.split_whitespace().map(|n| v.parse(n).expect("token")).collect() };
        let tokens = ids("BOS NOTE_ON_60 PROGRAM_3 NOTE_ON_64 DRUMS NOTE_ON_36 SHIFT_1 NOTE_OFF_36 PROGRAM_0 NOTE_OFF_60 EOS");
        let expected = ids("BOS NOTE_ON_62 PROGRAM_3 NOTE_ON_66 DRUMS NOTE_ON_36 SHIFT_1 NOTE_OFF_36 PROGRAM_0 NOTE_OFF_62 EOS");
        assert_eq!(transpose_tokens(v, &tokens, 2), expected);
        // Unknown ids pass through.
        assert_eq!(transpose_tokens(v, &[9999, 60000], 5), vec![9999, 60000]);
    }

    #[test]
    fn transpose_piece_leaves_drums_and_out_of_range_notes() {
        let mut p = Piece::new(480);
        let n = |pitch| Note { start: 0, end: 10, pitch, velocity: 90 };
        p.instruments.push(Instrument {
            program: 0,
            channel: 0,
            is_drum: false,
            name: String::new(),
            notes: vec![n(10), n(60), n(107)],
        });
        p.instruments.push(Instrument {
            program: 0,
            channel: 9,
            is_drum: true,
            name: String::new(),
            notes: vec![n(36)],
        });
        let q = transpose_piece(&p, 3, 21, 108);
        let pitches: Vec<Vec<u8>> =
            q.instruments.iter().map(|i| i.notes.iter().map(|n| n.pitch).collect()).collect();
        // 10 is below the range (untouched), 60 → 63, 107 → 110 → 98; drums untouched.
        assert_eq!(pitches, vec![vec![10, 63, 98], vec![36]]);
    }
}
