//! Accompanying: the session plays bar by bar under the player.
//!
//! The tempo is the one given, or estimated from the player's first [`COUNT_IN`] onsets and then
//! kept (a band does not follow every wobble); the player's first note is a downbeat, and bars
//! are `beats` beats from it. Each bar is sampled ahead, as late as the expected sampling time
//! allows (learned bar by bar, as answers learn it), from the session so far (the player's notes,
//! the keys held until now, and the bars already played), with every note below the lowest
//! pitch the player sounded in the last bar (kept within [`FLOOR`]..=[`CEILING`], so the
//! accompaniment always has room), and handed to the player thread to sound at its time. A bar
//! ready after some of its notes were due drops those notes rather than playing them late.
//! When the player has played nothing for a whole bar, the accompaniment stops after the bars
//! already queued, and the next notes count in again (the next note is a downbeat).

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use super::answer::{Ask, Played};
use super::listener::{Incoming, Listener};
use super::player::{Player, Sink};
use super::session::{learn, listen, AnswerReport, SessionOptions, Summary, MARGIN};
use super::tempo::{self, Grid};
use crate::error::Result;

/// Onsets the tempo is estimated from when none is given.
pub const COUNT_IN: usize = 6;
/// The accompaniment stays below a pitch no lower than this (C3) ...
pub const FLOOR: u8 = 48;
/// ... and no higher than this (C6).
pub const CEILING: u8 = 84;

/// Accompany the player (see the module doc) until `stop` is set, `opts.max_answers` bars have
/// played, or a port goes away.
pub(super) fn run(
    input: &Receiver<Incoming>,
    sink: Box<dyn Sink>,
    stop: &AtomicBool,
    opts: &SessionOptions,
    mut sample: impl FnMut(&Ask) -> Result<Vec<Played>>,
    report: &mut dyn FnMut(&AnswerReport),
) -> Result<Summary> {
    let mut player = Player::start(sink, opts.channel);
    let mut s = Listener::new();
    let mut summary = Summary::default();
    let mut expected = opts.expected_sampling.max(0.0);
    let bar = i64::from(opts.beats);
    // The grid once the tempo is known, and the first beat of the next bar to sample.
    let mut grid: Option<Grid> = None;
    let mut next_bar: Option<i64> = None;
    // Bars handed to the player: their end and notes, oldest first.
    let mut queued: VecDeque<(f64, Vec<Played>)> = VecDeque::new();
    let mut heard_before = 0;
    let outcome = loop {
        match listen(stop, &player, &mut s, input, &mut |_, _| {}) {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
        let now = s.now();
        while queued.front().is_some_and(|(end, _)| *end <= now) {
            let (_, notes) = queued.pop_front().expect("a bar");
            s.history.extend(notes);
            summary.played += 1;
        }
        if opts.max_answers.is_some_and(|m| summary.played >= m) {
            break Ok(());
        }
        s.forget(now);
        let g = match grid {
            Some(g) => g,
            None => {
                let counted = opts.bpm.is_some() && !s.onsets.is_empty() || s.onsets.len() >= COUNT_IN;
                if !counted {
                    continue;
                }
                let g = tempo::phrase_grid(&s.onsets, opts.bpm, None);
                grid = Some(g);
                g
            }
        };
        let first = *next_bar.get_or_insert_with(|| {
            let beat = g.next_beat(now + expected + MARGIN);
            beat + (bar - beat.rem_euclid(bar)) % bar
        });
        let due = g.time_of(first as f64);
        if now < due - expected - MARGIN {
            continue;
        }
        // Nothing played for a whole bar: stop until the player plays again.
        let bar_seconds = bar as f64 * g.beat;
        if !s.holding() && s.last_onset().is_none_or(|t| t < due - bar_seconds) {
            (grid, next_bar, heard_before) = (None, None, 0);
            s.end_phrase();
            continue;
        }
        let below = s.lowest_since(due - 2.0 * bar_seconds).unwrap_or(CEILING).clamp(FLOOR, CEILING);
        let history = s.heard_until(now);
        let index = summary.answered;
        let t0 = Instant::now();
        let ask = Ask {
            history: &history,
            phrase_start: due - 2.0 * bar_seconds,
            grid: g,
            first_beat: first,
            beats: opts.beats,
            index,
            below: Some(below),
            part_of: None,
        };
        let notes = match sample(&ask) {
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        let sampling = t0.elapsed().as_secs_f64();
        expected = learn(expected, sampling);
        let ready = s.now();
        let all = notes.len();
        let notes: Vec<Played> = notes.into_iter().filter(|n| n.start >= ready + 0.002).collect();
        summary.withdrawn += all - notes.len();
        summary.answered += 1;
        let phrase_notes = s.phrase_notes.saturating_sub(heard_before);
        heard_before = s.phrase_notes;
        report(&AnswerReport {
            index,
            phrase_notes,
            bpm: g.bpm(),
            ready_after: ready - s.seconds(t0),
            sampling,
            due_after: due - s.seconds(t0),
            notes: notes.len(),
            part: 0,
            parts: 1,
            moved_beats: 0,
        });
        player.schedule(s.base, index, opts.channel, &notes);
        let end = g.time_of((first + bar) as f64);
        queued.push_back((notes.iter().map(|n| n.end).fold(end, f64::max), notes));
        next_bar = Some(first + bar);
    };
    player.finish();
    outcome.map(|()| summary)
}

#[cfg(test)]
mod tests {
    use super::super::input::all_notes_off;
    use super::super::player::testing::{key, offs_follow_ons, Log, Recorder};
    use super::super::session::Mode;
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::mpsc::channel;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[test]
    fn bars_are_played_under_the_player_on_the_counted_in_grid_until_the_player_stops() {
        let (tx, rx) = channel();
        let log: Log = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let opts = SessionOptions { mode: Mode::Accompany, beats: 4, ..Default::default() };
        let (sink, theirs_stop) = (Box::new(Recorder(Arc::clone(&log))), Arc::clone(&stop));
        // (first beat, below, bpm, player's notes heard) of each bar asked for.
        let asks: Arc<Mutex<Vec<(i64, Option<u8>, f64, usize)>>> = Arc::default();
        let theirs_asks = Arc::clone(&asks);
        let session = std::thread::spawn(move || {
            // A bar of one note a beat, each 0.8 beat long, a step under the ceiling.
            let sample = |ask: &Ask| -> Result<Vec<Played>> {
                theirs_asks.lock().unwrap().push((
                    ask.first_beat,
                    ask.below,
                    ask.grid.bpm(),
                    ask.history.len(),
                ));
                Ok((0..i64::from(ask.beats))
                    .map(|k| Played {
                        pitch: ask.below.unwrap() - 2,
                        velocity: 64,
                        start: ask.grid.time_of((ask.first_beat + k) as f64),
                        end: ask.grid.time_of((ask.first_beat + k) as f64 + 0.8),
                    })
                    .collect())
            };
            run(&rx, sink, &theirs_stop, &opts, sample, &mut |_| {})
        });
        // Ten quarter notes at 150 bpm, the lowest a G; the count-in is the first six.
        let first_on = Instant::now();
        for (i, p) in [67u8, 69, 71, 72, 74, 72, 71, 69, 67, 71].iter().enumerate() {
            std::thread::sleep(
                (first_on + Duration::from_millis(400 * i as u64)).saturating_duration_since(Instant::now()),
            );
            key(&tx, &[0x90, *p, 90]);
            std::thread::sleep(Duration::from_millis(300));
            key(&tx, &[0x80, *p, 0]);
        }
        // Bars from beat 8 (the first bar line after the count-in) and 12; none after that (the
        // player stopped at beat 9).
        std::thread::sleep(
            (first_on + Duration::from_millis(400 * 19)).saturating_duration_since(Instant::now()),
        );
        stop.store(true, Ordering::SeqCst);
        let summary = session.join().unwrap().unwrap();
        let asks = asks.lock().unwrap().clone();
        let firsts: Vec<i64> = asks.iter().map(|a| a.0).collect();
        assert_eq!(firsts, [8, 12], "{asks:?}");
        assert!(asks.iter().all(|a| a.1 == Some(67) && (a.2 - 150.0).abs() < 4.5), "{asks:?}");
        assert!(asks[0].3 >= 7, "the bar follows the notes played so far: {asks:?}");
        assert_eq!((summary.answered, summary.played), (2, 2), "{summary:?}");
        let log = log.lock().unwrap().clone();
        offs_follow_ons(&log);
        assert_eq!(log.last().unwrap().1, all_notes_off(0), "all notes off at the end");
        let ons: Vec<f64> =
            log.iter().filter(|(_, m)| m[0] == 0x90).map(|(t, _)| (*t - first_on).as_secs_f64()).collect();
        assert_eq!(ons.len(), 8, "{ons:?}");
        // On the beat: beat 8 of the player's grid is 3.2 s after the first note (loose bounds:
        // a busy machine delays threads; the JACK benchmark measures the real figure).
        for (k, t) in ons.iter().enumerate() {
            let want = 0.4 * (8 + k) as f64;
            assert!(
                t - want > -0.06 && t - want < 0.25,
                "note {k} at {t:.3} s, beat at {want:.1} s: {ons:?}"
            );
        }
        assert!(log.iter().filter(|(_, m)| m[0] == 0x90).all(|(_, m)| m[1] == 65), "under the lowest note");
    }
}
