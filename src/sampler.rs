//! One sampler for every model: temperature, top-k and top-p (nucleus) over a next-token
//! distribution, driven by a seeded, portable RNG (ChaCha8) so equal seeds give equal music.
//! With [`NoteRules`] set, each sequence's [`NoteGuard`] first removes the tokens that would
//! leave it ill-formed (stray NOTE_OFFs, notes past the length cap), and [`Sampler::finished`]
//! closes the notes still sounding when it ends.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::tokens::{NoteGuard, NoteRules, TokenId, BOS, EOS, PAD};

/// The RNG every sampler uses.
pub type SampleRng = ChaCha8Rng;

/// Rows from which [`Sampler::pick_rows`] spreads its work over threads.
pub const PARALLEL_ROWS: usize = 16;

/// The RNG for sample number `index` of a run seeded with `seed`: independent streams, so
/// sample `i` is the same whether it is drawn alone or in a batch.
pub fn rng_for(seed: u64, index: u64) -> SampleRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// How to pick the next token from a distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampler {
    /// Sharpens (< 1) or flattens (> 1) the distribution; 0 picks the most likely token.
    pub temperature: f64,
    /// Keep only the `k` most likely tokens (0 = off).
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose mass reaches `p` (1 = off).
    pub top_p: f64,
    /// Keep every sequence well formed under these rules (see [`NoteGuard`]); `None` samples
    /// whatever the model proposes. [`crate::generate`] and [`crate::compare`] set it from the
    /// model's tokenizer unless asked not to.
    #[serde(skip)]
    pub notes: Option<NoteRules>,
}

/// How sampling is kept well formed, said before the tokenizer is known (the note rules of
/// [`Sampler::notes`] are made from it once it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Guard {
    /// Sample every token as the model proposes it.
    pub unguarded: bool,
    /// Start no note while this many notes already sound.
    pub max_polyphony: Option<usize>,
    /// Let no sampled note end a copy of more than this many notes of the training music
    /// (see [`crate::copies`]); the job supplies the index ([`Guard::rules_with_copies`]).
    #[serde(default)]
    pub max_copy: Option<usize>,
}

impl Guard {
    /// The rules this asks for on sequences of `tokenizer` (`None`: unguarded).
    pub fn rules(&self, tokenizer: &crate::tokens::Tokenizer) -> Option<NoteRules> {
        (!self.unguarded).then(|| NoteRules::new(tokenizer).with_max_polyphony(self.max_polyphony))
    }

    /// [`Guard::rules`] with the copy limit of `max_copy` over `copies`, the index of the
    /// training music. A limit without an index, or on an unguarded sampler, is an error.
    pub fn rules_with_copies(
        &self,
        tokenizer: &crate::tokens::Tokenizer,
        copies: Option<std::sync::Arc<crate::copies::CopyIndex>>,
    ) -> crate::Result<Option<NoteRules>> {
        let Some(max) = self.max_copy else { return Ok(self.rules(tokenizer)) };
        if max == 0 {
            return Err(crate::Error::setting("max-copy", 0, "at least 1 note"));
        }
        let Some(index) = copies else {
            return Err(crate::Error::setting(
                "max-copy",
                max,
                "an index of the training music to check against",
            ));
        };
        match self.rules(tokenizer) {
            None => Err(crate::Error::setting("max-copy", max, "the note guard on (not --unguarded)")),
            Some(r) => Ok(Some(r.with_copy_limit(Some(crate::tokens::CopyLimit::new(index, max))))),
        }
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler { temperature: 1.0, top_k: 0, top_p: 1.0, notes: None }
    }
}

impl Sampler {
    /// Check the options: finite non-negative temperature, `0 < top_p <= 1`.
    pub fn validate(&self) -> crate::Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(crate::Error::setting("temperature", self.temperature, ">= 0"));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(crate::Error::setting("top-p", self.top_p, "in (0, 1]"));
        }
        Ok(())
    }

    /// These options with note rules on (`Some`) or off (`None`).
    pub fn with_notes(self, notes: Option<NoteRules>) -> Self {
        Sampler { notes, ..self }
    }

    /// The guard of a sequence that starts with `primer`, when note rules are on.
    pub fn guard(&self, primer: &[TokenId]) -> Option<NoteGuard> {
        self.notes.as_ref().map(|rules| rules.guard(primer))
    }

    /// Pick the next token of a sequence: `probs` is first masked by its `guard` (if any), which
    /// then reads the picked token.
    pub fn pick_guarded<R: Rng + ?Sized>(
        &self,
        probs: &mut [f64],
        guard: Option<&mut NoteGuard>,
        rng: &mut R,
    ) -> TokenId {
        match guard {
            Some(g) => {
                g.mask(probs);
                let t = self.pick(probs, rng);
                g.push(t);
                t
            }
            None => self.pick(probs, rng),
        }
    }

    /// [`Sampler::pick_guarded`] for many rows at once: row `k` is masked and read by its own
    /// guard and drawn from its own stream, so the result does not depend on how the rows are
    /// spread over threads. From [`PARALLEL_ROWS`] rows on they are spread over rayon's threads
    /// (the guard's mask, one check per token with weight, is most of a batched step's host
    /// work).
    pub fn pick_rows(
        &self,
        rows: &mut [Vec<f64>],
        mut slots: Vec<(Option<&mut NoteGuard>, &mut SampleRng)>,
    ) -> Vec<TokenId> {
        use rayon::prelude::*;
        if rows.len() < PARALLEL_ROWS {
            return rows.iter_mut().zip(slots).map(|(p, (g, r))| self.pick_guarded(p, g, r)).collect();
        }
        rows.par_iter_mut()
            .zip(slots.par_iter_mut())
            .map(|(p, (g, r))| self.pick_guarded(p, g.as_deref_mut(), *r))
            .collect()
    }

    /// A whole sampled sequence (primer and continuation) made ready to decode: with note rules,
    /// the NOTE_OFFs (and instrument switches) that close the notes still sounding at its end
    /// are added, before its EOS if it has one. Without, `tokens` unchanged.
    pub fn finished(&self, mut tokens: Vec<TokenId>) -> Vec<TokenId> {
        if let Some(rules) = &self.notes {
            rules.guard(&tokens).close(&mut tokens);
        }
        tokens
    }

    /// Pick a token from `probs` (non-negative, need not be normalized). PAD and BOS are never
    /// picked. Returns EOS if nothing has positive probability.
    ///
    /// The draw walks the candidates from the most likely down (ties by token id) until a
    /// uniform draw over their total mass is spent; top-p's nucleus is cut by the same walk. Only
    /// as much of that order is made as the walk needs (`spend_ranked`), so a step costs a few
    /// passes over the vocabulary, not a sort of it.
    pub fn pick<R: Rng + ?Sized>(&self, probs: &[f64], rng: &mut R) -> TokenId {
        let mut cand: Vec<Cand> = probs
            .iter()
            .enumerate()
            .filter(|&(i, &p)| i != PAD as usize && i != BOS as usize && p > 0.0 && p.is_finite())
            .map(|(id, &p)| Cand::new(id, p))
            .collect();
        let Some(best) = cand.iter().min_by_key(|c| c.rank) else { return EOS };
        let (best_id, best_p) = (best.id(), best.weight);
        if self.temperature <= 1e-6 {
            return best_id as TokenId;
        }
        if self.temperature != 1.0 {
            let inv = 1.0 / self.temperature;
            let lmax = best_p.ln();
            for c in &mut cand {
                c.weight = ((c.weight.ln() - lmax) * inv).exp();
            }
        }
        if self.top_k > 0 && cand.len() > self.top_k {
            cand.select_nth_unstable_by_key(self.top_k - 1, |c| c.rank);
            cand.truncate(self.top_k);
        }
        let most = cand.iter().map(|c| c.weight).fold(0.0, f64::max);
        if self.top_p < 1.0 {
            // The nucleus: the most likely candidates through the one where the mass reaches
            // `top_p` of the total.
            let total: f64 = cand.iter().map(|c| c.weight).sum();
            let last = spend_ranked(&mut cand, self.top_p * total, most, true);
            cand.truncate(last + 1);
        }
        let total: f64 = cand.iter().map(|c| c.weight).sum();
        let at = spend_ranked(&mut cand, rng.random::<f64>() * total, most, false);
        cand[at].id() as TokenId
    }
}

/// A token a draw may pick: its weight in the draw (its probability, after temperature) and its
/// rank, which orders the walk: most likely first (by the probability the model gave), ties
/// broken by token id. The rank is one integer (the probability's bits, negated, above the id),
/// so ordering candidates is integer comparison and any sort or selection gives one order.
#[derive(Debug, Clone, Copy)]
struct Cand {
    rank: u128,
    weight: f64,
}

impl Cand {
    /// `p` positive and finite: its bits then order as the values do.
    fn new(id: usize, p: f64) -> Cand {
        Cand { rank: (u128::from(!p.to_bits()) << 64) | id as u128, weight: p }
    }

    fn id(&self) -> usize {
        self.rank as u64 as usize
    }
}

/// Candidates small enough to sort and walk one by one; a walk first tries this many of the most
/// likely (where most draws from a trained model end).
const WALK_CHUNK: usize = 32;

/// Where a walk down `cand` in rank order, spending `budget` by each weight, runs out: the index
/// of the candidate that takes the budget below zero (or to zero too, when `inclusive`), or of the
/// last one when rounding leaves some over. `cand` is reordered so that everything before that
/// index ranks above it.
///
/// The order is made only where the walk goes: the [`WALK_CHUNK`] most likely are selected first
/// (unless `most`, the largest weight, says their mass cannot spend the budget); past them the
/// rest is halved around its median rank and the half where the budget runs out kept, until a
/// chunk is left to sort and walk one by one. `cand` must not be empty.
fn spend_ranked(cand: &mut [Cand], mut budget: f64, most: f64, inclusive: bool) -> usize {
    let spent = |b: f64| if inclusive { b <= 0.0 } else { b < 0.0 };
    let (mut lo, mut hi) = (0, cand.len());
    let mut head = if budget < WALK_CHUNK as f64 * most { WALK_CHUNK } else { hi.div_ceil(2) };
    while hi - lo > WALK_CHUNK {
        let rest = &mut cand[lo..hi];
        rest.select_nth_unstable_by_key(head - 1, |c| c.rank);
        let mass: f64 = rest[..head].iter().map(|c| c.weight).sum();
        if spent(budget - mass) {
            hi = lo + head;
        } else {
            budget -= mass;
            lo += head;
        }
        head = (hi - lo).div_ceil(2);
    }
    cand[lo..hi].sort_unstable_by_key(|c| c.rank);
    for (i, c) in cand[lo..hi].iter().enumerate() {
        budget -= c.weight;
        if spent(budget) {
            return lo + i;
        }
    }
    hi - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(s: &Sampler, probs: &[f64], n: usize) -> Vec<usize> {
        let mut rng = rng_for(7, 0);
        let mut c = vec![0; probs.len()];
        for _ in 0..n {
            c[s.pick(probs, &mut rng) as usize] += 1;
        }
        c
    }

    // Index 0 and 1 are PAD and BOS; 2 is EOS; 3.. are ordinary tokens.
    const P: [f64; 6] = [0.3, 0.3, 0.0, 0.1, 0.2, 0.4];

    #[test]
    fn never_picks_pad_or_bos() {
        let c = counts(&Sampler::default(), &P, 2000);
        assert_eq!(c[0] + c[1], 0);
    }

    #[test]
    fn zero_temperature_is_argmax() {
        let s = Sampler { temperature: 0.0, ..Default::default() };
        assert_eq!(counts(&s, &P, 50)[5], 50);
    }

    #[test]
    fn frequencies_follow_probabilities() {
        let c = counts(&Sampler::default(), &P, 70_000);
        let f: Vec<f64> = c.iter().map(|&x| x as f64 / 70_000.0).collect();
        assert!((f[3] - 1.0 / 7.0).abs() < 0.01, "{f:?}");
        assert!((f[5] - 4.0 / 7.0).abs() < 0.01, "{f:?}");
    }

    #[test]
    fn top_k_and_top_p_cut_the_tail() {
        let k = Sampler { top_k: 1, ..Default::default() };
        assert_eq!(counts(&k, &P, 100)[5], 100);
        let p = Sampler { top_p: 0.8, ..Default::default() };
        let c = counts(&p, &P, 5000);
        assert_eq!(c[3], 0, "{c:?}");
        assert!(c[4] > 0 && c[5] > 0);
    }

    #[test]
    fn high_temperature_flattens() {
        let hot = Sampler { temperature: 100.0, ..Default::default() };
        let c = counts(&hot, &P, 30_000);
        let f3 = c[3] as f64 / 30_000.0;
        assert!((f3 - 1.0 / 3.0).abs() < 0.03, "{c:?}");
    }

    /// The draw as first written: every candidate sorted, then walked. The reference the walk
    /// that orders only what it reaches must agree with.
    fn sorted_pick<R: Rng + ?Sized>(s: &Sampler, probs: &[f64], rng: &mut R) -> TokenId {
        let mut cand: Vec<(usize, f64)> = probs
            .iter()
            .enumerate()
            .filter(|&(i, &p)| i != PAD as usize && i != BOS as usize && p > 0.0 && p.is_finite())
            .map(|(i, &p)| (i, p))
            .collect();
        if cand.is_empty() {
            return EOS;
        }
        cand.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if s.temperature <= 1e-6 {
            return cand[0].0 as TokenId;
        }
        if s.temperature != 1.0 {
            let lmax = cand[0].1.ln();
            for c in &mut cand {
                c.1 = ((c.1.ln() - lmax) / s.temperature).exp();
            }
        }
        if s.top_k > 0 && cand.len() > s.top_k {
            cand.truncate(s.top_k);
        }
        if s.top_p < 1.0 {
            let total: f64 = cand.iter().map(|c| c.1).sum();
            let mut acc = 0.0;
            let keep = cand.iter().position(|c| {
                acc += c.1 / total;
                acc >= s.top_p
            });
            cand.truncate(keep.map_or(cand.len(), |k| k + 1));
        }
        let total: f64 = cand.iter().map(|c| c.1).sum();
        let mut r = rng.random::<f64>() * total;
        for &(i, p) in &cand {
            r -= p;
            if r < 0.0 {
                return i as TokenId;
            }
        }
        cand[cand.len() - 1].0 as TokenId
    }

    #[test]
    fn the_partial_walk_draws_what_a_full_sort_draws() {
        // Softmaxes of random logits over a vocabulary the size of midi-like's, peaked and flat,
        // with ties, zeros and a non-finite entry; every sampler setting the command line offers.
        let mut gen = rng_for(11, 0);
        let settings = [
            Sampler::default(),
            Sampler { temperature: 0.7, ..Default::default() },
            Sampler { temperature: 1.6, ..Default::default() },
            Sampler { top_k: 8, ..Default::default() },
            Sampler { top_k: 40, temperature: 0.9, ..Default::default() },
            Sampler { top_p: 0.9, ..Default::default() },
            Sampler { top_p: 0.5, temperature: 1.3, top_k: 50, ..Default::default() },
            Sampler { temperature: 0.0, ..Default::default() },
        ];
        let mut draws = 0;
        for case in 0..600 {
            let v = 3 + gen.random_range(1..400);
            let sharp = [0.5, 2.0, 6.0][case % 3];
            let mut probs: Vec<f64> = (0..v).map(|_| (gen.random::<f64>() * sharp).exp()).collect();
            if case % 5 == 0 {
                for i in (0..v).step_by(7) {
                    probs[i] = probs[v / 2];
                }
            }
            if case % 7 == 0 {
                probs[gen.random_range(0..v)] = 0.0;
                probs[gen.random_range(0..v)] = f64::NAN;
            }
            for s in &settings {
                let (mut a, mut b) = (rng_for(case as u64, 1), rng_for(case as u64, 1));
                for _ in 0..20 {
                    assert_eq!(s.pick(&probs, &mut a), sorted_pick(s, &probs, &mut b), "case {case}, {s:?}");
                    draws += 1;
                }
            }
        }
        assert_eq!(draws, 600 * 8 * 20);
    }

    #[test]
    fn same_seed_same_draws() {
        let s = Sampler::default();
        let a: Vec<_> = {
            let mut r = rng_for(3, 1);
            (0..50).map(|_| s.pick(&P, &mut r)).collect()
        };
        let b: Vec<_> = {
            let mut r = rng_for(3, 1);
            (0..50).map(|_| s.pick(&P, &mut r)).collect()
        };
        let c: Vec<_> = {
            let mut r = rng_for(3, 2);
            (0..50).map(|_| s.pick(&P, &mut r)).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
