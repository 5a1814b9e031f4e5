//! Where a moment of the system clock falls among a JACK client's frames, and back, measured by
//! the process callback itself: each cycle it notes when it began (JACK's microsecond clock,
//! `jack_get_time`) against the cycle's first frame, and the earliest of the last few cycles
//! stands for the server's schedule (a callback can only begin late, never early).
//!
//! JACK offers a mapping of its own (`jack_frame_time`, `jack_get_cycle_times`), a filter over
//! the times cycles were due. On a dummy server that runs late it goes wrong: after each xrun
//! the server restarts its schedule and the filter takes seconds to follow, off by 10-40 ms
//! meanwhile (measured in `tests/midi_ports_jack.rs` with two busy cores: studio notes 42 ms
//! late, then 33, 17, 5), while the frames themselves stay true. The earliest recent beginning
//! follows a restart within [`WINDOW`] cycles and, on a real-time callback, is within tens of
//! microseconds of the schedule.

/// Cycles the schedule is taken over (8 periods of 128 frames at 48 kHz: 21 ms): a restarted
/// schedule is followed after this many cycles, and a callback late this many times running
/// moves it.
pub const WINDOW: usize = 8;

/// The frames of one client against the system clock.
#[derive(Debug, Clone)]
pub struct FrameClock {
    /// Frames per microsecond.
    per_us: f64,
    /// Per cycle of the window: its beginning in frames of the system clock less its first frame.
    leads: [f64; WINDOW],
    /// Cycles recorded so far (the window holds the last `min(seen, WINDOW)`).
    seen: usize,
    /// The frame counter, unwrapped to 64 bits (JACK's wraps after 2^32 frames: a day at 48 kHz).
    start: u64,
    /// The 32-bit frame the current cycle began at.
    raw: u32,
    /// The least lead of the window: the schedule.
    lead: f64,
}

impl FrameClock {
    /// A clock for a server running at `sample_rate` frames per second.
    pub fn new(sample_rate: u32) -> FrameClock {
        FrameClock {
            per_us: f64::from(sample_rate.max(1)) / 1e6,
            leads: [0.0; WINDOW],
            seen: 0,
            start: 0,
            raw: 0,
            lead: 0.0,
        }
    }

    /// Record a cycle whose first frame is `frame` (JACK's 32-bit `last_frame_time`) and whose
    /// callback began at `now_us` (JACK's microsecond clock).
    pub fn cycle(&mut self, frame: u32, now_us: u64) {
        self.start = if self.seen == 0 {
            u64::from(frame)
        } else {
            // A cycle never goes back: the wrapping difference is the frames since the last one.
            self.start + u64::from(frame.wrapping_sub(self.raw))
        };
        self.raw = frame;
        self.leads[self.seen % WINDOW] = now_us as f64 * self.per_us - self.start as f64;
        self.seen += 1;
        let n = self.seen.min(WINDOW);
        self.lead = self.leads[..n].iter().copied().fold(f64::INFINITY, f64::min);
    }

    /// The frame within the current cycle (may be negative: before it, or past its end) at
    /// which the moment `us` of JACK's microsecond clock falls.
    pub fn offset_of(&self, us: u64) -> f64 {
        us as f64 * self.per_us - self.lead - self.start as f64
    }

    /// The moment of JACK's microsecond clock at which frame `offset` of the current cycle falls.
    pub fn usecs_at(&self, offset: u32) -> u64 {
        let frames = self.start as f64 + f64::from(offset) + self.lead;
        (frames / self.per_us).max(0.0).round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server at 48 kHz with 128-frame periods whose cycle `k` is due at `t0 + k * period`.
    const RATE: u32 = 48_000;
    const N: u32 = 128;
    const PERIOD_US: f64 = 128.0 / 48_000.0 * 1e6;

    fn due(t0: u64, k: u32) -> u64 {
        t0 + (f64::from(k) * PERIOD_US).round() as u64
    }

    /// A clock that has seen cycles `0..cycles` of a server due from `t0`, each on time.
    fn punctual(t0: u64, cycles: u32) -> FrameClock {
        let mut c = FrameClock::new(RATE);
        for k in 0..cycles {
            c.cycle(k * N, due(t0, k));
        }
        c
    }

    #[test]
    fn a_punctual_server_maps_moments_to_their_frames_and_back() {
        let t0 = 64_000_000_000;
        let c = punctual(t0, 10);
        // Cycle 9 began at due(t0, 9); a moment 1 ms later is 48 frames into it.
        let at = c.offset_of(due(t0, 9) + 1_000);
        assert!((at - 48.0).abs() < 0.1, "{at}");
        // A moment one period before the cycle began is a period before its first frame.
        let before = c.offset_of(due(t0, 8));
        assert!((before + 128.0).abs() < 0.1, "{before}");
        let back = c.usecs_at(48);
        assert!(back.abs_diff(due(t0, 9) + 1_000) <= 1, "{back}");
    }

    #[test]
    fn late_callbacks_do_not_move_the_schedule() {
        // Every third callback begins 2 ms late; the schedule stays the punctual one.
        let mut c = FrameClock::new(RATE);
        let t0 = 5_000_000;
        for k in 0..40 {
            let late = if k % 3 == 0 { 2_000 } else { 0 };
            c.cycle(k * N, due(t0, k) + late);
        }
        let at = c.offset_of(due(t0, 39));
        assert!(at.abs() < 0.1, "{at}");
    }

    #[test]
    fn a_restarted_schedule_is_followed_within_the_window() {
        // The server stalls 6 ms (an xrun) after cycle 49 and restarts its schedule from there:
        // its later frames stand 6 ms later on the system clock than before.
        let t0 = 1_000_000;
        let mut c = punctual(t0, 50);
        let t1 = due(t0, 50) + 6_000;
        for j in 0..WINDOW as u32 {
            c.cycle((50 + j) * N, due(t1, j));
        }
        let last = due(t1, WINDOW as u32 - 1);
        let at = c.offset_of(last);
        assert!(at.abs() < 0.1, "{at}");
        // One cycle into the restart the old schedule still stands: 6 ms (288 frames) off.
        let mut d = punctual(t0, 50);
        d.cycle(50 * N, t1);
        assert!((d.offset_of(t1) - 288.0).abs() < 0.1, "{}", d.offset_of(t1));
    }

    #[test]
    fn the_32_bit_frame_counter_wraps_without_a_jump() {
        let mut c = FrameClock::new(RATE);
        let first = u32::MAX - 2 * N + 1;
        let t0 = 9_000_000;
        for k in 0..5u32 {
            c.cycle(first.wrapping_add(k * N), due(t0, k));
        }
        let at = c.offset_of(due(t0, 4) + 1_000);
        assert!((at - 48.0).abs() < 0.1, "{at}");
    }
}
