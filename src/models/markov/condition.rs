//! Conditions: a Markov chain that keeps a piece's control tokens (its key, tempo, density and
//! instruments; see `crate::tokens::controls`) in force at every token, not only while they are
//! inside its context.
//!
//! A control prefix `BOS KEY_x TEMPO_y ...` leaves an order-16 context after 16 tokens. So the
//! chain also counts every n-gram of a piece up to [`CONDITION_ORDER`] tokens *under each of its
//! conditions*: one condition per stated control token (key, tempo, density), and one for its
//! whole set of instruments. A conditioned context is the same tokens hashed from another seed
//! ([`super::hash::condition_seed`]), so counting, Kneser-Ney continuation counts and lookups
//! serve them unchanged. The next-token distribution is the plain chain's (all orders), rescaled
//! by what each condition says over the short context `h'`:
//!
//! ```text
//! p(w | h, c1, c2...) ∝ p(w | h) · Π_j [ p(w | c_j, h') / p(w | h') ] ^ CONDITION_WEIGHT
//! ```
//!
//! where `p(w | h')` interpolates the plain levels up to `CONDITION_ORDER` and `p(w | c_j, h')`
//! the same with each order's conditioned level after the plain one (interpolated modified
//! Kneser-Ney, so a context unseen under `c_j` leaves the ratio at 1). This is unigram
//! rescaling (Kneser, Peters and Klakow, 1997) with a short context: the condition tilts every
//! prediction, at token 500 as at token 5, while the long contexts stay shared by all pieces
//! (conditioned long contexts, split 24 ways by key, replay their few pieces: on Bach, counted to
//! order 16 they doubled the copied share). The weight 1/2 tempers counting the evidence twice
//! (the long context already knows much of the key): on Bach it lowered held-out bits/note by
//! 2.9% where weight 1 raised them by 4.3% (README, "Control tokens"). Without a stated
//! condition the chain is exactly the plain one.

use serde::{Deserialize, Serialize};

/// The longest n-gram counted under a condition: 4 tokens, about one note of context under TSD,
/// is what a key needs (which pitches follow, given the key) without the conditioned counts of
/// a few pieces replaying them (measured on Bach in the README, "Control tokens").
pub const CONDITION_ORDER: usize = 4;

/// The exponent of each condition's ratio (see the module doc).
pub const CONDITION_WEIGHT: f64 = 0.5;

use super::hash::condition_seed;
use super::level::Level;
use crate::tokens::{TokenId, BOS};

/// Which tokens are conditions: the control tokens of a vocabulary, `first..end` (after every
/// other base token; BPE merges, which never hold one, come after `end`), of which
/// `instruments..end` form one condition together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionSpec {
    /// The first control token.
    pub first: TokenId,
    /// The first instrument control token (`end` when there are none).
    pub instruments: TokenId,
    /// One past the last control token (the base vocabulary's size).
    pub end: u32,
}

impl ConditionSpec {
    /// Whether `t` is a control token.
    pub fn is_control(&self, t: TokenId) -> bool {
        t >= self.first && u32::from(t) < self.end
    }

    /// The condition seeds stated by the control prefix of `tokens` (the control tokens right
    /// after its BOS): one per key, tempo or density token, one for all instrument tokens.
    pub fn seeds(&self, tokens: &[TokenId]) -> Vec<u64> {
        if tokens.first() != Some(&BOS) {
            return Vec::new();
        }
        let prefix: Vec<TokenId> = tokens[1..].iter().copied().take_while(|&t| self.is_control(t)).collect();
        let mut seeds: Vec<u64> =
            prefix.iter().filter(|&&t| t < self.instruments).map(|&t| condition_seed(&[t])).collect();
        let instruments: Vec<TokenId> = prefix.into_iter().filter(|&t| t >= self.instruments).collect();
        if !instruments.is_empty() {
            seeds.push(condition_seed(&instruments));
        }
        seeds
    }
}

/// The conditioned counts of a chain: its spec and one level per order.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditioned {
    pub spec: ConditionSpec,
    pub(crate) levels: Vec<Level>,
}

impl Conditioned {
    /// Approximate memory held, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.levels.iter().map(Level::heap_bytes).sum()
    }
}

/// Every (sequence, seed) pair to count for the conditioned levels: each training sequence once
/// per condition its prefix states.
pub(crate) fn conditioned_sequences<'a>(
    spec: &ConditionSpec,
    train: &[&'a [TokenId]],
) -> (Vec<&'a [TokenId]>, Vec<u64>) {
    let mut seqs = Vec::new();
    let mut seeds = Vec::new();
    for &seq in train {
        for seed in spec.seeds(seq) {
            seqs.push(seq);
            seeds.push(seed);
        }
    }
    (seqs, seeds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::markov::{MarkovConfig, MarkovModel};
    use crate::models::Generator;

    /// Pieces over tokens 3..=9 stating condition 10 or 11 (and 12 for all of them): under 10,
    /// 4 follows 3; under 11, 5 follows 3.
    fn two_conditions() -> Vec<Vec<TokenId>> {
        (0..20)
            .map(|i| {
                let (c, next) = if i % 2 == 0 { (10, 4) } else { (11, 5) };
                let mut s = vec![BOS, c, 12];
                for j in 0..30 {
                    s.extend([3, next, 6 + (i + j) % 4]);
                }
                s.push(crate::tokens::EOS);
                s
            })
            .collect()
    }

    #[test]
    fn conditions_hold_past_the_context_and_leave_the_plain_chain_alone() {
        let spec = ConditionSpec { first: 10, instruments: 13, end: 13 };
        let train = two_conditions();
        let config = MarkovConfig { order: 2, ..MarkovConfig::default() };
        let plain = MarkovModel::fit(&config, 13, &train, None).unwrap();
        let cond = MarkovModel::fit_conditioned(&config, 13, &train, Some(spec), None).unwrap();
        assert_eq!(cond.levels, plain.levels, "the plain counts are the same");
        // Far from the prefix, after 3: the plain chain is torn between 4 and 5; conditioned
        // on 10 it plays 4, on 11 it plays 5 (with the shared condition 12 stated too).
        let far = |c: TokenId| {
            let mut h = vec![BOS, c, 12];
            h.extend(std::iter::repeat_n([3, 7, 8], 50).flatten());
            h.push(3);
            h
        };
        let (mut p, mut q) = (Vec::new(), Vec::new());
        plain.next_probs(&far(10), &mut p);
        assert!((p[4] - p[5]).abs() < 0.1, "{p:?}");
        for (c, want, other) in [(10, 4, 5), (11, 5, 4)] {
            cond.next_probs(&far(c), &mut q);
            assert!((q.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            assert!(q[want] > 0.8 && q[other] < 0.1, "under {c}: {q:?}");
            // Scoring agrees with the stream.
            let mut seq = far(c);
            seq.push(want as TokenId);
            let lp = cond.log_probs(&seq).unwrap();
            assert!((lp.last().unwrap().exp() - q[want]).abs() < 1e-9);
        }
        // Without a prefix, the conditioned chain is the plain one.
        let bare = [3, 7, 8, 3];
        cond.next_probs(&bare, &mut q);
        plain.next_probs(&bare, &mut p);
        assert_eq!(p, q);
        // Saved and loaded alike; a chain without conditions keeps format version 1.
        assert_eq!(MarkovModel::from_bytes(&cond.to_bytes()).unwrap(), cond);
        assert_eq!(u32::from_le_bytes(plain.to_bytes()[8..12].try_into().unwrap()), 1);
        assert_eq!(u32::from_le_bytes(cond.to_bytes()[8..12].try_into().unwrap()), 2);
    }

    #[test]
    fn seeds_come_from_the_prefix_only_with_instruments_as_one_set() {
        let spec = ConditionSpec { first: 100, instruments: 110, end: 120 };
        assert!(spec.seeds(&[5, 100]).is_empty(), "no BOS, no prefix");
        assert!(spec.seeds(&[BOS, 5, 100]).is_empty(), "controls after music are no prefix");
        let s = spec.seeds(&[BOS, 101, 105, 111, 115, 7, 102]);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0], condition_seed(&[101]));
        assert_eq!(s[2], condition_seed(&[111, 115]));
        assert_ne!(condition_seed(&[111]), condition_seed(&[111, 115]));
    }
}
