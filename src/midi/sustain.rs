//! The sustain pedal (controller 64): notes released while the pedal is down keep sounding.
//!
//! The rule, as pretty_midi-based tools and miditok apply it: a note whose note-off falls while
//! the pedal is down (`down <= off < up`) ends when the pedal comes up, or earlier when the same
//! pitch is struck again on the same channel, whichever comes first. A note is never shortened.
//! The reader applies this per track and channel.

/// Pedal-down spans of one channel, built from its controller-64 events in time order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Pedal {
    /// Closed spans `(down, up)`, `down < up`, sorted and disjoint.
    spans: Vec<(u64, u64)>,
    /// Tick the pedal went down at, while it is down.
    down_since: Option<u64>,
}

impl Pedal {
    /// Feed a controller-64 event (`value >= 64` is down). Ticks must not decrease.
    pub(crate) fn event(&mut self, tick: u64, value: u8) {
        match (value >= 64, self.down_since) {
            (true, None) => self.down_since = Some(tick),
            (false, Some(down)) => {
                self.down_since = None;
                if tick > down {
                    self.spans.push((down, tick));
                }
            }
            _ => {}
        }
    }

    /// Close a pedal still down at the end of the track.
    pub(crate) fn finish(&mut self, end: u64) {
        if let Some(down) = self.down_since.take() {
            if end > down {
                self.spans.push((down, end));
            }
        }
    }

    /// Number of stored spans (for the reader's memory cap).
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The tick the pedal comes up at, if it is down at `tick`.
    fn up_after(&self, tick: u64) -> Option<u64> {
        let i = self.spans.partition_point(|s| s.0 <= tick);
        let (down, up) = *self.spans.get(i.checked_sub(1)?)?;
        (down <= tick && tick < up).then_some(up)
    }

    /// Whether the pedal never went down.
    pub(crate) fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// One note of one channel as the sustain rule sees it.
pub(crate) trait Sustainable {
    fn pitch(&self) -> u8;
    fn start(&self) -> u64;
    fn end(&self) -> u64;
    fn set_end(&mut self, end: u64);
}

/// Extend the notes of one channel (any order) under `pedal`.
pub(crate) fn apply<N: Sustainable>(notes: &mut [N], pedal: &Pedal) {
    if pedal.is_empty() || notes.is_empty() {
        return;
    }
    // Order by (pitch, start) so the next strike of a pitch is the next note with a later start.
    let mut order: Vec<usize> = (0..notes.len()).collect();
    order.sort_by_key(|&i| (notes[i].pitch(), notes[i].start()));
    let mut next_strike: Option<(u8, u64)> = None; // (pitch, start) of the nearest later strike
    let mut j = order.len();
    // Walk backwards so `next_strike` always holds the earliest strike with a strictly later start.
    let mut pending_equal: Vec<usize> = Vec::new();
    while j > 0 {
        j -= 1;
        let i = order[j];
        let (pitch, start) = (notes[i].pitch(), notes[i].start());
        // Group notes with the same (pitch, start): they share the same next strike.
        pending_equal.clear();
        pending_equal.push(i);
        while j > 0 {
            let k = order[j - 1];
            if notes[k].pitch() == pitch && notes[k].start() == start {
                pending_equal.push(k);
                j -= 1;
            } else {
                break;
            }
        }
        let strike = match next_strike {
            Some((p, s)) if p == pitch => Some(s),
            _ => None,
        };
        for &k in &pending_equal {
            let off = notes[k].end();
            if let Some(up) = pedal.up_after(off) {
                let limit = strike.map_or(up, |s| s.min(up));
                if limit > off {
                    notes[k].set_end(limit);
                }
            }
        }
        next_strike = Some((pitch, start));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct N(u8, u64, u64);
    impl Sustainable for N {
        fn pitch(&self) -> u8 {
            self.0
        }
        fn start(&self) -> u64 {
            self.1
        }
        fn end(&self) -> u64 {
            self.2
        }
        fn set_end(&mut self, end: u64) {
            self.2 = end;
        }
    }

    fn pedal(events: &[(u64, u8)], end: u64) -> Pedal {
        let mut p = Pedal::default();
        for &(t, v) in events {
            p.event(t, v);
        }
        p.finish(end);
        p
    }

    #[test]
    fn spans_ignore_repeated_downs_and_ups() {
        let p = pedal(&[(0, 10), (5, 127), (7, 100), (9, 0), (12, 0), (20, 64)], 30);
        assert_eq!(p.spans, vec![(5, 9), (20, 30)]);
        assert_eq!(p.up_after(5), Some(9));
        assert_eq!(p.up_after(8), Some(9));
        assert_eq!(p.up_after(9), None);
        assert_eq!(p.up_after(4), None);
        assert_eq!(p.up_after(29), Some(30));
    }

    #[test]
    fn release_under_pedal_extends_to_pedal_up_or_next_strike() {
        // Pedal down 10..100.
        let p = pedal(&[(10, 127), (100, 0)], 200);
        let mut notes = vec![
            N(60, 0, 20),  // released under the pedal, no restrike: ends at 100
            N(62, 0, 5),   // released before the pedal: unchanged
            N(64, 0, 20),  // released under the pedal, restruck at 50: ends at 50
            N(64, 50, 60), // released under the pedal: ends at 100
            N(65, 0, 100), // released exactly when the pedal comes up: unchanged
            N(67, 0, 150), // released after the pedal: unchanged
            N(69, 0, 30),  // restruck at 20 (before its own release): unchanged (never shorter)
            N(69, 20, 40), // ends at 100
        ];
        apply(&mut notes, &p);
        let ends: Vec<u64> = notes.iter().map(|n| n.2).collect();
        assert_eq!(ends, vec![100, 5, 50, 100, 100, 150, 30, 100]);
    }

    #[test]
    fn notes_struck_together_share_the_next_strike() {
        let p = pedal(&[(0, 127)], 1000);
        let mut notes = vec![N(60, 0, 10), N(60, 0, 20), N(60, 300, 310)];
        apply(&mut notes, &p);
        assert_eq!(notes, vec![N(60, 0, 300), N(60, 0, 300), N(60, 300, 1000)]);
    }
}
