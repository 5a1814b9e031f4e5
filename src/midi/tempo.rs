//! Converts ticks to seconds (and back) through a piece's tempo map.

use super::piece::{Piece, DEFAULT_MICROS_PER_BEAT};

/// Piecewise-linear map between ticks and seconds.
#[derive(Debug, Clone)]
pub struct TempoMap {
    ticks_per_beat: f64,
    /// `(tick, seconds at tick, seconds per tick from here on)`, sorted by tick, first at 0.
    segments: Vec<(u64, f64, f64)>,
}

impl TempoMap {
    /// The tempo map of `piece` (120 bpm before its first tempo event).
    pub fn new(piece: &Piece) -> Self {
        let tpb = f64::from(piece.ticks_per_beat.max(1));
        let spt = |micros: u32| f64::from(micros.max(1)) / 1e6 / tpb;
        let mut segments = vec![(0u64, 0.0f64, spt(DEFAULT_MICROS_PER_BEAT))];
        for t in &piece.tempos {
            let last = segments.last_mut().expect("non-empty");
            let (tick0, sec0, rate) = *last;
            if t.tick <= tick0 {
                // Several tempo events at one tick: the last one wins.
                last.2 = spt(t.micros_per_beat);
            } else {
                segments.push((t.tick, sec0 + (t.tick - tick0) as f64 * rate, spt(t.micros_per_beat)));
            }
        }
        TempoMap { ticks_per_beat: tpb, segments }
    }

    /// Seconds from the start of the piece to `tick`.
    pub fn seconds_at(&self, tick: u64) -> f64 {
        let i = self.segments.partition_point(|s| s.0 <= tick).saturating_sub(1);
        let (t0, s0, rate) = self.segments[i];
        s0 + (tick - t0) as f64 * rate
    }

    /// The tick at `seconds` from the start (rounded to the nearest tick).
    pub fn tick_at(&self, seconds: f64) -> u64 {
        let i = self.segments.partition_point(|s| s.1 <= seconds).saturating_sub(1);
        let (t0, s0, rate) = self.segments[i];
        t0 + ((seconds - s0).max(0.0) / rate).round() as u64
    }

    /// Ticks per quarter note of the piece this map was made from.
    pub fn ticks_per_beat(&self) -> f64 {
        self.ticks_per_beat
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::TempoChange;

    #[test]
    fn default_tempo_is_120_bpm() {
        let p = Piece::new(480);
        let m = TempoMap::new(&p);
        assert!((m.seconds_at(480) - 0.5).abs() < 1e-12);
        assert_eq!(m.tick_at(1.0), 960);
    }

    #[test]
    fn tempo_changes_accumulate() {
        let mut p = Piece::new(100);
        // 60 bpm from tick 0, 120 bpm from tick 200.
        p.tempos = vec![
            TempoChange { tick: 0, micros_per_beat: 1_000_000 },
            TempoChange { tick: 200, micros_per_beat: 500_000 },
        ];
        let m = TempoMap::new(&p);
        assert!((m.seconds_at(200) - 2.0).abs() < 1e-12);
        assert!((m.seconds_at(300) - 2.5).abs() < 1e-12);
        assert_eq!(m.tick_at(2.5), 300);
        assert_eq!(m.tick_at(1.0), 100);
    }
}
