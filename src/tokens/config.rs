//! What the tokenizer encodes and on which grid: serialized into every checkpoint and cache key.

use serde::{Deserialize, Serialize};

use super::controls::ControlSet;
use crate::error::{Error, Result, TokenizerError};

/// How time is quantized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum TimeMode {
    /// Steps per quarter note (12 makes sixteenths and eighth-note triplets exact). Follows the
    /// score's beats whatever the tempo.
    Beats { steps_per_beat: u16 },
    /// Fixed steps of `step_ms` milliseconds (Performance RNN: 10 ms).
    Seconds { step_ms: u16 },
}

/// How instruments are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgramMode {
    /// Every instrument is merged into one piano part (drums are dropped); no PROGRAM tokens.
    MergePiano,
    /// PROGRAM tokens (128 GM programs plus one for drums) select the instrument of the notes
    /// that follow.
    Programs,
}

/// How notes are written as tokens (see the `tokens` module doc for each scheme's grammar).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// Performance events: `NOTE_ON`, `NOTE_OFF`, `SHIFT`, `VELOCITY` (on change), instrument
    /// tokens (on change). A note's end is a separate event, chosen when it ends.
    #[default]
    MidiLike,
    /// Time shift, duration: `SHIFT` between onsets, then per note (`PROGRAM` on change)
    /// `PITCH VELOCITY DURATION`. A note's end is decided when it starts.
    Tsd,
    /// REMI: `BAR` at every bar line (`TIMESIG` after it where the meter changes),
    /// `POSITION` within the bar at each onset, then per note (`PROGRAM` on change)
    /// `PITCH VELOCITY DURATION`. Beats grid only.
    Remi,
}

impl Scheme {
    /// Every scheme, in the order the command line lists them.
    pub const ALL: [Scheme; 3] = [Scheme::MidiLike, Scheme::Tsd, Scheme::Remi];

    /// The scheme's name on the command line and in checkpoints (`midi-like`, `tsd`, `remi`).
    pub fn name(self) -> &'static str {
        match self {
            Scheme::MidiLike => "midi-like",
            Scheme::Tsd => "tsd",
            Scheme::Remi => "remi",
        }
    }

    /// Whether notes carry their length as a DURATION token (TSD, REMI).
    pub fn has_durations(self) -> bool {
        self != Scheme::MidiLike
    }

    fn is_midi_like(&self) -> bool {
        *self == Scheme::MidiLike
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Scheme {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Scheme::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::Tokenizer(TokenizerError::UnknownScheme(s.to_string())))
    }
}

/// Longest note, in grid steps, that a DURATION token can hold (and so the largest
/// `max_note_steps` of the TSD and REMI schemes): keeps the vocabulary well inside `u16`.
pub const MAX_DURATION_STEPS: u32 = 8192;

/// Tokenizer settings. `Default` is the beats grid at 12 steps per quarter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenizerConfig {
    /// How notes become tokens. Absent from configurations written before schemes existed,
    /// which read as `midi-like`, and left out when serializing `midi-like`, so those
    /// configurations keep their digest (cache keys, checkpoint compatibility).
    #[serde(default, skip_serializing_if = "Scheme::is_midi_like")]
    pub scheme: Scheme,
    pub time: TimeMode,
    /// Longest single TIME_SHIFT in steps; longer gaps use several.
    pub max_shift_steps: u16,
    /// Number of velocity bins (1..=128).
    pub velocity_bins: u8,
    /// Lowest and highest encodable pitch (notes outside are dropped by the encoder).
    pub pitch_min: u8,
    pub pitch_max: u8,
    pub programs: ProgramMode,
    /// Apply the sustain pedal to note durations when reading MIDI for this tokenizer.
    pub sustain: bool,
    /// The decoder closes a note still open after this many steps.
    pub max_note_steps: u32,
    /// Key-relative pieces: every piece a model learns from is first moved to C major or A
    /// minor (its key found by `crate::key`), and generated music is moved to the asked key (or
    /// the seed's). The tokens themselves are encoded as without it. Absent (false) in
    /// configurations from before it, and left out when false, so their digests stay.
    #[serde(default, skip_serializing_if = "is_false")]
    pub key_relative: bool,
    /// How many parts one program (or the drum kit) may have, 1..=[`MAX_TRACKS`]: with 2 or
    /// more, instruments that share a program (doubled guitars, two violins) stay apart as
    /// instances of it (`PROGRAM_25`, `PROGRAM_25_TRACK_2`, ...); past the last instance they
    /// merge into it. 1 (the default) merges them all, as configurations written before the
    /// setting did (absent then, and left out when 1, so their digests stay).
    #[serde(default = "one_track", skip_serializing_if = "is_one_track")]
    pub tracks: u8,
    /// The controls every piece states in a prefix after BOS (key, tempo, density,
    /// instruments: see [`super::controls`]). Empty (the default) in configurations written
    /// before controls existed, and left out when empty, so their digests stay.
    #[serde(default, skip_serializing_if = "ControlSet::is_empty")]
    pub controls: ControlSet,
}

/// Most instances of one program a configuration can keep apart (`tracks`).
pub const MAX_TRACKS: u8 = 16;

fn is_false(b: &bool) -> bool {
    !*b
}

fn one_track() -> u8 {
    1
}

fn is_one_track(t: &u8) -> bool {
    *t == 1
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        TokenizerConfig {
            scheme: Scheme::MidiLike,
            time: TimeMode::Beats { steps_per_beat: 12 },
            max_shift_steps: 48,
            velocity_bins: 32,
            pitch_min: 21,
            pitch_max: 108,
            programs: ProgramMode::Programs,
            sustain: true,
            max_note_steps: 12 * 16,
            key_relative: false,
            tracks: 1,
            controls: ControlSet::NONE,
        }
    }
}

impl TokenizerConfig {
    /// Exactly the Performance RNN event layout: 128 NOTE_ON + 128 NOTE_OFF + 100 TIME_SHIFT
    /// (10 ms to 1 s) + 32 VELOCITY = 388 events (plus PAD/BOS/EOS), one merged piano part.
    pub fn performance_rnn() -> Self {
        TokenizerConfig {
            scheme: Scheme::MidiLike,
            time: TimeMode::Seconds { step_ms: 10 },
            max_shift_steps: 100,
            velocity_bins: 32,
            pitch_min: 0,
            pitch_max: 127,
            programs: ProgramMode::MergePiano,
            sustain: true,
            max_note_steps: 500,
            key_relative: false,
            tracks: 1,
            controls: ControlSet::NONE,
        }
    }

    /// Reject settings that cannot work.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |name, value: u32, expected: &str| Err(TokenizerError::setting(name, value, expected).into());
        match self.time {
            TimeMode::Beats { steps_per_beat: 0 } => return bad("steps_per_beat", 0, "> 0"),
            TimeMode::Seconds { step_ms: 0 } => return bad("step_ms", 0, "> 0"),
            _ => {}
        }
        if self.max_shift_steps == 0 {
            return bad("max_shift_steps", 0, "> 0");
        }
        if self.velocity_bins == 0 || self.velocity_bins > 128 {
            return bad("velocity_bins", self.velocity_bins.into(), "in 1..=128");
        }
        if self.pitch_max > 127 {
            return bad("pitch_max", self.pitch_max.into(), "at most 127");
        }
        if self.pitch_min > self.pitch_max {
            return bad(
                "pitch_min",
                self.pitch_min.into(),
                &format!("at most pitch_max ({})", self.pitch_max),
            );
        }
        if self.max_note_steps == 0 {
            return bad("max_note_steps", 0, "> 0");
        }
        if self.tracks == 0 || self.tracks > MAX_TRACKS {
            return bad("tracks", self.tracks.into(), &format!("in 1..={MAX_TRACKS}"));
        }
        if self.tracks > 1 && self.programs == ProgramMode::MergePiano {
            return bad(
                "tracks",
                self.tracks.into(),
                "1 when every instrument is merged into one piano part",
            );
        }
        super::controls::validate(self.controls, self)?;
        if self.scheme.has_durations() && self.max_note_steps > MAX_DURATION_STEPS {
            return bad(
                "max_note_steps",
                self.max_note_steps,
                &format!("at most {MAX_DURATION_STEPS} steps under the {} scheme", self.scheme),
            );
        }
        if self.scheme == Scheme::Remi {
            match self.time {
                TimeMode::Seconds { .. } => {
                    return Err(TokenizerError::Scheme {
                        scheme: self.scheme.to_string(),
                        needs: "needs the beats grid (bars are counted in beats)".into(),
                    }
                    .into())
                }
                TimeMode::Beats { steps_per_beat }
                    if steps_per_beat > super::bars::MAX_REMI_STEPS_PER_BEAT =>
                {
                    return bad(
                        "steps_per_beat",
                        steps_per_beat.into(),
                        &format!("at most {} under the remi scheme", super::bars::MAX_REMI_STEPS_PER_BEAT),
                    )
                }
                TimeMode::Beats { .. } => {}
            }
        }
        Ok(())
    }

    /// A stable digest of the configuration (for cache keys and checkpoint compatibility).
    pub fn digest(&self) -> String {
        let json = serde_json::to_vec(self).expect("config serializes");
        blake3::hash(&json).to_hex()[..16].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_relative_is_absent_from_older_configurations_and_changes_the_digest_when_on() {
        let plain = TokenizerConfig::default();
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("key_relative"), "{json}");
        // A configuration written before the setting existed reads as not key-relative.
        let old: TokenizerConfig = serde_json::from_str(&json).unwrap();
        assert_eq!((old, old.digest()), (plain, plain.digest()));
        let keyed = TokenizerConfig { key_relative: true, ..plain };
        assert_ne!(keyed.digest(), plain.digest(), "key-relative pieces get their own cache entries");
        let back: TokenizerConfig = serde_json::from_str(&serde_json::to_string(&keyed).unwrap()).unwrap();
        assert!(back.key_relative);
    }

    #[test]
    fn tracks_are_absent_from_older_configurations_and_validated() {
        let plain = TokenizerConfig::default();
        assert!(!serde_json::to_string(&plain).unwrap().contains("tracks"));
        let four = TokenizerConfig { tracks: 4, ..plain };
        assert_ne!(four.digest(), plain.digest());
        let back: TokenizerConfig = serde_json::from_str(&serde_json::to_string(&four).unwrap()).unwrap();
        assert_eq!(back.tracks, 4);
        assert!(four.validate().is_ok());
        for bad in [0, MAX_TRACKS + 1] {
            assert!(TokenizerConfig { tracks: bad, ..plain }.validate().is_err(), "{bad}");
        }
        let piano = TokenizerConfig { tracks: 2, programs: ProgramMode::MergePiano, ..plain };
        assert!(piano.validate().unwrap_err().to_string().contains("tracks"));
    }

    #[test]
    fn controls_are_absent_from_older_configurations_and_change_the_digest_when_set() {
        let plain = TokenizerConfig::default();
        assert!(!serde_json::to_string(&plain).unwrap().contains("controls"));
        let keyed = TokenizerConfig { controls: "key,density".parse().unwrap(), ..plain };
        assert_ne!(keyed.digest(), plain.digest());
        let back: TokenizerConfig = serde_json::from_str(&serde_json::to_string(&keyed).unwrap()).unwrap();
        assert_eq!(back, keyed);
    }
}
