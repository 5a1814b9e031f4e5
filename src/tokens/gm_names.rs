//! The 128 General MIDI Level 1 program names, used to name the instruments of decoded pieces.

/// General MIDI program names, indexed by program number (0-based: 0 is "Acoustic Grand Piano").
pub const GM_PROGRAM_NAMES: [&str; 128] = [
    // Piano
    "Acoustic Grand Piano",
    "Bright Acoustic Piano",
    "Electric Grand Piano",
    "Honky-tonk Piano",
    "Electric Piano 1",
    "Electric Piano 2",
    "Harpsichord",
    "Clavinet",
    // Chromatic percussion
    "Celesta",
    "Glockenspiel",
    "Music Box",
    "Vibraphone",
    "Marimba",
    "Xylophone",
    "Tubular Bells",
    "Dulcimer",
    // Organ
    "Drawbar Organ",
    "Percussive Organ",
    "Rock Organ",
    "Church Organ",
    "Reed Organ",
    "Accordion",
    "Harmonica",
    "Tango Accordion",
    // Guitar
    "Acoustic Guitar (nylon)",
    "Acoustic Guitar (steel)",
    "Electric Guitar (jazz)",
    "Electric Guitar (clean)",
    "Electric Guitar (muted)",
    "Overdriven Guitar",
    "Distortion Guitar",
    "Guitar Harmonics",
    // Bass
    "Acoustic Bass",
    "Electric Bass (finger)",
    "Electric Bass (pick)",
    "Fretless Bass",
    "Slap Bass 1",
    "Slap Bass 2",
    "Synth Bass 1",
    "Synth Bass 2",
    // Strings
    "Violin",
    "Viola",
    "Cello",
    "Contrabass",
    "Tremolo Strings",
    "Pizzicato Strings",
    "Orchestral Harp",
    "Timpani",
    // Ensemble
    "String Ensemble 1",
    "String Ensemble 2",
    "Synth Strings 1",
    "Synth Strings 2",
    "Choir Aahs",
    "Voice Oohs",
    "Synth Choir",
    "Orchestra Hit",
    // Brass
    "Trumpet",
    "Trombone",
    "Tuba",
    "Muted Trumpet",
    "French Horn",
    "Brass Section",
    "Synth Brass 1",
    "Synth Brass 2",
    // Reed
    "Soprano Sax",
    "Alto Sax",
    "Tenor Sax",
    "Baritone Sax",
    "Oboe",
    "English Horn",
    "Bassoon",
    "Clarinet",
    // Pipe
    "Piccolo",
    "Flute",
    "Recorder",
    "Pan Flute",
    "Blown Bottle",
    "Shakuhachi",
    "Whistle",
    "Ocarina",
    // Synth lead
    "Lead 1 (square)",
    "Lead 2 (sawtooth)",
    "Lead 3 (calliope)",
    "Lead 4 (chiff)",
    "Lead 5 (charang)",
    "Lead 6 (voice)",
    "Lead 7 (fifths)",
    "Lead 8 (bass + lead)",
    // Synth pad
    "Pad 1 (new age)",
    "Pad 2 (warm)",
    "Pad 3 (polysynth)",
    "Pad 4 (choir)",
    "Pad 5 (bowed)",
    "Pad 6 (metallic)",
    "Pad 7 (halo)",
    "Pad 8 (sweep)",
    // Synth effects
    "FX 1 (rain)",
    "FX 2 (soundtrack)",
    "FX 3 (crystal)",
    "FX 4 (atmosphere)",
    "FX 5 (brightness)",
    "FX 6 (goblins)",
    "FX 7 (echoes)",
    "FX 8 (sci-fi)",
    // Ethnic
    "Sitar",
    "Banjo",
    "Shamisen",
    "Koto",
    "Kalimba",
    "Bagpipe",
    "Fiddle",
    "Shanai",
    // Percussive
    "Tinkle Bell",
    "Agogo",
    "Steel Drums",
    "Woodblock",
    "Taiko Drum",
    "Melodic Tom",
    "Synth Drum",
    "Reverse Cymbal",
    // Sound effects
    "Guitar Fret Noise",
    "Breath Noise",
    "Seashore",
    "Bird Tweet",
    "Telephone Ring",
    "Helicopter",
    "Applause",
    "Gunshot",
];

/// Name of the drum kit instrument.
pub const DRUMS_NAME: &str = "Drums";

/// The General MIDI name of `program` (programs above 127 are read modulo 128).
pub fn program_name(program: u8) -> &'static str {
    GM_PROGRAM_NAMES[usize::from(program & 0x7f)]
}

/// An instrument as a user names it: `drums`, a program number 0-127, or a General MIDI name
/// (any case, spaces and punctuation ignored: `flute`, `acoustic grand piano`, `Electric Bass
/// (finger)`). `(program, is_drum)`; `None` for anything else.
pub fn parse_instrument(name: &str) -> Option<(u8, bool)> {
    let key =
        |s: &str| s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    let wanted = key(name);
    if wanted.is_empty() {
        return None;
    }
    if wanted == "drums" || wanted == "drumkit" || wanted == "percussion" {
        return Some((0, true));
    }
    if let Ok(n) = name.trim().parse::<u8>() {
        return (n < 128).then_some((n, false));
    }
    GM_PROGRAM_NAMES.iter().position(|n| key(n) == wanted).map(|p| (p as u8, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruments_are_named_by_number_gm_name_or_drums() {
        assert_eq!(parse_instrument("drums"), Some((0, true)));
        assert_eq!(parse_instrument(" Drums "), Some((0, true)));
        assert_eq!(parse_instrument("33"), Some((33, false)));
        assert_eq!(parse_instrument("flute"), Some((73, false)));
        assert_eq!(parse_instrument("acoustic grand piano"), Some((0, false)));
        assert_eq!(parse_instrument("electric bass (finger)"), Some((33, false)));
        assert_eq!(parse_instrument("ElectricBassFinger"), Some((33, false)));
        for bad in ["128", "kazoo", "", "  "] {
            assert_eq!(parse_instrument(bad), None, "{bad:?}");
        }
        for p in 0..128u8 {
            assert_eq!(parse_instrument(program_name(p)), Some((p, false)));
        }
    }

    #[test]
    fn names_match_the_gm_table_at_family_boundaries() {
        // Spot checks against the General MIDI 1 specification's program list.
        assert_eq!(program_name(0), "Acoustic Grand Piano");
        assert_eq!(program_name(24), "Acoustic Guitar (nylon)");
        assert_eq!(program_name(40), "Violin");
        assert_eq!(program_name(56), "Trumpet");
        assert_eq!(program_name(73), "Flute");
        assert_eq!(program_name(118), "Synth Drum");
        assert_eq!(program_name(127), "Gunshot");
        let mut names: Vec<_> = GM_PROGRAM_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 128, "names are distinct");
    }
}
