//! A MIDI file ready for playback: nodi's tick-by-tick [`Sheet`] plus the clock that turns ticks
//! into seconds (tempo changes, SMPTE time, the `--speed` factor).

use std::path::{Path, PathBuf};

use midly::{Format, Smf, Timing};
use nodi::{Event, Sheet};

use crate::error::{Error, MidiProblem, Result};

/// Tempo before a file's first tempo event: 120 bpm, as the MIDI standard says.
pub const DEFAULT_MICROS_PER_BEAT: u32 = 500_000;

/// Longest file (in ticks) that is turned into a [`Sheet`]; nodi keeps one entry per tick, so a
/// file with an absurd delta time would otherwise take gigabytes.
pub const MAX_TICKS: usize = 8 << 20;

/// A parsed MIDI file, laid out for nodi's [`Player`](nodi::Player).
#[derive(Debug, Clone)]
pub struct Song {
    path: PathBuf,
    timing: Timing,
    sheet: Sheet,
}

impl Song {
    /// Read and parse the MIDI file at `path`.
    pub fn load(path: &Path) -> Result<Song> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Song::from_bytes(path, &bytes)
    }

    /// Parse `bytes`; `path` only names the file in errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Song> {
        let smf =
            Smf::parse(bytes).map_err(|e| Error::invalid_midi(path, MidiProblem::Parse(e.to_string())))?;
        match smf.header.timing {
            Timing::Metrical(tpb) if u16::from(tpb) == 0 => {
                return Err(Error::invalid_midi(path, MidiProblem::ZeroTicksPerBeat));
            }
            Timing::Timecode(_, 0) => return Err(Error::invalid_midi(path, MidiProblem::ZeroTicksPerFrame)),
            _ => {}
        }
        let track_ticks =
            |t: &Vec<midly::TrackEvent<'_>>| -> usize { t.iter().map(|e| u32::from(e.delta) as usize).sum() };
        let ticks = match smf.header.format {
            Format::Sequential => smf.tracks.iter().map(track_ticks).sum(),
            _ => smf.tracks.iter().map(track_ticks).max().unwrap_or(0),
        };
        if ticks > MAX_TICKS {
            return Err(Error::invalid_midi(path, MidiProblem::TooLongToPlay { ticks, max: MAX_TICKS }));
        }
        let sheet = match smf.header.format {
            Format::Sequential => Sheet::sequential(&smf.tracks),
            // Format 0 files are played like format 1: a file that says "single track" but
            // holds several is still played in full.
            Format::SingleTrack | Format::Parallel => Sheet::parallel(&smf.tracks),
        };
        Ok(Song { path: path.to_path_buf(), timing: smf.header.timing, sheet })
    }

    /// The file this song was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's time division.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// The events, one [`nodi::Moment`] per tick.
    pub fn sheet(&self) -> &Sheet {
        &self.sheet
    }

    /// A clock at the song's initial state (120 bpm for metrical files), played `speed` times
    /// faster than written.
    pub fn clock(&self, speed: f64) -> Clock {
        Clock::new(self.timing, speed)
    }

    /// Ticks from the song's last event to its end (the end-of-track marker), which nodi's
    /// player does not wait for.
    pub fn trailing_ticks(&self) -> u32 {
        let last_event = self.sheet.iter().rposition(|m| !m.is_empty()).unwrap_or(0);
        let ticks = self.sheet.len().saturating_sub(1).saturating_sub(last_event);
        u32::try_from(ticks).unwrap_or(u32::MAX)
    }

    /// Length in seconds at `speed`, from the start to the end of the longest track, following
    /// the player's timing exactly (a tempo event takes effect at its own tick).
    pub fn duration_secs(&self, speed: f64) -> f64 {
        let mut clock = self.clock(speed);
        let mut total = 0.0;
        let mut counter = 0u32;
        for moment in self.sheet.iter() {
            if !moment.is_empty() {
                total += clock.seconds(counter);
                counter = 0;
                for event in moment.iter() {
                    if let Event::Tempo(t) = event {
                        clock.change_tempo(*t);
                    }
                }
            }
            counter += 1;
        }
        total + clock.seconds(self.trailing_ticks())
    }
}

/// Turns ticks into seconds under the current tempo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// `Some(ticks per beat)` for metrical time; `None` for SMPTE time (tempo events ignored).
    ticks_per_beat: Option<f64>,
    seconds_per_tick: f64,
    speed: f64,
}

impl Clock {
    /// A clock for `timing` at 120 bpm, running `speed` times faster than written (a
    /// non-positive or non-finite speed counts as 1).
    pub fn new(timing: Timing, speed: f64) -> Clock {
        let speed = if speed.is_finite() && speed > 0.0 { speed } else { 1.0 };
        match timing {
            Timing::Metrical(tpb) => {
                let tpb = f64::from(u16::from(tpb).max(1));
                Clock {
                    ticks_per_beat: Some(tpb),
                    seconds_per_tick: f64::from(DEFAULT_MICROS_PER_BEAT) / 1e6 / tpb,
                    speed,
                }
            }
            Timing::Timecode(fps, per_frame) => Clock {
                ticks_per_beat: None,
                seconds_per_tick: 1.0 / (f64::from(fps.as_f32()) * f64::from(per_frame.max(1))),
                speed,
            },
        }
    }

    /// Apply a tempo event (microseconds per quarter note).
    pub fn change_tempo(&mut self, micros_per_beat: u32) {
        if let Some(tpb) = self.ticks_per_beat {
            self.seconds_per_tick = f64::from(micros_per_beat.max(1)) / 1e6 / tpb;
        }
    }

    /// Seconds that `ticks` ticks last at the current tempo and speed.
    pub fn seconds(&self, ticks: u32) -> f64 {
        f64::from(ticks) * self.seconds_per_tick / self.speed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::play::test_midi;

    #[test]
    fn no_tempo_event_means_120_bpm() {
        // 96 ticks per beat, notes ending at tick 384 = 4 beats = 2.0 s at 120 bpm.
        let bytes = test_midi::single_track(96, &[], &[(0, 0, 60, 384)], 0);
        let song = Song::from_bytes(Path::new("t.mid"), &bytes).unwrap();
        assert!((song.duration_secs(1.0) - 2.0).abs() < 1e-9, "{}", song.duration_secs(1.0));
        assert!((song.duration_secs(2.0) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn tempo_changes_are_followed() {
        // 480 tpb: 2 beats at 0.5 s, 2 beats at 0.25 s, 2 beats at 1 s = 3.5 s.
        let tempos = [(0, 500_000), (960, 250_000), (1920, 1_000_000)];
        let bytes = test_midi::single_track(480, &tempos, &[(0, 0, 60, 2880)], 0);
        let song = Song::from_bytes(Path::new("t.mid"), &bytes).unwrap();
        assert!((song.duration_secs(1.0) - 3.5).abs() < 1e-6, "{}", song.duration_secs(1.0));
    }

    #[test]
    fn silence_after_the_last_note_counts() {
        // The note ends at tick 480 but the track ends at 960: 1.0 s at 120 bpm.
        let bytes = test_midi::single_track(480, &[], &[(0, 0, 60, 480)], 480);
        let song = Song::from_bytes(Path::new("t.mid"), &bytes).unwrap();
        assert_eq!(song.trailing_ticks(), 480);
        assert!((song.duration_secs(1.0) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn smpte_time_ignores_tempo() {
        let mut c = Clock::new(Timing::Timecode(midly::Fps::Fps25, 40), 1.0);
        assert!((c.seconds(1000) - 1.0).abs() < 1e-12);
        c.change_tempo(1_000_000);
        assert!((c.seconds(1000) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn garbage_is_an_error_naming_the_file() {
        let e = Song::from_bytes(Path::new("dir/bad.mid"), b"not a midi file").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("dir/bad.mid") && !msg.contains('\n'), "{msg}");
        let e = Song::load(Path::new("/nonexistent/x.mid")).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/x.mid"), "{e}");
    }
}
