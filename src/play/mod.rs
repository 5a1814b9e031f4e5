//! `cadenza play`: hear a MIDI file. The file is laid out by nodi ([`Song`]) and played by a nodi
//! `Player` into one of three outputs:
//!
//! - [`ports`]: a MIDI output port (hardware synth, DAW, FluidSynth) through midir;
//! - [`speakers`]: the built-in SoundFont synth ([`synth`], rustysynth) on the default audio
//!   device through cpal, in real time;
//! - [`render`](mod@render): the same synth rendered offline to a WAV file, as fast as the CPU
//!   allows (a custom nodi `Timer` renders the elapsed time instead of sleeping).
//!
//! [`play_file`] picks and drives one of them from [`PlayOptions`].

#[cfg(feature = "jack")]
mod jack_clock;
#[cfg(feature = "jack")]
pub mod jack_port;
mod live;
pub mod live_ports;
pub mod ports;
mod quiet;
pub mod render;
pub mod song;
pub mod speakers;
pub mod synth;
#[cfg(test)]
pub(crate) mod test_midi;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use midly::num::{u4, u7};
use midly::MidiMessage;
use nodi::{Connection, MidiEvent};

use crate::error::{Error, Result};
use crate::progress::SharedProgress;

pub use render::{render, write_wav, RenderOptions, Rendered, WAV_SAMPLE_RATE};
pub use song::{Clock, Song};
pub use synth::{load_soundfont, Synth};

/// Where the music goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Output {
    /// The default audio device if there is one; otherwise an error pointing at `--wav` and
    /// `--list-ports`.
    #[default]
    Auto,
    /// The built-in synth on the default audio device (an error if there is none).
    Speakers,
    /// A MIDI output port, by index or by (part of its) name.
    Port(String),
    /// The built-in synth rendered offline into this WAV file (44.1 kHz, 16-bit stereo).
    Wav(PathBuf),
}

/// How to play a file.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayOptions {
    /// Where the music goes.
    pub output: Output,
    /// SoundFont for the built-in synth; `None`: [`crate::doctor::find_soundfont`].
    pub soundfont: Option<PathBuf>,
    /// Tempo factor: 2.0 plays twice as fast. Must be positive.
    pub speed: f64,
    /// Seconds of release tail after the last event (notes and reverb ring out).
    pub tail: f64,
    /// Told the playback (or rendering) position; `None`: nothing is reported.
    pub progress: Option<SharedProgress>,
}

impl Default for PlayOptions {
    fn default() -> Self {
        PlayOptions { output: Output::Auto, soundfont: None, speed: 1.0, tail: 1.5, progress: None }
    }
}

/// How playback ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PlayOutcome {
    /// Played to the end; `seconds` of music (at the chosen speed, without the tail).
    Finished { seconds: f64 },
    /// Stopped by Ctrl-C after `seconds`; all notes were turned off. Nothing was written.
    Stopped { seconds: f64 },
    /// Rendered to `path`: `seconds` of music plus `tail` seconds of release.
    Rendered { path: PathBuf, seconds: f64, tail: f64 },
}

/// The one-line hint given when no output was chosen and there is no audio device.
pub const NO_OUTPUT_HINT: &str = "no audio output device found; render to a file with \
`--wav OUT.wav`, or play through a MIDI synth with `--port NAME` (see `--list-ports`)";

/// Play (or render) the MIDI file at `path` as `opts` says. This is the library entry point of
/// `cadenza play`, also used by `generate --play`.
///
/// Blocks until the music ends (real-time outputs) or the WAV is written. Ctrl-C stops
/// real-time playback cleanly (all notes off) and returns [`PlayOutcome::Stopped`].
pub fn play_file(path: &Path, opts: &PlayOptions) -> Result<PlayOutcome> {
    check_options(opts)?;
    let song = Song::load(path)?;
    match &opts.output {
        Output::Wav(out) => {
            let sf = load_soundfont(&soundfont_path(opts)?)?;
            let mut synth = Synth::new(&sf, WAV_SAMPLE_RATE)?;
            let ropts = RenderOptions {
                speed: opts.speed,
                tail: opts.tail,
                progress: opts.progress.clone(),
                stop: Some(stop_flag()),
            };
            if let Some(stop) = &ropts.stop {
                stop.store(false, Ordering::SeqCst);
            }
            render::render_to_wav(&song, &mut synth, out, &ropts)
        }
        Output::Port(spec) => {
            let con = ports::connect_any(spec)?;
            live::play(&song, con, opts, stop_flag(), |_| {})
        }
        Output::Speakers | Output::Auto => {
            let device = match speakers::Device::open_default() {
                Ok(d) => d,
                Err(_) if opts.output == Output::Auto => return Err(failure("play", NO_OUTPUT_HINT)),
                Err(e) => return Err(e),
            };
            let sf = load_soundfont(&soundfont_path(opts)?)?;
            let speakers = device.start(&sf)?;
            let tail = opts.tail;
            // Let the release tail ring out through the speakers before the stream closes.
            live::play(&song, speakers.connection(), opts, stop_flag(), |stop| {
                live::wait(Duration::from_secs_f64(tail), stop);
            })
        }
    }
}

/// Play the MIDI file at `path` to the MIDI port `spec` (ALSA, or JACK with `jack:`) on a thread
/// of its own, for a server that must not block (the studio's "send to port"). The file is read
/// and the port connected before this returns, so their errors come back at once; the thread
/// gives the outcome. Ctrl-C is not watched (the caller's process keeps its own handling).
pub fn play_to_port_in_background(
    path: &Path,
    spec: &str,
    opts: &PlayOptions,
) -> Result<(f64, std::thread::JoinHandle<Result<PlayOutcome>>)> {
    check_options(opts)?;
    let song = Song::load(path)?;
    let seconds = song.duration_secs(opts.speed);
    let con = ports::connect_any(spec)?;
    let opts = opts.clone();
    let stop = Arc::new(AtomicBool::new(false));
    Ok((seconds, std::thread::spawn(move || live::play(&song, con, &opts, stop, |_| {}))))
}

fn check_options(opts: &PlayOptions) -> Result<()> {
    if !(opts.speed.is_finite() && opts.speed > 0.0) {
        return Err(failure("--speed", format!("must be a positive number, not {}", opts.speed)));
    }
    if !(opts.tail.is_finite() && (0.0..=600.0).contains(&opts.tail)) {
        return Err(failure("--tail", format!("must be between 0 and 600 seconds, not {}", opts.tail)));
    }
    Ok(())
}

/// The SoundFont to use: the one asked for, or the first one found on this machine.
pub fn soundfont_path(opts: &PlayOptions) -> Result<PathBuf> {
    match &opts.soundfont {
        Some(p) => Ok(p.clone()),
        None => crate::doctor::find_soundfont().ok_or_else(|| {
            failure(
                "SoundFont",
                "none found; install timgm6mb-soundfont, set CADENZA_SOUNDFONT or pass --soundfont PATH",
            )
        }),
    }
}

/// A playback error about `subject` (a path, a device, an option), rendered on one line.
pub(crate) fn failure(subject: impl std::fmt::Display, reason: impl Into<String>) -> Error {
    Error::Play { subject: subject.to_string(), reason: reason.into() }
}

/// Turn all notes off on all 16 channels: CC123 (all notes off, notes release normally) and,
/// when `immediate`, CC120 (all sound off, silence now).
pub fn silence<C: Connection + ?Sized>(con: &mut C, immediate: bool) {
    for ch in 0..16u8 {
        let cc = |controller: u8| MidiEvent {
            channel: u4::new(ch),
            message: MidiMessage::Controller { controller: u7::new(controller), value: u7::new(0) },
        };
        con.play(cc(123));
        if immediate {
            con.play(cc(120));
        }
    }
}

/// The process-wide Ctrl-C flag, with the handler installed on first use (ctrlc allows one
/// handler per process). The first Ctrl-C raises the flag (a clean stop); a second one while the
/// flag is still up exits at once with status 130. Returns `None` if no handler can be installed.
fn ctrl_c_flag() -> Option<Arc<AtomicBool>> {
    static FLAG: OnceLock<Option<Arc<AtomicBool>>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = Arc::clone(&flag);
        let handler = move || {
            if f.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        };
        ctrlc::set_handler(handler).ok().map(|()| flag)
    })
    .clone()
}

/// The Ctrl-C flag, or a flag nobody raises if no handler could be installed.
fn stop_flag() -> Arc<AtomicBool> {
    ctrl_c_flag().unwrap_or_default()
}

/// A connection that refuses further events (so nodi's player stops) once `stop` is set.
#[derive(Debug)]
pub struct Stoppable<C> {
    /// The wrapped connection.
    pub inner: C,
    stop: Arc<AtomicBool>,
}

impl<C> Stoppable<C> {
    /// Wrap `inner`; playback stops when `stop` becomes true.
    pub fn new(inner: C, stop: Arc<AtomicBool>) -> Self {
        Stoppable { inner, stop }
    }

    /// Whether a stop was asked for.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

impl<C: Connection> Connection for Stoppable<C> {
    fn play(&mut self, event: MidiEvent) -> bool {
        !self.stopped() && self.inner.play(event)
    }

    fn all_notes_off(&mut self) {
        silence(&mut self.inner, true);
    }
}

/// Playback position reported as milliseconds done of the total, with `label m:ss / m:ss` as
/// the note.
pub(crate) struct Progress {
    to: Option<SharedProgress>,
    label: String,
}

impl Progress {
    pub(crate) fn new(to: Option<SharedProgress>, label: &str, total_secs: f64) -> Progress {
        let p = Progress { to, label: label.to_string() };
        p.set(0.0, total_secs);
        p
    }

    pub(crate) fn set(&self, secs: f64, total_secs: f64) {
        if let Some(to) = &self.to {
            let secs = secs.min(total_secs);
            let note = format!("{} {} / {}", self.label, clock_time(secs), clock_time(total_secs));
            to.0.update((secs * 1000.0) as u64, (total_secs * 1000.0).max(1.0) as u64, &note);
        }
    }

    pub(crate) fn finish(&self) {}
}

/// `m:ss` (or `h:mm:ss`).
pub(crate) fn clock_time(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;

    /// The installed GM SoundFont, parsed once for all tests; `None` (with a skip message) if
    /// there is none, except under CI where that is a failure.
    pub(crate) fn soundfont() -> Option<Arc<rustysynth::SoundFont>> {
        static SF: OnceLock<Option<Arc<rustysynth::SoundFont>>> = OnceLock::new();
        let sf = SF
            .get_or_init(|| {
                crate::doctor::find_soundfont()
                    .map(|p| load_soundfont(&p).expect("installed SoundFont loads"))
            })
            .clone();
        if sf.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "no SoundFont installed (scripts/setup.sh installs one)"
            );
            eprintln!("skipped: no SoundFont installed");
        }
        sf
    }

    use crate::play::test_midi::Recorder;

    #[test]
    fn silence_sends_cc123_and_cc120_on_all_channels() {
        let mut r = Recorder::default();
        silence(&mut r, true);
        let mut seen: Vec<(u8, u8)> =
            r.0.iter()
                .map(|e| match e.message {
                    MidiMessage::Controller { controller, value } => {
                        assert_eq!(value.as_int(), 0);
                        (u8::from(e.channel), controller.as_int())
                    }
                    other => panic!("unexpected {other:?}"),
                })
                .collect();
        seen.sort_unstable();
        let want: Vec<(u8, u8)> = (0..16).flat_map(|c| [(c, 120), (c, 123)]).collect();
        assert_eq!(seen, want);
        let mut r = Recorder::default();
        silence(&mut r, false);
        assert_eq!(r.0.len(), 16);
    }

    #[test]
    fn stoppable_refuses_events_once_stopped() {
        let flag = Arc::new(AtomicBool::new(false));
        let mut s = Stoppable::new(Recorder::default(), Arc::clone(&flag));
        let ev =
            MidiEvent { channel: u4::new(0), message: MidiMessage::ProgramChange { program: u7::new(1) } };
        assert!(s.play(ev));
        flag.store(true, Ordering::SeqCst);
        assert!(!s.play(ev));
        assert_eq!(s.inner.0.len(), 1);
    }

    #[test]
    fn bad_options_are_rejected_before_anything_runs() {
        for (speed, tail) in [(0.0, 1.0), (-1.0, 1.0), (f64::NAN, 1.0), (1.0, -0.5), (1.0, f64::INFINITY)] {
            let opts = PlayOptions { speed, tail, ..PlayOptions::default() };
            let e = play_file(Path::new("/nonexistent.mid"), &opts).unwrap_err().to_string();
            assert!(e.starts_with("--speed") || e.starts_with("--tail"), "{e}");
        }
    }

    #[test]
    fn invalid_file_is_one_line_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("broken.mid");
        std::fs::write(&p, b"MThd\0\0\0\x06garbage").unwrap();
        let opts = PlayOptions { output: Output::Wav(dir.path().join("o.wav")), ..PlayOptions::default() };
        let e = play_file(&p, &opts).unwrap_err().to_string();
        assert!(e.contains("broken.mid") && !e.contains('\n'), "{e}");
        assert!(!dir.path().join("o.wav").exists());
    }

    #[test]
    fn missing_soundfont_path_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let mid = dir.path().join("a.mid");
        std::fs::write(&mid, test_midi::single_track(480, &[], &[(0, 0, 69, 480)], 0)).unwrap();
        let out = dir.path().join("a.wav");
        let opts = PlayOptions {
            output: Output::Wav(out.clone()),
            soundfont: Some(dir.path().join("missing.sf2")),
            progress: None,
            ..PlayOptions::default()
        };
        let e = play_file(&mid, &opts).unwrap_err().to_string();
        assert!(e.contains("missing.sf2") && !e.contains('\n'), "{e}");
        assert!(!out.exists());
    }

    #[test]
    fn clock_time_formats() {
        assert_eq!(clock_time(0.0), "0:00");
        assert_eq!(clock_time(61.4), "1:01");
        assert_eq!(clock_time(3725.0), "1:02:05");
    }
}
