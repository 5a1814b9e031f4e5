//! Piano-roll features: a piece's notes on the canonical beats grid ([`crate::tokens`]'s
//! quantization, all instruments merged into one part) and fixed-size windows of it as two
//! channels over pitch x time: "sounding" (1 while a note is held) and "onset" (1 where it
//! starts), with optional transposition.

use serde::{Deserialize, Serialize};

use super::error::ClassifyError;
use crate::tokens::{ProgramMode, Scheme, TimeMode, Tokenizer, TokenizerConfig};
use crate::Piece;

/// The input channels of a window: sounding notes, then onsets.
pub const CHANNELS: usize = 2;

/// How pieces become piano-roll windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollConfig {
    /// Grid steps per quarter note (the beats grid of the tokenizers).
    pub steps_per_beat: u16,
    /// Lowest and highest pitch of the roll (notes outside are dropped).
    pub pitch_min: u8,
    pub pitch_max: u8,
    /// Window length in beats.
    pub window_beats: u16,
    /// Apply the sustain pedal to note lengths when reading MIDI.
    pub sustain: bool,
}

impl Default for RollConfig {
    /// 4 steps per beat (sixteenth notes), pitches 24..=107 (84 rows), windows of 16 beats.
    fn default() -> Self {
        RollConfig { steps_per_beat: 4, pitch_min: 24, pitch_max: 107, window_beats: 16, sustain: true }
    }
}

impl RollConfig {
    /// Check that the settings make a roll.
    pub fn validate(&self) -> Result<(), ClassifyError> {
        let bad = |name, value: u32, expected: &str| Err(ClassifyError::setting(name, value, expected));
        if self.steps_per_beat == 0 || self.steps_per_beat > 48 {
            return bad("steps per beat", self.steps_per_beat.into(), "in 1..=48");
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
        if self.window_beats == 0 || self.window_beats > 256 {
            return bad("window", self.window_beats.into(), "1..=256 beats");
        }
        Ok(())
    }

    /// Rows of the roll.
    pub fn pitches(&self) -> usize {
        usize::from(self.pitch_max - self.pitch_min) + 1
    }

    /// Columns of a window.
    pub fn window_steps(&self) -> usize {
        usize::from(self.window_beats) * usize::from(self.steps_per_beat)
    }

    /// Values in one window: channels x pitches x steps.
    pub fn window_len(&self) -> usize {
        CHANNELS * self.pitches() * self.window_steps()
    }

    /// The tokenizer configuration whose grid quantizes the notes (the one recorded in the
    /// checkpoint header): the beats grid, one merged part, this pitch range.
    pub fn tokenizer_config(&self) -> TokenizerConfig {
        TokenizerConfig {
            scheme: Scheme::MidiLike,
            time: TimeMode::Beats { steps_per_beat: self.steps_per_beat },
            pitch_min: self.pitch_min,
            pitch_max: self.pitch_max,
            programs: ProgramMode::MergePiano,
            sustain: self.sustain,
            max_note_steps: u32::from(self.steps_per_beat) * 16,
            ..TokenizerConfig::default()
        }
    }

    /// The tokenizer of [`RollConfig::tokenizer_config`].
    pub fn tokenizer(&self) -> Result<Tokenizer, ClassifyError> {
        self.validate()?;
        Tokenizer::new(self.tokenizer_config())
            .map_err(|e| ClassifyError::setting("grid", e, "a valid tokenizer grid"))
    }
}

/// One note on the grid: roll row (pitch - `pitch_min`), start and end step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollNote {
    pub row: u8,
    pub start: u32,
    pub end: u32,
}

/// A whole piece on the grid, sorted by start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Roll {
    pub notes: Vec<RollNote>,
    /// The step after the last note ends.
    pub steps: u32,
}

impl Roll {
    /// `piece` quantized by `tokenizer` (from [`RollConfig::tokenizer`]).
    pub fn of(piece: &Piece, tokenizer: &Tokenizer) -> Roll {
        let q = tokenizer.quantize(piece);
        let (_, ticks_per_step) = tokenizer.decoded_resolution(&Default::default());
        let pitch_min = tokenizer.config().pitch_min;
        let step = |tick: u64| u32::try_from(tick / ticks_per_step.max(1)).unwrap_or(u32::MAX / 2);
        let mut notes: Vec<RollNote> = q
            .instruments
            .iter()
            .flat_map(|i| i.notes.iter())
            .map(|n| RollNote { row: n.pitch - pitch_min, start: step(n.start), end: step(n.end) })
            .collect();
        notes.sort_unstable_by_key(|n| (n.start, n.row, n.end));
        let steps = notes.iter().map(|n| n.end).max().unwrap_or(0);
        Roll { notes, steps }
    }

    /// Where the windows of an evaluation start: every half window from step 0 while a window
    /// still begins before the end (at least one window, zero-padded, for a short piece).
    pub fn window_starts(&self, cfg: &RollConfig) -> Vec<u32> {
        let w = cfg.window_steps() as u32;
        let hop = (w / 2).max(1);
        let last = self.steps.saturating_sub(w);
        let mut out: Vec<u32> = (0..=last).step_by(hop as usize).collect();
        if out.last().is_some_and(|&s| s < last) {
            out.push(last);
        }
        out
    }

    /// The highest window start a random training window may take (aligned to beats).
    pub fn max_start_beat(&self, cfg: &RollConfig) -> u32 {
        self.steps.saturating_sub(cfg.window_steps() as u32) / u32::from(cfg.steps_per_beat)
    }

    /// Write the window starting at `start`, transposed by `transpose` semitones (notes pushed
    /// out of the range are dropped), into `out` (length [`RollConfig::window_len`], laid out
    /// channel, pitch, step; overwritten).
    pub fn window_into(&self, cfg: &RollConfig, start: u32, transpose: i8, out: &mut [f32]) {
        let (rows, steps) = (cfg.pitches(), cfg.window_steps());
        out.fill(0.0);
        let end = start.saturating_add(steps as u32);
        let onset_base = rows * steps;
        // Notes are sorted by start; none starting at or after `end` can show.
        let upto = self.notes.partition_point(|n| n.start < end);
        for n in &self.notes[..upto] {
            if n.end <= start {
                continue;
            }
            let row = i32::from(n.row) + i32::from(transpose);
            if row < 0 || row >= rows as i32 {
                continue;
            }
            let base = row as usize * steps;
            let a = n.start.max(start) - start;
            let b = n.end.min(end) - start;
            out[base + a as usize..base + b as usize].fill(1.0);
            if n.start >= start {
                out[onset_base + base + (n.start - start) as usize] = 1.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{Instrument, Note};

    fn piece(notes: &[(u8, u64, u64)]) -> Piece {
        let mut p = Piece::new(480);
        let notes =
            notes.iter().map(|&(pitch, start, end)| Note { start, end, pitch, velocity: 80 }).collect();
        p.instruments.push(Instrument { program: 0, channel: 0, is_drum: false, name: "x".into(), notes });
        p.normalize();
        p
    }

    fn small() -> RollConfig {
        RollConfig { steps_per_beat: 2, pitch_min: 60, pitch_max: 63, window_beats: 2, sustain: false }
    }

    #[test]
    fn notes_land_on_the_grid_and_out_of_range_pitches_are_dropped() {
        let cfg = small();
        let t = cfg.tokenizer().unwrap();
        // An eighth note (240 ticks) is one step at 2 steps per beat; 250 rounds to 1 too.
        let r = Roll::of(&piece(&[(60, 0, 480), (62, 250, 480), (70, 0, 480)]), &t);
        assert_eq!(
            r.notes,
            vec![RollNote { row: 0, start: 0, end: 2 }, RollNote { row: 2, start: 1, end: 2 }]
        );
        assert_eq!(r.steps, 2);
    }

    #[test]
    fn windows_hold_sounding_and_onset_channels() {
        let cfg = small();
        let r = Roll {
            notes: vec![RollNote { row: 0, start: 0, end: 3 }, RollNote { row: 3, start: 2, end: 6 }],
            steps: 6,
        };
        let mut w = vec![9.0; cfg.window_len()];
        r.window_into(&cfg, 1, 0, &mut w);
        // 4 rows x 4 steps per channel; window covers steps 1..5.
        let sounding = &w[..16];
        let onset = &w[16..];
        assert_eq!(&sounding[0..4], &[1.0, 1.0, 0.0, 0.0]);
        assert_eq!(&sounding[12..16], &[0.0, 1.0, 1.0, 1.0]);
        assert_eq!(onset.iter().sum::<f32>(), 1.0, "the first note started before the window");
        assert_eq!(onset[12 + 1], 1.0);
        // Up a semitone the top note leaves the range.
        r.window_into(&cfg, 1, 1, &mut w);
        assert_eq!(&w[4..8], &[1.0, 1.0, 0.0, 0.0]);
        assert_eq!(w[..16].iter().sum::<f32>(), 2.0);
    }

    #[test]
    fn evaluation_windows_cover_the_piece() {
        let cfg = small();
        let mut r = Roll { notes: Vec::new(), steps: 11 };
        assert_eq!(r.window_starts(&cfg), vec![0, 2, 4, 6, 7]);
        r.steps = 3;
        assert_eq!(r.window_starts(&cfg), vec![0]);
        assert!(RollConfig { window_beats: 0, ..cfg }.validate().is_err());
    }
}
