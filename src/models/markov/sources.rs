//! Synthetic token sources with known structure, for tests, benches and speed examples.
//!
//! [`Order2Source`] is a random second-order Markov chain over `symbols` tokens (ids
//! `3..3 + symbols`, after PAD/BOS/EOS): each pair of previous symbols allows `branching`
//! next symbols with random, peaked weights.

use rand::Rng;
use rayon::prelude::*;

use crate::sampler::{rng_for, SampleRng};
use crate::tokens::{TokenId, BOS, EOS};

/// Token id of symbol 0.
pub const FIRST_SYMBOL: TokenId = 3;

/// A random second-order Markov chain over symbols.
#[derive(Debug, Clone, PartialEq)]
pub struct Order2Source {
    symbols: usize,
    branching: usize,
    /// Row `a * symbols + b` (`branching` entries from `(a * symbols + b) * branching`): the
    /// allowed next symbols after `a, b` with cumulative weights.
    rows: Vec<(u16, f64)>,
}

impl Order2Source {
    /// A chain with `symbols` symbols (`2..=65533`) in which each state allows `branching`
    /// (`1..=symbols`) next symbols, with weights `0.02 + u^3` for uniform `u` (peaked, never
    /// zero).
    ///
    /// # Panics
    ///
    /// On sizes outside those ranges (a test and benchmark helper, not for user input).
    pub fn random(symbols: usize, branching: usize, seed: u64) -> Self {
        assert!((2..=65533).contains(&symbols) && (1..=symbols).contains(&branching));
        let mut rng = rng_for(seed, u64::MAX);
        let mut pool: Vec<u16> = (0..symbols as u16).collect();
        let rows = (0..symbols * symbols)
            .flat_map(|_| {
                // Partial Fisher-Yates: the first `branching` entries become a random subset.
                for i in 0..branching {
                    let j = rng.random_range(i..symbols);
                    pool.swap(i, j);
                }
                let weights: Vec<f64> = (0..branching).map(|_| 0.02 + rng.random::<f64>().powi(3)).collect();
                let total: f64 = weights.iter().sum();
                let mut acc = 0.0;
                pool[..branching]
                    .iter()
                    .zip(&weights)
                    .map(|(&s, &w)| {
                        acc += w / total;
                        (s, acc)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        Order2Source { symbols, branching, rows }
    }

    /// Number of symbols.
    pub fn symbols(&self) -> usize {
        self.symbols
    }

    /// Vocabulary size of the sequences it emits (PAD, BOS, EOS and the symbols).
    pub fn vocab_size(&self) -> usize {
        self.symbols + usize::from(FIRST_SYMBOL)
    }

    /// `P(next = c | a, b)` for every symbol `c`.
    pub fn transition(&self, a: usize, b: usize) -> Vec<f64> {
        let mut p = vec![0.0; self.symbols];
        let mut prev = 0.0;
        for &(s, cum) in self.row(a, b) {
            p[usize::from(s)] += cum - prev;
            prev = cum;
        }
        p
    }

    fn row(&self, a: usize, b: usize) -> &[(u16, f64)] {
        let start = (a * self.symbols + b) * self.branching;
        &self.rows[start..start + self.branching]
    }

    /// `BOS`, then `len` symbols (the first two uniform, the rest from the chain), then `EOS`
    /// if `eos`.
    pub fn sample(&self, len: usize, eos: bool, rng: &mut SampleRng) -> Vec<TokenId> {
        let mut out = Vec::with_capacity(len + 2);
        out.push(BOS);
        let (mut a, mut b) = (0usize, 0usize);
        for i in 0..len {
            let s = if i < 2 {
                rng.random_range(0..self.symbols)
            } else {
                let row = self.row(a, b);
                let r = rng.random::<f64>();
                let k = row.iter().position(|&(_, cum)| r < cum).unwrap_or(row.len() - 1);
                usize::from(row[k].0)
            };
            out.push(FIRST_SYMBOL + s as TokenId);
            (a, b) = (b, s);
        }
        if eos {
            out.push(EOS);
        }
        out
    }

    /// About `total_tokens` tokens as sequences of `seq_len` symbols (plus BOS and EOS), drawn
    /// in parallel; sequence `i` depends only on `seed` and `i`.
    pub fn corpus(&self, total_tokens: usize, seq_len: usize, seed: u64) -> Vec<Vec<TokenId>> {
        let n = total_tokens.div_ceil(seq_len + 2).max(1);
        (0..n).into_par_iter().map(|i| self.sample(seq_len, true, &mut rng_for(seed, i as u64))).collect()
    }
}
