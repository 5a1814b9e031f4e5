//! Tokenizer settings as a user states them (`--tokenizer tsd --steps-per-beat 12 ...` on the
//! command line, keyword arguments in Python), and the [`TokenizerConfig`] they stand for: one
//! place that turns the user's words into a configuration, whoever asks.

use super::config::{ProgramMode, Scheme, TimeMode, TokenizerConfig};
use super::controls::ControlSet;

/// Which time grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grid {
    /// Steps per quarter note: follows the score.
    Beats,
    /// Fixed steps in milliseconds (the Performance RNN layout).
    Seconds,
}

/// Tokenizer settings with the command line's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenizerSettings {
    pub scheme: Scheme,
    pub grid: Grid,
    /// Steps per quarter note on the beats grid.
    pub steps_per_beat: u16,
    /// Step length on the seconds grid.
    pub step_ms: u16,
    /// Longest single TIME_SHIFT in steps (`None`: 4 beats, or 1 s on the seconds grid).
    pub max_shift: Option<u16>,
    pub velocity_bins: u8,
    /// One piano part, drums dropped, no PROGRAM tokens.
    pub merge_piano: bool,
    /// Parts kept apart per program.
    pub tracks: u8,
    /// Apply the sustain pedal to note lengths.
    pub sustain: bool,
    /// Key-relative pieces.
    pub transpose_to_key: bool,
    pub controls: ControlSet,
}

impl Default for TokenizerSettings {
    fn default() -> Self {
        TokenizerSettings {
            scheme: Scheme::Tsd,
            grid: Grid::Beats,
            steps_per_beat: 12,
            step_ms: 10,
            max_shift: None,
            velocity_bins: 32,
            merge_piano: false,
            tracks: 1,
            sustain: true,
            transpose_to_key: false,
            controls: ControlSet::default(),
        }
    }
}

impl TokenizerSettings {
    /// The configuration these settings stand for (checked when a tokenizer is built from it).
    pub fn config(&self) -> TokenizerConfig {
        let base = match self.grid {
            Grid::Beats => TokenizerConfig {
                time: TimeMode::Beats { steps_per_beat: self.steps_per_beat },
                max_shift_steps: self.max_shift.unwrap_or(self.steps_per_beat.saturating_mul(4)),
                max_note_steps: u32::from(self.steps_per_beat) * 16,
                ..TokenizerConfig::default()
            },
            Grid::Seconds => TokenizerConfig {
                time: TimeMode::Seconds { step_ms: self.step_ms },
                max_shift_steps: self.max_shift.unwrap_or((1000 / self.step_ms.max(1)).max(1)),
                max_note_steps: 5000 / u32::from(self.step_ms.max(1)),
                ..TokenizerConfig::performance_rnn()
            },
        };
        TokenizerConfig {
            scheme: self.scheme,
            velocity_bins: self.velocity_bins,
            programs: if self.merge_piano { ProgramMode::MergePiano } else { base.programs },
            sustain: self.sustain,
            key_relative: self.transpose_to_key,
            tracks: self.tracks,
            controls: self.controls,
            ..base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_beats_grid_at_12_steps_and_the_seconds_grid_is_performance_rnns() {
        let c = TokenizerSettings::default().config();
        assert_eq!(c.time, TimeMode::Beats { steps_per_beat: 12 });
        assert_eq!((c.max_shift_steps, c.max_note_steps, c.scheme), (48, 192, Scheme::Tsd));
        let s = TokenizerSettings { grid: Grid::Seconds, merge_piano: true, ..Default::default() }.config();
        assert_eq!(s.time, TimeMode::Seconds { step_ms: 10 });
        assert_eq!((s.max_shift_steps, s.max_note_steps, s.programs), (100, 500, ProgramMode::MergePiano));
    }
}
