//! Real-time playback: a nodi `Timer` that sleeps on the wall clock (in short steps, so Ctrl-C
//! and the progress line stay responsive) and the loop shared by the port and speaker outputs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nodi::{Connection, Player, Timer};

use super::{silence, PlayOptions, PlayOutcome, Progress, Song, Stoppable};
use crate::error::Result;

/// Longest single sleep; bounds the reaction time to Ctrl-C.
const STEP: Duration = Duration::from_millis(15);

/// Sleep for `d`, in steps, returning early (false) once `stop` is set.
pub(crate) fn wait(d: Duration, stop: &AtomicBool) -> bool {
    wait_until(Instant::now() + d, stop, |_| {})
}

fn wait_until(deadline: Instant, stop: &AtomicBool, mut tick: impl FnMut(Instant)) -> bool {
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        let Some(left) = deadline.checked_duration_since(now).filter(|d| !d.is_zero()) else {
            return true;
        };
        tick(now);
        if left > STEP + STEP {
            std::thread::sleep(STEP);
        } else {
            // nodi's hybrid sleep spins the last few milliseconds for precise note timing.
            nodi::timers::sleep(left);
            return !stop.load(Ordering::SeqCst);
        }
    }
}

/// A wall-clock [`Timer`] that follows the song's tempo and speed.
struct LiveTimer {
    clock: super::Clock,
    /// Wall-clock time of the song's start (set on the first sleep).
    start: Option<Instant>,
    /// Song position (seconds at the chosen speed) the player has been told to reach.
    pos: f64,
    total: f64,
    stop: Arc<AtomicBool>,
    progress: Progress,
}

impl LiveTimer {
    fn wait_ticks(&mut self, n_ticks: u32) {
        let start = *self.start.get_or_insert_with(Instant::now);
        self.pos += self.clock.seconds(n_ticks);
        let deadline = start + Duration::from_secs_f64(self.pos);
        let (progress, total) = (&self.progress, self.total);
        wait_until(deadline, &self.stop, |now| progress.set((now - start).as_secs_f64(), total));
    }

    /// Seconds of music actually played.
    fn played(&self) -> f64 {
        self.start.map_or(0.0, |s| s.elapsed().as_secs_f64().min(self.pos))
    }
}

impl Timer for &mut LiveTimer {
    fn sleep_duration(&mut self, n_ticks: u32) -> Duration {
        Duration::from_secs_f64(self.clock.seconds(n_ticks))
    }

    fn change_tempo(&mut self, tempo: u32) {
        self.clock.change_tempo(tempo);
    }

    fn sleep(&mut self, n_ticks: u32) {
        self.wait_ticks(n_ticks);
    }
}

/// Play `song` into `con` in real time. After the last event, notes are released (CC123) and
/// `after` runs (e.g. to let the release tail sound); on Ctrl-C all sound stops at once (CC123 +
/// CC120 on every channel).
///
/// `stop` is the Ctrl-C flag (`ctrl_c_flag()` in [`super::play_file`]); it is cleared first.
pub(crate) fn play<C: Connection>(
    song: &Song,
    con: C,
    opts: &PlayOptions,
    stop: Arc<AtomicBool>,
    after: impl FnOnce(&AtomicBool),
) -> Result<PlayOutcome> {
    stop.store(false, Ordering::SeqCst);
    // Real-time scheduling where the system allows it, as JACK clients have, so that a busy
    // machine delays the messages less.
    crate::live::player::try_realtime_priority();
    let total = song.duration_secs(opts.speed);
    let name = song
        .path()
        .file_name()
        .map_or_else(|| song.path().display().to_string(), |n| n.to_string_lossy().into_owned());
    let mut timer = LiveTimer {
        clock: song.clock(opts.speed),
        start: None,
        pos: 0.0,
        total,
        stop: Arc::clone(&stop),
        progress: Progress::new(opts.progress.clone(), &name, total),
    };
    let mut player = Player::new(&mut timer, Stoppable::new(con, Arc::clone(&stop)));
    let played_through = player.play(song.sheet());
    let mut con = player.con;
    if played_through {
        timer.wait_ticks(song.trailing_ticks());
    }
    let outcome = if con.stopped() {
        silence(&mut con.inner, true);
        PlayOutcome::Stopped { seconds: timer.played() }
    } else {
        silence(&mut con.inner, false);
        after(&stop);
        if stop.load(Ordering::SeqCst) {
            silence(&mut con.inner, true);
        }
        PlayOutcome::Finished { seconds: total }
    };
    timer.progress.finish();
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::play::synth::Shared;
    use crate::play::test_midi;
    use midly::MidiMessage;
    use std::path::Path;

    use crate::play::test_midi::Recorder;

    #[test]
    fn a_stop_ends_playback_with_all_sound_off() {
        // A 1000 s note; the stop flag is raised from another thread shortly after the start.
        let bytes = test_midi::single_track(480, &[], &[(0, 0, 60, 960_000)], 0);
        let song = Song::from_bytes(Path::new("t.mid"), &bytes).unwrap();
        let rec = Shared::<Recorder>::default();
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let raiser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            s.store(true, Ordering::SeqCst);
        });
        let opts = PlayOptions { progress: None, ..PlayOptions::default() };
        let out = play(&song, rec.clone(), &opts, stop, |_| {}).unwrap();
        raiser.join().unwrap();
        assert!(matches!(out, PlayOutcome::Stopped { seconds } if seconds < 100.0), "{out:?}");
        let rec = rec.0.borrow();
        let cc = |n: u8| {
            rec.0
                .iter()
                .filter(
                    |e| matches!(e.message, MidiMessage::Controller { controller, .. } if controller == n),
                )
                .count()
        };
        assert_eq!((cc(123), cc(120)), (16, 16));
        assert!(!rec.0.iter().any(|e| matches!(e.message, MidiMessage::NoteOff { .. })));
    }

    #[test]
    fn wait_returns_early_when_stopped() {
        let stop = AtomicBool::new(true);
        assert!(!wait(Duration::from_secs(3600), &stop));
        let stop = AtomicBool::new(false);
        assert!(wait(Duration::from_millis(1), &stop));
    }

    #[test]
    fn live_playback_sends_every_event_then_releases_all_notes() {
        // A short file (3 notes, 30 ms total at speed 4) played into a recorder.
        let notes = [(0, 0, 60, 24), (24, 1, 64, 48), (48, 2, 67, 72)];
        let bytes = test_midi::single_track(480, &[], &notes, 0);
        let song = Song::from_bytes(Path::new("t.mid"), &bytes).unwrap();
        let rec = Shared::<Recorder>::default();
        let opts = PlayOptions { speed: 4.0, progress: None, ..PlayOptions::default() };
        let out = play(&song, rec.clone(), &opts, Arc::default(), |_| {}).unwrap();
        assert!(matches!(out, PlayOutcome::Finished { .. }), "{out:?}");
        let rec = rec.0.borrow();
        let ons = rec.0.iter().filter(|e| matches!(e.message, MidiMessage::NoteOn { .. })).count();
        let offs = rec.0.iter().filter(|e| matches!(e.message, MidiMessage::NoteOff { .. })).count();
        assert_eq!((ons, offs), (3, 3));
        let cc123 = rec
            .0
            .iter()
            .filter(|e| matches!(e.message, MidiMessage::Controller { controller, .. } if controller == 123))
            .count();
        assert_eq!(cc123, 16);
    }
}
