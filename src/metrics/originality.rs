//! Originality of generated token sequences: how much of them is copied from the training data.
//!
//! - [`NgramIndex`] holds a 64-bit hash of every `n`-gram of the training sequences; the share of
//!   a sample's `n`-grams found there measures local copying (collisions are possible in
//!   principle, at about `2^-64` per lookup).
//! - [`longest_copied_span`] is the longest common substring of a sample with any training
//!   sequence, exact: a suffix automaton of the (short) sample is built, then every training
//!   sequence is run through it, O(|sample| + |training|).

use std::collections::{HashMap, HashSet};

use crate::tokens::TokenId;

/// Hash of one n-gram (FNV-1a over the token bytes, then a final mix).
fn hash_gram(gram: &[TokenId]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &t in gram {
        for b in t.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// The set of `n`-grams of a collection of sequences.
#[derive(Debug, Clone)]
pub struct NgramIndex {
    n: usize,
    grams: HashSet<u64>,
}

impl NgramIndex {
    /// Index every `n`-gram (`n >= 1`) of `seqs`.
    pub fn new<S: AsRef<[TokenId]>>(n: usize, seqs: &[S]) -> NgramIndex {
        let n = n.max(1);
        let grams = seqs.iter().flat_map(|s| s.as_ref().windows(n).map(hash_gram)).collect();
        NgramIndex { n, grams }
    }

    /// The n-gram length.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Share of the `n`-grams of `sample` found in the index; `None` when `sample` is shorter
    /// than `n`.
    pub fn copied_share(&self, sample: &[TokenId]) -> Option<f64> {
        let total = sample.len().checked_sub(self.n - 1).filter(|&t| t > 0)?;
        let found = sample.windows(self.n).filter(|g| self.grams.contains(&hash_gram(g))).count();
        Some(found as f64 / total as f64)
    }
}

/// A suffix automaton: the minimal automaton of all substrings of one sequence.
struct SuffixAutomaton {
    /// Per state: longest length, suffix link, transitions.
    len: Vec<usize>,
    link: Vec<Option<usize>>,
    next: Vec<HashMap<TokenId, usize>>,
}

impl SuffixAutomaton {
    fn new(s: &[TokenId]) -> SuffixAutomaton {
        let mut sa = SuffixAutomaton { len: vec![0], link: vec![None], next: vec![HashMap::new()] };
        let mut last = 0;
        for &c in s {
            let cur = sa.push(sa.len[last] + 1, None, HashMap::new());
            let mut p = Some(last);
            while let Some(q) = p {
                if sa.next[q].contains_key(&c) {
                    break;
                }
                sa.next[q].insert(c, cur);
                p = sa.link[q];
            }
            match p {
                None => sa.link[cur] = Some(0),
                Some(p) => {
                    let q = sa.next[p][&c];
                    if sa.len[p] + 1 == sa.len[q] {
                        sa.link[cur] = Some(q);
                    } else {
                        let clone = sa.push(sa.len[p] + 1, sa.link[q], sa.next[q].clone());
                        let mut pp = Some(p);
                        while let Some(x) = pp {
                            if sa.next[x].get(&c) != Some(&q) {
                                break;
                            }
                            sa.next[x].insert(c, clone);
                            pp = sa.link[x];
                        }
                        sa.link[q] = Some(clone);
                        sa.link[cur] = Some(clone);
                    }
                }
            }
            last = cur;
        }
        sa
    }

    fn push(&mut self, len: usize, link: Option<usize>, next: HashMap<TokenId, usize>) -> usize {
        self.len.push(len);
        self.link.push(link);
        self.next.push(next);
        self.len.len() - 1
    }

    /// Longest substring of `t` that is also a substring of the automaton's sequence.
    fn longest_match(&self, t: &[TokenId]) -> usize {
        let (mut state, mut len, mut best) = (0usize, 0usize, 0usize);
        for &c in t {
            loop {
                if let Some(&nx) = self.next[state].get(&c) {
                    state = nx;
                    len += 1;
                    break;
                }
                match self.link[state] {
                    Some(l) => {
                        state = l;
                        len = self.len[l];
                    }
                    None => {
                        len = 0;
                        break;
                    }
                }
            }
            best = best.max(len);
        }
        best
    }
}

/// Length of the longest run of `sample` that occurs verbatim in one of `training`.
pub fn longest_copied_span<S: AsRef<[TokenId]> + Sync>(sample: &[TokenId], training: &[S]) -> usize {
    use rayon::prelude::*;
    if sample.is_empty() {
        return 0;
    }
    let sa = SuffixAutomaton::new(sample);
    training.par_iter().map(|t| sa.longest_match(t.as_ref())).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Longest common substring by brute force.
    fn brute(a: &[TokenId], b: &[TokenId]) -> usize {
        let mut best = 0;
        for i in 0..a.len() {
            for j in 0..b.len() {
                let mut k = 0;
                while i + k < a.len() && j + k < b.len() && a[i + k] == b[j + k] {
                    k += 1;
                }
                best = best.max(k);
            }
        }
        best
    }

    #[test]
    fn copied_sample_is_fully_found() {
        let train: Vec<Vec<TokenId>> =
            vec![(0..40).map(|i| (i * 7 % 23) as TokenId).collect(), vec![5, 5, 5]];
        let sample: Vec<TokenId> = train[0][10..30].to_vec();
        let idx = NgramIndex::new(8, &train);
        assert_eq!(idx.copied_share(&sample), Some(1.0));
        assert_eq!(longest_copied_span(&sample, &train), 20);
    }

    #[test]
    fn novel_sample_shares_nothing() {
        let train: Vec<Vec<TokenId>> = vec![(0..50).map(|i| (i % 10) as TokenId).collect()];
        let sample: Vec<TokenId> = (0..30).map(|i| 100 + i).collect();
        let idx = NgramIndex::new(8, &train);
        assert_eq!(idx.copied_share(&sample), Some(0.0));
        assert_eq!(longest_copied_span(&sample, &train), 0);
        assert_eq!(idx.copied_share(&sample[..5]), None);
    }

    #[test]
    fn partial_copy_counts_the_right_grams() {
        // 3-grams of the sample: [1,2,3] [2,3,9] [3,9,9]; only the first is in training.
        let idx = NgramIndex::new(3, &[vec![1u16, 2, 3, 4]]);
        assert_eq!(idx.copied_share(&[1, 2, 3, 9, 9]), Some(1.0 / 3.0));
    }

    #[test]
    fn longest_span_matches_brute_force() {
        let mut x: u64 = 12345;
        let mut rnd = |m: u64| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((x >> 33) % m) as TokenId
        };
        for _ in 0..50 {
            let sample: Vec<TokenId> = (0..30).map(|_| rnd(3)).collect();
            let train: Vec<Vec<TokenId>> = (0..3).map(|_| (0..25).map(|_| rnd(3)).collect()).collect();
            let want = train.iter().map(|t| brute(&sample, t)).max().unwrap();
            assert_eq!(longest_copied_span(&sample, &train), want);
        }
    }
}
