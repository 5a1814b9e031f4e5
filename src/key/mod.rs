//! Keys: what key a piece (or a span of it) is in, and moving music between keys.
//!
//! - [`name`] is the [`Key`] type: a tonic and a [`Mode`], parsed from "A minor", read from a
//!   MIDI key signature, and the shifts between keys.
//! - [`finder`] finds a key by the Krumhansl-Schmuckler method (pitch classes weighted by how
//!   long they sound, correlated with a [`Profile`] in all 24 keys), taking the file's key
//!   signature when it agrees with the notes.
//!
//! - [`plan`] is how a sampling job asked for a key uses a key-relative model.
//!
//! [`to_key`] moves a piece from one key to another, the one transposition key-relative
//! training (every training piece in C major or A minor, as BachBot and DeepBach trained) and
//! generation in a requested key share.

pub mod finder;
pub mod name;
pub mod plan;

pub use finder::{key_of_notes, key_of_piece, KeyEstimate, Profile};
pub use name::{Key, Mode};
pub use plan::{KeyPlan, DEFAULT_KEY_CANDIDATES};

use std::borrow::Cow;

use crate::midi::Piece;
use crate::tokens::transpose::transpose_piece;
use crate::tokens::TokenizerConfig;

/// `piece` moved from key `from` to key `to`'s tonic by the smallest shift ([`Key::shift_to`],
/// -6..=5 semitones), with that shift. Drum notes stay; a pitch pushed past 0 or 127 is folded
/// back by an octave. Key signatures are rewritten to the new tonic's (same modes).
pub fn to_key(piece: &Piece, from: Key, to: Key) -> (Piece, i8) {
    let shift = from.shift_to(to);
    if shift == 0 {
        return (piece.clone(), 0);
    }
    let mut out = transpose_piece(piece, shift, 0, 127);
    for sig in &mut out.key_signatures {
        let moved = Key::from_signature(sig).transposed(shift);
        sig.sharps = signature_sharps(moved);
    }
    (out, shift)
}

/// The key signature (sharps, negative for flats, in -6..=6: Gb major is written with 6 flats,
/// F# major's relative D# minor as Eb minor's 6 flats) of `key`.
pub fn signature_sharps(key: Key) -> i8 {
    let major = if key.mode == Mode::Major { key.tonic } else { (key.tonic + 3) % 12 };
    // Circle of fifths: the major tonic is 7 × sharps (mod 12).
    let sharps = (0..12i8).find(|s| (i16::from(*s) * 7).rem_euclid(12) == i16::from(major)).unwrap_or(0);
    if sharps > 6 {
        sharps - 12
    } else {
        sharps
    }
}

/// The piece in its key's reference key (C major or A minor, see [`Key::reference`]): the piece
/// moved there, the key it was found in and the shift applied. Pieces without pitched notes are
/// kept as they are (`None` for the key).
pub fn to_reference(piece: &Piece, profile: Profile) -> (Piece, Option<Key>, i8) {
    match key_of_piece(piece, None, profile) {
        Some(found) => {
            let (moved, shift) = to_key(piece, found.key, found.key.reference());
            (moved, Some(found.key), shift)
        }
        None => (piece.clone(), None, 0),
    }
}

/// What a model with tokenizer settings `config` learns of `piece`: the piece itself, or with
/// [`TokenizerConfig::key_relative`], the piece moved to its reference key ([`to_reference`]).
/// The one place training data is made key-relative (corpus folders and token stores alike).
pub fn for_model<'a>(piece: &'a Piece, config: &TokenizerConfig) -> Cow<'a, Piece> {
    if config.key_relative {
        Cow::Owned(to_reference(piece, Profile::default()).0)
    } else {
        Cow::Borrowed(piece)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{Instrument, KeySignature, Note};

    #[test]
    fn signatures_round_trip_through_keys() {
        for key in Key::all() {
            let sharps = signature_sharps(key);
            assert!((-6..=6).contains(&sharps));
            let sig = KeySignature { tick: 0, sharps, minor: key.mode == Mode::Minor };
            assert_eq!(Key::from_signature(&sig), key);
        }
    }

    #[test]
    fn pieces_move_to_the_reference_key_and_back() {
        // D major triad over drums: to C major is two semitones down; drums stay.
        let mut piece = Piece::new(4);
        let notes = [62, 66, 69].map(|p| Note { start: 0, end: 16, pitch: p, velocity: 90 });
        piece.instruments.push(Instrument { notes: notes.to_vec(), ..Instrument::default() });
        piece.instruments.push(Instrument {
            is_drum: true,
            channel: 9,
            notes: vec![Note { start: 0, end: 1, pitch: 36, velocity: 90 }],
            ..Instrument::default()
        });
        piece.key_signatures.push(KeySignature { tick: 0, sharps: 2, minor: false });
        let (moved, key, shift) = to_reference(&piece, Profile::AardenEssen);
        assert_eq!((key, shift), (Some(Key::new(2, Mode::Major)), -2));
        let pitches: Vec<u8> = moved.instruments[0].notes.iter().map(|n| n.pitch).collect();
        assert_eq!(pitches, [60, 64, 67]);
        assert_eq!(moved.instruments[1], piece.instruments[1]);
        assert_eq!(moved.key_signatures[0].sharps, 0);
        let (back, s) = to_key(&moved, Key::C_MAJOR, key.unwrap());
        assert_eq!((back, s), (piece, 2));
    }
}
