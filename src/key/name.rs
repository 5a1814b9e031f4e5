//! A key as a musician names it: a tonic pitch class and a mode, parsed from and written as
//! "A minor", "F# major", "Bb minor"; read from a MIDI key signature; and the shifts that move
//! music between keys.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::midi::KeySignature;

/// Major or (natural, harmonic or melodic) minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Major,
    Minor,
}

impl Mode {
    /// `major` or `minor`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Major => "major",
            Mode::Minor => "minor",
        }
    }
}

/// A key: `tonic` is a pitch class, 0 = C ... 11 = B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    pub tonic: u8,
    pub mode: Mode,
}

/// How major-key tonics are spelled (the usual key signatures: Db not C#, F# not Gb).
const MAJOR_NAMES: [&str; 12] = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
/// How minor-key tonics are spelled (C# not Db, Eb not D#, G# not Ab, Bb not A#).
const MINOR_NAMES: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"];

impl Key {
    /// C major, the reference major key of key-relative training.
    pub const C_MAJOR: Key = Key { tonic: 0, mode: Mode::Major };
    /// A minor, the reference minor key of key-relative training (C major's relative minor).
    pub const A_MINOR: Key = Key { tonic: 9, mode: Mode::Minor };

    /// A key from a tonic pitch class (taken modulo 12) and a mode.
    pub fn new(tonic: u8, mode: Mode) -> Key {
        Key { tonic: tonic % 12, mode }
    }

    /// The 24 keys: the 12 major keys from C, then the 12 minor keys from C.
    pub fn all() -> impl Iterator<Item = Key> {
        [Mode::Major, Mode::Minor].into_iter().flat_map(|mode| (0..12).map(move |t| Key::new(t, mode)))
    }

    /// This key's index among [`Key::all`] (0..24).
    pub fn index(self) -> usize {
        usize::from(self.tonic) + if self.mode == Mode::Minor { 12 } else { 0 }
    }

    /// The key a MIDI key signature names (`sharps` in -7..=7, negative for flats).
    pub fn from_signature(sig: &KeySignature) -> Key {
        let major_tonic = (i32::from(sig.sharps) * 7).rem_euclid(12) as u8;
        if sig.minor {
            Key::new(major_tonic + 9, Mode::Minor)
        } else {
            Key::new(major_tonic, Mode::Major)
        }
    }

    /// The key with the same signature in the other mode (C major and A minor).
    pub fn relative(self) -> Key {
        match self.mode {
            Mode::Major => Key::new(self.tonic + 9, Mode::Minor),
            Mode::Minor => Key::new(self.tonic + 3, Mode::Major),
        }
    }

    /// The reference key of this key's mode: C major or A minor.
    pub fn reference(self) -> Key {
        match self.mode {
            Mode::Major => Key::C_MAJOR,
            Mode::Minor => Key::A_MINOR,
        }
    }

    /// The shift in semitones, in `-6..=5` (the smallest move, downwards on a tritone), that
    /// takes this key's tonic to `to`'s.
    pub fn shift_to(self, to: Key) -> i8 {
        let up = (i16::from(to.tonic) - i16::from(self.tonic)).rem_euclid(12) as i8;
        if up >= 6 {
            up - 12
        } else {
            up
        }
    }

    /// This key moved by `semitones`.
    pub fn transposed(self, semitones: i8) -> Key {
        Key::new((i16::from(self.tonic) + i16::from(semitones)).rem_euclid(12) as u8, self.mode)
    }

    /// The pitch classes of the key's scale: the major scale, or the natural minor scale.
    pub fn scale(self) -> [u8; 7] {
        let steps = match self.mode {
            Mode::Major => [0, 2, 4, 5, 7, 9, 11],
            Mode::Minor => [0, 2, 3, 5, 7, 8, 10],
        };
        steps.map(|s| (self.tonic + s) % 12)
    }

    /// The pitch classes of the key's tonic chord: tonic, third (major or minor) and fifth.
    pub fn triad(self) -> [u8; 3] {
        let third = if self.mode == Mode::Major { 4 } else { 3 };
        [self.tonic % 12, (self.tonic + third) % 12, (self.tonic + 7) % 12]
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = if self.mode == Mode::Major { &MAJOR_NAMES } else { &MINOR_NAMES };
        write!(f, "{} {}", names[usize::from(self.tonic % 12)], self.mode.name())
    }
}

impl std::str::FromStr for Key {
    type Err = Error;

    /// "A minor", "F# major", "Bb minor", "c# min", "Eb" (major when no mode is given), "am";
    /// flats as `b`, `-` or `♭`, sharps as `#` or `♯`, any case.
    fn from_str(s: &str) -> Result<Key> {
        let bad = || {
            Error::setting("key", format!("{s:?}"), "a tonic and a mode, such as \"A minor\" or \"F# major\"")
        };
        let text = s.trim();
        let mut chars = text.chars();
        let letter = chars.next().ok_or_else(bad)?;
        let mut tonic: i16 = match letter.to_ascii_uppercase() {
            'C' => 0,
            'D' => 2,
            'E' => 4,
            'F' => 5,
            'G' => 7,
            'A' => 9,
            'B' => 11,
            _ => return Err(bad()),
        };
        let mut rest = chars.as_str();
        loop {
            let mut it = rest.chars();
            match it.next() {
                Some('#' | '♯') => tonic += 1,
                Some('b' | '-' | '♭') if !starts_mode_word(rest) => tonic -= 1,
                _ => break,
            }
            rest = it.as_str();
        }
        let mode = match rest.trim().to_ascii_lowercase().as_str() {
            "" | "major" | "maj" => Mode::Major,
            "minor" | "min" | "m" => Mode::Minor,
            _ => return Err(bad()),
        };
        Ok(Key::new(tonic.rem_euclid(12) as u8, mode))
    }
}

/// Whether `rest` (after the letter) is a mode word rather than accidentals: there is none
/// starting with `b`, so this only guards against misreading in the future.
fn starts_mode_word(rest: &str) -> bool {
    let lower = rest.to_ascii_lowercase();
    ["major", "minor", "maj", "min"].iter().any(|w| lower.starts_with(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_back() {
        for key in Key::all() {
            let name = key.to_string();
            assert_eq!(name.parse::<Key>().unwrap(), key, "{name}");
        }
        assert_eq!("A minor".parse::<Key>().unwrap(), Key::A_MINOR);
        assert_eq!("a min".parse::<Key>().unwrap(), Key::A_MINOR);
        assert_eq!("am".parse::<Key>().unwrap(), Key::A_MINOR);
        assert_eq!("Bb".parse::<Key>().unwrap(), Key::new(10, Mode::Major));
        assert_eq!("b-  minor".parse::<Key>().unwrap(), Key::new(10, Mode::Minor));
        assert_eq!("B minor".parse::<Key>().unwrap(), Key::new(11, Mode::Minor));
        assert_eq!("C# major".parse::<Key>().unwrap(), Key::new(1, Mode::Major));
        assert_eq!("Cb major".parse::<Key>().unwrap(), Key::new(11, Mode::Major));
        assert_eq!("F♯ minor".parse::<Key>().unwrap(), Key::new(6, Mode::Minor));
        for bad in ["", "H major", "A dorian", "minor", "A# minorish"] {
            let err = bad.parse::<Key>().unwrap_err().to_string();
            assert!(err.contains("key"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn signatures_name_their_keys() {
        let sig = |sharps, minor| KeySignature { tick: 0, sharps, minor };
        assert_eq!(Key::from_signature(&sig(0, false)), Key::C_MAJOR);
        assert_eq!(Key::from_signature(&sig(0, true)), Key::A_MINOR);
        assert_eq!(Key::from_signature(&sig(2, false)).to_string(), "D major");
        assert_eq!(Key::from_signature(&sig(-3, true)).to_string(), "C minor");
        assert_eq!(Key::from_signature(&sig(7, false)).to_string(), "Db major"); // C# major
        assert_eq!(Key::from_signature(&sig(-6, true)).to_string(), "Eb minor");
        for key in Key::all() {
            assert_eq!(key.relative().relative(), key);
            assert_eq!(
                key.relative().scale().iter().copied().collect::<std::collections::BTreeSet<_>>(),
                key.scale().iter().copied().collect()
            );
        }
    }

    #[test]
    fn shifts_take_tonics_to_tonics_by_the_smallest_move() {
        for from in Key::all() {
            for to in Key::all() {
                let s = from.shift_to(to);
                assert!((-6..=5).contains(&s));
                assert_eq!(from.transposed(s).tonic, to.tonic);
            }
            assert_eq!(from.transposed(from.shift_to(from.reference())), from.reference());
        }
        assert_eq!(Key::new(7, Mode::Major).shift_to(Key::C_MAJOR), 5);
        assert_eq!(Key::new(2, Mode::Major).shift_to(Key::C_MAJOR), -2);
        assert_eq!(Key::new(6, Mode::Major).shift_to(Key::C_MAJOR), -6);
    }

    #[test]
    fn a_tonic_chord_lies_on_its_scale() {
        assert_eq!(Key::C_MAJOR.triad(), [0, 4, 7]);
        assert_eq!(Key::A_MINOR.triad(), [9, 0, 4]);
        assert_eq!("F# minor".parse::<Key>().unwrap().triad(), [6, 9, 1]);
        for key in Key::all() {
            assert!(key.triad().iter().all(|c| key.scale().contains(c)), "{key}");
        }
    }
}
