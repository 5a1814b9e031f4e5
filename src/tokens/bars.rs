//! Bars on the beats grid, for the REMI scheme: which meters have a TIMESIG token, how many
//! steps a bar of each lasts, and where a piece's bar lines fall.
//!
//! **Meters.** TIMESIG tokens exist for every `n/d` with `d` in 2, 4, 8, 16 and a bar of at most
//! [`MAX_BAR_BEATS`] quarter notes (`n <= 3d`): 90 meters. A bar of `n/d` lasts
//! `round(n * 4 * steps_per_beat / d)` steps (at least 1). A piece's time signature outside
//! that set (5/32, 13/4, 4/1, ...) is read as 4/4.
//!
//! **Bar lines.** The first bar starts at step 0 in the meter in force there (4/4 when the
//! piece has none). Each bar line starts a bar in the meter of the latest time signature at or
//! before it, so a signature placed inside a bar takes effect at the next bar line. This is
//! what [`super::Tokenizer::quantize`] keeps of a piece's time signatures under REMI: one at
//! step 0, then one at each bar line where the meter changes.

use super::grid::StepClock;
use super::TokenizerConfig;
use crate::midi::Piece;

/// The longest bar with a TIMESIG token, in quarter notes.
pub const MAX_BAR_BEATS: u16 = 12;

/// Finest beats grid the REMI scheme accepts (keeps POSITION tokens few enough for `u16` ids).
pub const MAX_REMI_STEPS_PER_BEAT: u16 = 96;

const fn meters() -> [(u8, u8); 90] {
    let mut out = [(0u8, 0u8); 90];
    let dens = [2u8, 4, 8, 16];
    let mut i = 0;
    let mut k = 0;
    while k < dens.len() {
        let d = dens[k];
        let mut n = 1u8;
        while n as u16 * 4 <= MAX_BAR_BEATS * d as u16 {
            out[i] = (n, d);
            i += 1;
            n += 1;
        }
        k += 1;
    }
    out
}

/// The meters with a TIMESIG token, in token order (by denominator, then numerator).
pub const TIME_SIGNATURES: [(u8, u8); 90] = meters();

/// The meter every bar has unless a time signature says otherwise.
pub const DEFAULT_METER: (u8, u8) = (4, 4);

/// Index of `n/d` in [`TIME_SIGNATURES`].
pub fn time_signature_index(n: u8, d: u8) -> Option<usize> {
    TIME_SIGNATURES.iter().position(|&m| m == (n, d))
}

/// `n/d` if it has a TIMESIG token, else 4/4.
pub fn supported_meter(n: u8, d: u8) -> (u8, u8) {
    if time_signature_index(n, d).is_some() {
        (n, d)
    } else {
        DEFAULT_METER
    }
}

/// Number of POSITION tokens: the steps of the longest bar.
pub fn max_bar_steps(steps_per_beat: u16) -> u16 {
    MAX_BAR_BEATS * steps_per_beat.min(MAX_REMI_STEPS_PER_BEAT)
}

/// Steps of one bar of `meter` on a grid of `steps_per_beat` (at least 1, at most
/// [`max_bar_steps`]).
pub fn bar_steps(meter: (u8, u8), steps_per_beat: u16) -> u64 {
    let (n, d) = meter;
    let num = 4 * u64::from(n) * u64::from(steps_per_beat);
    let d = u64::from(d.max(1));
    ((2 * num + d) / (2 * d)).clamp(1, u64::from(max_bar_steps(steps_per_beat)))
}

/// The meter changes of `piece` on the grid of `config`: `(step, meter)` pairs, sorted, steps
/// unique (the last signature at a step wins), meters restricted to [`TIME_SIGNATURES`].
pub(super) fn meter_changes(config: &TokenizerConfig, piece: &Piece) -> Vec<(u64, (u8, u8))> {
    let clock = StepClock::new(config, piece);
    let mut sigs: Vec<(u64, (u8, u8))> = piece
        .time_signatures
        .iter()
        .map(|ts| (clock.step(ts.tick), supported_meter(ts.numerator, ts.denominator)))
        .collect();
    sigs.sort_by_key(|&(step, _)| step);
    let mut out: Vec<(u64, (u8, u8))> = Vec::with_capacity(sigs.len());
    for (step, meter) in sigs {
        match out.last_mut() {
            Some(last) if last.0 == step => last.1 = meter,
            _ => out.push((step, meter)),
        }
    }
    out
}

/// Walks the bar lines of a piece in order.
#[derive(Debug, Clone)]
pub(super) struct BarLines {
    changes: Vec<(u64, (u8, u8))>,
    next_change: usize,
    steps_per_beat: u16,
    /// Start step and meter of the current bar.
    pub start: u64,
    pub meter: (u8, u8),
}

impl BarLines {
    /// Bar lines for the meter changes `changes` (as [`meter_changes`] gives), positioned on the
    /// first bar (at step 0).
    pub fn new(changes: Vec<(u64, (u8, u8))>, steps_per_beat: u16) -> Self {
        let mut b = BarLines { changes, next_change: 0, steps_per_beat, start: 0, meter: DEFAULT_METER };
        b.apply_changes();
        b
    }

    fn apply_changes(&mut self) {
        while let Some(&(step, meter)) = self.changes.get(self.next_change) {
            if step > self.start {
                break;
            }
            self.meter = meter;
            self.next_change += 1;
        }
    }

    /// The bar lines of `piece` under `config` (a beats grid).
    pub fn for_piece(config: &TokenizerConfig, piece: &Piece) -> Self {
        let spb = match config.time {
            super::TimeMode::Beats { steps_per_beat } => steps_per_beat,
            super::TimeMode::Seconds { .. } => 1,
        };
        BarLines::new(meter_changes(config, piece), spb)
    }

    /// Steps of the current bar.
    pub fn len(&self) -> u64 {
        bar_steps(self.meter, self.steps_per_beat)
    }

    /// Start of the next bar.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len())
    }

    /// Move to the next bar; returns whether its meter differs from the previous bar's.
    pub fn advance(&mut self) -> bool {
        let before = self.meter;
        self.start = self.end();
        self.apply_changes();
        self.meter != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::TimeSignature;

    #[test]
    fn ninety_meters_with_bars_of_at_most_twelve_beats() {
        assert_eq!(TIME_SIGNATURES.len(), 90);
        assert_eq!(TIME_SIGNATURES[0], (1, 2));
        assert_eq!(time_signature_index(3, 4), Some(6 + 2));
        assert!(TIME_SIGNATURES.iter().all(|&(n, d)| u16::from(n) * 4 <= 12 * u16::from(d)));
        assert_eq!(supported_meter(13, 4), (4, 4));
        assert_eq!(supported_meter(12, 8), (12, 8));
        // 12 steps per beat: 4/4 = 48, 3/4 = 36, 6/8 = 36, 7/16 = 21, 12/4 = 144 = the maximum.
        assert_eq!(bar_steps((4, 4), 12), 48);
        assert_eq!(bar_steps((3, 4), 12), 36);
        assert_eq!(bar_steps((6, 8), 12), 36);
        assert_eq!(bar_steps((7, 16), 12), 21);
        assert_eq!(bar_steps((12, 4), 12), 144);
        assert_eq!(max_bar_steps(12), 144);
        // A coarse grid rounds: 1/16 at one step per beat is a quarter of a step, so 1 step.
        assert_eq!(bar_steps((1, 16), 1), 1);
    }

    #[test]
    fn signatures_apply_at_the_next_bar_line() {
        let mut p = Piece::new(480);
        // 3/4 from the start; 2/4 written one beat into bar 2 (tick 480 * 4 = step 48), which
        // takes effect at bar 3 (step 72); an unsupported 13/4 later reads as 4/4.
        let ts = |tick, numerator, denominator| TimeSignature { tick, numerator, denominator };
        p.time_signatures = vec![ts(0, 3, 4), ts(1920, 2, 4), ts(4800, 13, 4)];
        let cfg = TokenizerConfig::default();
        let changes = meter_changes(&cfg, &p);
        assert_eq!(changes, vec![(0, (3, 4)), (48, (2, 4)), (120, (4, 4))]);
        let mut bars = BarLines::new(changes, 12);
        let mut seen = vec![(bars.start, bars.meter)];
        for _ in 0..5 {
            bars.advance();
            seen.push((bars.start, bars.meter));
        }
        assert_eq!(
            seen,
            vec![(0, (3, 4)), (36, (3, 4)), (72, (2, 4)), (96, (2, 4)), (120, (4, 4)), (168, (4, 4))]
        );
    }
}
