//! The player's tempo and beat grid, from the onsets of a phrase (seconds).
//!
//! Onsets closer than [`CHORD`] are one onset. The inter-onset intervals are clustered (each
//! within 8% or 25 ms of its cluster's mean); each cluster is scored by its own count and half
//! the counts of clusters at twice and half its length (a half note or two eighths support a
//! quarter), and the best one is the first guess of the beat, folded into 50-200 bpm. The grid
//! is then fitted by least squares, onset by onset in time order: each onset is placed on the
//! nearest sixteenth of the grid fitted so far, and the line through (sixteenth, time) gives the
//! beat and the time of the first beat, so a phrase that drifts a little is followed.
//!
//! A beat here is the phrase's most common spacing: a phrase of eighths over a slow beat reads
//! as twice the tempo, as a listener tapping along might hear it.

/// Onsets closer than this (seconds) are one chord.
pub const CHORD: f64 = 0.04;
/// The slowest and fastest tempi a guess is folded into.
pub const SLOWEST_BPM: f64 = 50.0;
pub const FASTEST_BPM: f64 = 200.0;
/// The tempo assumed for a phrase too short to have one when none is given.
pub const DEFAULT_BPM: f64 = 120.0;

/// A beat grid: beat `k` falls at `anchor + k * beat` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub anchor: f64,
    /// Seconds per beat.
    pub beat: f64,
}

impl Grid {
    /// A grid of `bpm` quarter notes a minute through `anchor`.
    pub fn at_bpm(bpm: f64, anchor: f64) -> Grid {
        Grid { anchor, beat: 60.0 / bpm }
    }

    pub fn bpm(&self) -> f64 {
        60.0 / self.beat
    }

    /// Beats from the anchor to `t` (fractional).
    pub fn beats_at(&self, t: f64) -> f64 {
        (t - self.anchor) / self.beat
    }

    /// The time of beat `k`.
    pub fn time_of(&self, k: f64) -> f64 {
        self.anchor + k * self.beat
    }

    /// The first whole beat at or after `t` (a thousandth of a beat of slack).
    pub fn next_beat(&self, t: f64) -> i64 {
        (self.beats_at(t) - 1e-3).ceil() as i64
    }

    /// This grid's period with its phase refitted to `onsets` (least squares, each onset on its
    /// nearest sixteenth): the phrase of a player whose tempo is given.
    pub fn refit_phase(&self, onsets: &[f64]) -> Grid {
        let onsets = merged(onsets);
        let Some(&first) = onsets.first() else { return *self };
        let unit = self.beat / 4.0;
        let steps: Vec<f64> = onsets.iter().map(|t| ((t - first) / unit).round()).collect();
        let n = onsets.len() as f64;
        let anchor = onsets.iter().zip(&steps).map(|(t, s)| t - s * unit).sum::<f64>() / n;
        Grid { anchor, beat: self.beat }
    }
}

/// How far (a ratio) a phrase's tempo may differ from the session's for the session to keep
/// writing its past on its own grid.
const KEEP_TEMPO: f64 = 0.02;

/// The grid a phrase is answered on: the given tempo `bpm` with its phase fitted to the
/// phrase's `onsets`; else the tempo estimated from them; else (fewer than three onsets) the
/// `previous` phrase's tempo, or [`DEFAULT_BPM`], through them.
pub fn phrase_grid(onsets: &[f64], bpm: Option<f64>, previous: Option<Grid>) -> Grid {
    let anchor = onsets.iter().copied().filter(|t| t.is_finite()).fold(f64::INFINITY, f64::min);
    let anchor = if anchor.is_finite() { anchor } else { 0.0 };
    match bpm {
        Some(bpm) => Grid::at_bpm(bpm, anchor).refit_phase(onsets),
        None => estimate(onsets).unwrap_or_else(|| {
            let beat = previous.map_or(60.0 / DEFAULT_BPM, |g| g.beat);
            Grid { anchor, beat }.refit_phase(onsets)
        }),
    }
}

/// The grid a session writes its past on: the `session`'s own while the phrase's grid `phrase`
/// keeps its tempo (within 2%), else the phrase's. On one grid the past reads the same tokens
/// answer after answer, so a network's state after the last primer carries over; the answer is
/// then moved onto the phrase's own beat ([`Grid::beat_on`]).
pub fn session_grid(session: Option<Grid>, phrase: Grid) -> Grid {
    match session {
        Some(s) if (phrase.beat / s.beat - 1.0).abs() <= KEEP_TEMPO => s,
        _ => phrase,
    }
}

impl Grid {
    /// The beat of this grid nearest the time `t`, and how far `t` is after it (seconds).
    pub fn beat_on(&self, t: f64) -> (i64, f64) {
        let k = self.beats_at(t).round();
        (k as i64, t - self.time_of(k))
    }
}

/// `onsets` sorted, chords merged into their first onset.
fn merged(onsets: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = onsets.iter().copied().filter(|t| t.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let mut out: Vec<f64> = Vec::with_capacity(sorted.len());
    for t in sorted {
        if out.last().is_none_or(|&last| t - last >= CHORD) {
            out.push(t);
        }
    }
    out
}

/// The beat grid of a phrase's onsets (seconds, any order), or `None` when there are fewer
/// than three distinct onsets.
pub fn estimate(onsets: &[f64]) -> Option<Grid> {
    let onsets = merged(onsets);
    if onsets.len() < 3 {
        return None;
    }
    let beat = first_guess(&onsets)?;
    Some(fit(&onsets, beat))
}

/// The best-supported inter-onset interval, folded into the tempo range.
fn first_guess(onsets: &[f64]) -> Option<f64> {
    let mut iois: Vec<f64> =
        onsets.windows(2).map(|w| w[1] - w[0]).filter(|d| (0.1..=2.4).contains(d)).collect();
    iois.sort_by(f64::total_cmp);
    // (sum, count) of each cluster.
    let mut clusters: Vec<(f64, f64)> = Vec::new();
    for d in iois {
        match clusters.last_mut() {
            Some((sum, count)) if (d - *sum / *count).abs() <= (0.08 * *sum / *count).max(0.025) => {
                *sum += d;
                *count += 1.0;
            }
            _ => clusters.push((d, 1.0)),
        }
    }
    let means: Vec<(f64, f64)> = clusters.iter().map(|&(s, c)| (s / c, c)).collect();
    let near = |ratio: f64, want: f64| (ratio / want - 1.0).abs() <= 0.08;
    let score = |m: f64| {
        means
            .iter()
            .map(|&(other, count)| {
                let r = other / m;
                if near(r, 1.0) {
                    count
                } else if near(r, 0.5) {
                    count * 0.5 // subdivisions of this beat
                } else if near(r, 2.0) {
                    count * 0.25 // this would be a subdivision of theirs
                } else {
                    0.0
                }
            })
            .sum::<f64>()
    };
    let (mut beat, _) = means
        .iter()
        .map(|&(m, _)| (m, score(m)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(a.0.total_cmp(&b.0)))?;
    while 60.0 / beat < SLOWEST_BPM {
        beat /= 2.0;
    }
    while 60.0 / beat > FASTEST_BPM {
        beat *= 2.0;
    }
    Some(beat)
}

/// The least-squares grid through `onsets`, placed one by one on the nearest sixteenth.
fn fit(onsets: &[f64], beat: f64) -> Grid {
    let first = onsets[0];
    let mut grid = Grid { anchor: first, beat };
    let (mut sx, mut sy, mut sxx, mut sxy, mut n) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &t in onsets {
        let x = ((t - grid.anchor) / (grid.beat / 4.0)).round();
        sx += x;
        sy += t;
        sxx += x * x;
        sxy += x * t;
        n += 1.0;
        let denom = n * sxx - sx * sx;
        if n >= 2.0 && denom > 0.0 {
            let unit = (n * sxy - sx * sy) / denom;
            // A fitted beat may move only a little from the guess; a wild fit keeps the guess.
            if unit > 0.0 && (unit * 4.0 / beat - 1.0).abs() < 0.25 {
                grid = Grid { anchor: (sy - unit * sx) / n, beat: unit * 4.0 };
            }
        }
    }
    grid
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A phrase of `beats` beats at `bpm`: mostly quarters (three beats in four), some halves,
    /// eighth pairs and dotted quarters with an eighth, each onset off by up to `jitter` seconds, some chords.
    fn phrase(bpm: f64, beats: usize, jitter: f64, rng: &mut impl Rng) -> Vec<f64> {
        let beat = 60.0 / bpm;
        let mut at = 0.0; // in beats
        let mut out = Vec::new();
        // At most one figure of each kind besides quarters, so that the quarter is the phrase's
        // most common spacing (the beat, as the module defines it).
        let mut figures = [false; 3];
        let mut push = |b: f64, rng: &mut dyn rand::RngCore| {
            let t = 1.0 + b * beat + rng.random_range(-jitter..=jitter);
            out.push(t);
            if rng.random_bool(0.2) {
                out.push(t + 0.01); // a chord's second note
            }
        };
        while at < beats as f64 {
            let mut pick = rng.random_range(0..20);
            if (pick < 5) && std::mem::replace(&mut figures[pick / 2], true) {
                pick = 19;
            }
            match pick {
                0 | 1 => {
                    push(at, rng);
                    at += 2.0;
                }
                2 | 3 => {
                    push(at, rng);
                    push(at + 0.5, rng);
                    at += 1.0;
                }
                4 => {
                    push(at, rng);
                    push(at + 1.5, rng);
                    at += 2.0;
                }
                _ => {
                    push(at, rng);
                    at += 1.0;
                }
            }
        }
        out
    }

    #[test]
    fn tempi_from_60_to_180_bpm_are_found_within_3_percent() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut worst: f64 = 0.0;
        for bpm in (60..=180).step_by(5) {
            for _ in 0..8 {
                let onsets = phrase(f64::from(bpm), 8, 0.012, &mut rng);
                let grid = estimate(&onsets).expect("a phrase of eight beats has a tempo");
                let off = (grid.bpm() / f64::from(bpm) - 1.0).abs();
                worst = worst.max(off);
                assert!(off <= 0.03, "{bpm} bpm read as {:.1}: {onsets:?}", grid.bpm());
                // The first beat is found within a sixteenth's fifth of the first onset.
                assert!((grid.anchor - 1.0).abs() < 0.05 * grid.beat, "{bpm}: anchor {}", grid.anchor);
            }
        }
        eprintln!("worst tempo error {:.2}%", worst * 100.0);
    }

    #[test]
    fn too_few_onsets_have_no_tempo_and_a_given_tempo_takes_the_phrase_phase() {
        assert_eq!(estimate(&[]), None);
        assert_eq!(estimate(&[0.5, 0.51, 1.0]), None, "a chord is one onset");
        let grid = Grid::at_bpm(120.0, 0.0).refit_phase(&[0.31, 0.81, 1.06, 1.31]);
        assert!((grid.anchor - 0.31).abs() < 0.01 && (grid.beat - 0.5).abs() < 1e-12, "{grid:?}");
        assert_eq!(grid.next_beat(1.5), 3, "beat 3 of a grid through 0.31 s is at 1.81 s");
        assert_eq!(grid.next_beat(1.31), 2);
    }

    #[test]
    fn the_session_keeps_its_grid_while_the_tempo_holds() {
        let session = Grid::at_bpm(120.0, 0.3);
        let near = Grid::at_bpm(121.5, 40.1);
        assert_eq!(session_grid(Some(session), near), session, "1.2% slower: kept");
        let far = Grid::at_bpm(126.0, 40.1);
        assert_eq!(session_grid(Some(session), far), far, "5% faster: the phrase's own");
        assert_eq!(session_grid(None, far), far);
        // A phrase beat 40.1 s: beat 80 of the session's grid is at 40.3 s.
        let (k, off) = session.beat_on(40.1);
        assert!(k == 80 && (off + 0.2).abs() < 1e-9, "{k} {off}");
        let (k, off) = session.beat_on(40.52);
        assert_eq!(k, 80);
        assert!((off - 0.22).abs() < 1e-9);
    }
}
