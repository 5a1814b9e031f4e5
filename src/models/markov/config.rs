//! Training options of the Markov generator and the modified Kneser-Ney discount estimates.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest supported n-gram (`order`).
pub const MAX_ORDER: usize = 32;

/// Discounts used when the count-of-counts give no usable estimate (KenLM's
/// `--discount_fallback` defaults).
pub const FALLBACK_DISCOUNTS: [f64; 3] = [0.5, 1.0, 1.5];

/// How the absolute discounts `D1, D2, D3+` of each order are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Discounts {
    /// Chen & Goodman's estimates from each order's count-of-counts (see [`estimate_discounts`]).
    #[default]
    Auto,
    /// The same three discounts for every order (`0 < d_j <= j`).
    Fixed { d1: f64, d2: f64, d3: f64 },
}

/// Options of [`super::MarkovModel::fit`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MarkovConfig {
    /// Longest n-gram: the next token is predicted from up to `order - 1` previous tokens
    /// (1..=[`MAX_ORDER`]).
    ///
    /// The default, 8, comes from held-out bits/token on 432 Bach pieces from the music21
    /// corpus (miditok MIDILike tokens, 600k training tokens): 5.99 / 4.05 / 3.55 / 3.38 /
    /// 3.23 / 3.19 bits at orders 1 / 3 / 5 / 8 / 12 / 16. Most of the gain is in by order 8
    /// (two or three notes of context), while memory and training time keep growing with the
    /// order and longer contexts mostly replay training material verbatim.
    pub order: usize,
    /// Discounts of the interpolated modified Kneser-Ney smoothing.
    pub discounts: Discounts,
}

impl Default for MarkovConfig {
    fn default() -> Self {
        MarkovConfig { order: 8, discounts: Discounts::Auto }
    }
}

impl MarkovConfig {
    /// Check the options.
    pub fn validate(&self) -> Result<()> {
        if self.order == 0 || self.order > MAX_ORDER {
            return Err(Error::setting("markov order", self.order, format!("in 1..={MAX_ORDER}")));
        }
        if let Discounts::Fixed { d1, d2, d3 } = self.discounts {
            check_discounts([d1, d2, d3])?;
        }
        Ok(())
    }
}

/// `0 < D_j <= j` for `j = 1, 2, 3`: every seen context keeps some mass for shorter contexts and
/// no discounted count goes negative.
pub(crate) fn check_discounts(d: [f64; 3]) -> Result<()> {
    for (j, &dj) in d.iter().enumerate() {
        if !(dj > 0.0 && dj <= (j + 1) as f64) {
            return Err(Error::setting(
                ["discount D1", "discount D2", "discount D3"][j],
                dj,
                format!("in (0, {}]", j + 1),
            ));
        }
    }
    Ok(())
}

/// Chen & Goodman's modified Kneser-Ney discounts from the count-of-counts `n[j-1]` = number of
/// n-grams of one order whose (adjusted) count is exactly `j`, `j = 1..=4`:
///
/// `Y = n1 / (n1 + 2 n2)`, `D1 = 1 - 2Y n2/n1`, `D2 = 2 - 3Y n3/n2`, `D3+ = 3 - 4Y n4/n3`.
///
/// Like KenLM with `--discount_fallback`, an order whose estimates are undefined (some `n_j` is
/// 0) or outside `0 < D_j < j` (tiny or degenerate data) gets [`FALLBACK_DISCOUNTS`] instead.
pub fn estimate_discounts(n: [u64; 4]) -> [f64; 3] {
    if n.contains(&0) {
        return FALLBACK_DISCOUNTS;
    }
    let [n1, n2, n3, n4] = n.map(|x| x as f64);
    let y = n1 / (n1 + 2.0 * n2);
    let d = [1.0 - 2.0 * y * n2 / n1, 2.0 - 3.0 * y * n3 / n2, 3.0 - 4.0 * y * n4 / n3];
    if d.iter().enumerate().all(|(j, &dj)| dj > 0.0 && dj < (j + 1) as f64) {
        d
    } else {
        FALLBACK_DISCOUNTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discounts_by_hand() {
        // n = [100, 40, 20, 10]: Y = 100/180; D1 = 1 - 2*Y*0.4; D2 = 2 - 3*Y*0.5; D3 = 3 - 4*Y*0.5.
        let y = 100.0 / 180.0;
        let d = estimate_discounts([100, 40, 20, 10]);
        assert!((d[0] - (1.0 - 0.8 * y)).abs() < 1e-12);
        assert!((d[1] - (2.0 - 1.5 * y)).abs() < 1e-12);
        assert!((d[2] - (3.0 - 2.0 * y)).abs() < 1e-12);
    }

    #[test]
    fn degenerate_counts_fall_back() {
        assert_eq!(estimate_discounts([5, 0, 1, 1]), FALLBACK_DISCOUNTS);
        // Many more threes than twos: D2 = 2 - 3 (10/12) 100 < 0.
        assert_eq!(estimate_discounts([10, 1, 100, 1]), FALLBACK_DISCOUNTS);
    }

    #[test]
    fn config_validation_and_serde() {
        assert!(MarkovConfig::default().validate().is_ok());
        assert!(MarkovConfig { order: 0, ..Default::default() }.validate().is_err());
        assert!(MarkovConfig { order: MAX_ORDER + 1, ..Default::default() }.validate().is_err());
        let bad = Discounts::Fixed { d1: 0.0, d2: 1.0, d3: 1.0 };
        assert!(MarkovConfig { order: 3, discounts: bad }.validate().is_err());
        let c = MarkovConfig { order: 5, discounts: Discounts::Fixed { d1: 0.5, d2: 1.0, d3: 1.5 } };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<MarkovConfig>(&json).unwrap(), c);
        let partial: MarkovConfig = serde_json::from_str(r#"{"order": 3}"#).unwrap();
        assert_eq!(partial, MarkovConfig { order: 3, discounts: Discounts::Auto });
    }
}
