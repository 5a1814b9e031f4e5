//! Note density: how many notes a piece plays per beat, and which of several candidate samples
//! are the sparse, middle or dense ones (`generate --density low|medium|high`).
//!
//! Density is chosen, not conditioned: a job samples several candidates and keeps one of the
//! third whose density it was asked for (the sparsest, the middle or the densest of them), so
//! it works with every model and checkpoint. The scale is the model's own: "low" is sparse for
//! what this model writes from this seed.

use crate::error::{Error, Result};
use crate::midi::Piece;

/// A density asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Density {
    Low,
    Medium,
    High,
}

impl std::str::FromStr for Density {
    type Err = Error;
    fn from_str(s: &str) -> Result<Density> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Density::Low),
            "medium" => Ok(Density::Medium),
            "high" => Ok(Density::High),
            _ => Err(Error::setting("density", format!("`{s}`"), "low, medium or high")),
        }
    }
}

impl std::fmt::Display for Density {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Density::Low => "low",
            Density::Medium => "medium",
            Density::High => "high",
        })
    }
}

/// Notes per beat (quarter note) of the notes of `piece` that start at or after `from` (ticks):
/// their count over the beats from `from` to the end of the last of them (at least one beat).
/// 0 when none starts there.
pub fn notes_per_beat(piece: &Piece, from: u64) -> f64 {
    let notes = piece.instruments.iter().flat_map(|i| &i.notes).filter(|n| n.start >= from);
    let (count, end) = notes.fold((0usize, from), |(c, e), n| (c + 1, e.max(n.end)));
    if count == 0 {
        return 0.0;
    }
    let beats = (end - from) as f64 / f64::from(piece.ticks_per_beat.max(1));
    count as f64 / beats.max(1.0)
}

/// The candidates (indexes into `densities`) in the third `want` asks for, best first: the
/// sparsest third from the sparsest, the densest third from the densest, the middle from the
/// median out. Of n candidates, the outer thirds hold ceil(n/3) each and the middle the rest (or,
/// when nothing is left for it, every candidate). Never empty when `densities` is not.
pub fn pick(densities: &[f64], want: Density) -> Vec<usize> {
    let n = densities.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| densities[a].total_cmp(&densities[b]).then(a.cmp(&b)));
    let third = n.div_ceil(3);
    match want {
        Density::Low => order[..third].to_vec(),
        Density::High => order[n - third..].iter().rev().copied().collect(),
        Density::Medium => {
            let middle = if n > 2 * third { &order[third..n - third] } else { &order[..] };
            let median = densities[order[n / 2]];
            let mut m = middle.to_vec();
            m.sort_by(|&a, &b| {
                (densities[a] - median).abs().total_cmp(&(densities[b] - median).abs()).then(a.cmp(&b))
            });
            m
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{Instrument, Note};

    #[test]
    fn notes_per_beat_counts_from_the_cut() {
        let mut p = Piece::new(480);
        let notes =
            (0..8).map(|i| Note { start: i * 240, end: i * 240 + 240, pitch: 60, velocity: 64 }).collect();
        p.instruments.push(Instrument { notes, ..Default::default() });
        assert_eq!(notes_per_beat(&p, 0), 2.0, "eight eighths in four beats");
        assert_eq!(notes_per_beat(&p, 960), 2.0, "four eighths in the last two beats");
        assert_eq!(notes_per_beat(&p, 1680), 1.0, "one note, counted over one beat at least");
        assert_eq!(notes_per_beat(&p, 5000), 0.0);
    }

    #[test]
    fn pick_takes_the_asked_third_best_first() {
        let d = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0, 0.5];
        assert_eq!(pick(&d, Density::Low), vec![7, 1, 3]);
        assert_eq!(pick(&d, Density::High), vec![4, 6, 2]);
        // Middle: 2.6 and 3.0 around the median 3.0.
        assert_eq!(pick(&d, Density::Medium), vec![0, 5]);
        assert_eq!(pick(&[2.0], Density::Medium), vec![0]);
        assert_eq!(pick(&[2.0, 1.0], Density::Medium), vec![0, 1]);
        assert_eq!(pick(&[2.0, 1.0], Density::Low), vec![1]);
        assert!("loud".parse::<Density>().unwrap_err().to_string().contains("low, medium or high"));
        assert_eq!("High".parse::<Density>().unwrap(), Density::High);
    }
}
