//! The trained model: interpolated modified Kneser-Ney over all orders, scoring and streaming.
//!
//! `p_0(w) = 1 / S` is uniform over the support (every token except PAD and BOS, so `S =
//! vocab_size - 2`), and for `k = 1..=order`, with `h` the last `k - 1` tokens,
//!
//! ```text
//! p_k(w | h) = max(c_k(h w) - D_k(c_k(h w)), 0) / c_k(h) + gamma_k(h) p_{k-1}(w | h[1..])
//! gamma_k(h) = (D_k1 N1(h .) + D_k2 N2(h .) + D_k3 N3+(h .)) / c_k(h)
//! ```
//!
//! if `h` was seen as a context of order `k`, and `p_k(w | h) = p_{k-1}(w | h[1..])` if not.
//! `c_k` is the raw count for the highest order and the continuation count below (see
//! [`super::count`]). Every seen context keeps `gamma > 0` and every order interpolates down to
//! the uniform floor, so every token that can be a target has positive probability in every
//! context, and the distribution sums to 1. PAD and BOS never occur as targets and get exactly 0.
//! At the start of a sequence the context is simply shorter (BOS plus what follows).

use crate::progress::Progress;

use super::condition::{
    conditioned_sequences, ConditionSpec, Conditioned, CONDITION_ORDER, CONDITION_WEIGHT,
};
use super::config::{estimate_discounts, Discounts, MarkovConfig, MAX_ORDER};
use super::count::{count_levels, is_target};
use super::hash::{extend, SEED};
use super::level::Level;
use crate::error::{Error, ModelError, Result};
use crate::models::{Generator, ModelKind, TokenStream};
use crate::tokens::{TokenId, BOS, PAD};

/// What [`Generator::log_probs`] reports for a token the model can never produce (PAD, BOS or a
/// token outside the vocabulary): `ln(f64::MIN_POSITIVE)`, about -708.4, finite as the trait
/// demands.
pub const IMPOSSIBLE_LOG_PROB: f64 = -708.396_418_532_264_1;

/// A smoothed variable-order Markov chain (interpolated modified Kneser-Ney).
#[derive(Debug, Clone, PartialEq)]
pub struct MarkovModel {
    pub(crate) config: MarkovConfig,
    pub(crate) vocab_size: usize,
    /// `levels[k - 1]` holds the n-grams of length `k`.
    pub(crate) levels: Vec<Level>,
    /// The n-grams counted under each piece's control tokens, when the vocabulary has them
    /// (see [`super::condition`]).
    pub(crate) conditioned: Option<Conditioned>,
}

/// Check a vocabulary size: PAD, BOS, EOS and at most `u16` ids.
pub(crate) fn check_vocab_size(vocab_size: usize) -> Result<()> {
    if !(3..=usize::from(u16::MAX) + 1).contains(&vocab_size) {
        return Err(ModelError::VocabSize {
            model: ModelKind::Markov.name(),
            size: vocab_size,
            expected: "3..=65536".into(),
        }
        .into());
    }
    Ok(())
}

/// The orders `--order auto` tries.
pub const AUTO_ORDERS: [usize; 7] = [2, 3, 4, 6, 8, 12, 16];

impl MarkovModel {
    /// Fit one model per order of `orders` (each with `base`'s other settings) and keep the
    /// one with the lowest bits/token on `valid` (the first when `valid` is empty). `on_order`
    /// hears each order's model and validation bits/token (NaN without `valid`); `progress`
    /// each fit's.
    #[allow(clippy::too_many_arguments)]
    pub fn fit_best_order<S: AsRef<[TokenId]> + Sync>(
        base: &MarkovConfig,
        orders: &[usize],
        vocab_size: usize,
        train: &[S],
        valid: &[S],
        conditions: Option<ConditionSpec>,
        progress: Option<&dyn Progress>,
        mut on_order: impl FnMut(&MarkovModel, f64),
    ) -> Result<MarkovModel> {
        let mut best: Option<(f64, MarkovModel)> = None;
        for &order in orders {
            let config = MarkovConfig { order, ..*base };
            let m = MarkovModel::fit_conditioned(&config, vocab_size, train, conditions, progress)?;
            let bits = if valid.is_empty() { f64::NAN } else { crate::models::corpus_bits(&m, valid)?.0 };
            on_order(&m, bits);
            if best.as_ref().is_none_or(|(b, _)| bits < *b || b.is_nan()) {
                best = Some((bits, m));
            }
        }
        best.map(|(_, m)| m).ok_or(Error::Model(ModelError::NoOrders))
    }

    /// Count `train` (sequences starting with BOS) and estimate the discounts.
    ///
    /// Fails on an invalid config or vocabulary size, a token outside the vocabulary, no
    /// tokens to learn from, or more than `u32::MAX` tokens. `progress` advances once per order.
    pub fn fit<S: AsRef<[TokenId]> + Sync>(
        config: &MarkovConfig,
        vocab_size: usize,
        train: &[S],
        progress: Option<&dyn Progress>,
    ) -> Result<MarkovModel> {
        MarkovModel::fit_conditioned(config, vocab_size, train, None, progress)
    }

    /// [`MarkovModel::fit`], also counting every sequence under the conditions its control
    /// prefix states (`conditions`: which tokens are controls; see [`super::condition`]).
    pub fn fit_conditioned<S: AsRef<[TokenId]> + Sync>(
        config: &MarkovConfig,
        vocab_size: usize,
        train: &[S],
        conditions: Option<ConditionSpec>,
        progress: Option<&dyn Progress>,
    ) -> Result<MarkovModel> {
        config.validate()?;
        check_vocab_size(vocab_size)?;
        let discount = |levels: &mut Vec<Level>| {
            for level in levels {
                level.discounts = match config.discounts {
                    Discounts::Auto => estimate_discounts(level.count_of_counts()),
                    Discounts::Fixed { d1, d2, d3 } => [d1, d2, d3],
                };
            }
        };
        let mut levels = count_levels(config.order, vocab_size, train, None, progress)?;
        discount(&mut levels);
        let conditioned = match conditions {
            None => None,
            Some(spec) => {
                let all: Vec<&[TokenId]> = train.iter().map(AsRef::as_ref).collect();
                let (seqs, seeds) = conditioned_sequences(&spec, &all);
                if seqs.is_empty() {
                    None
                } else {
                    let orders = config.order.min(CONDITION_ORDER);
                    let mut levels = count_levels(orders, vocab_size, &seqs, Some(&seeds), progress)?;
                    discount(&mut levels);
                    Some(Conditioned { spec, levels })
                }
            }
        };
        Ok(MarkovModel { config: *config, vocab_size, levels, conditioned })
    }

    /// Which tokens condition the chain (its vocabulary's control tokens), if it was counted
    /// under conditions.
    pub fn conditions(&self) -> Option<&ConditionSpec> {
        self.conditioned.as_ref().map(|c| &c.spec)
    }

    /// The condition seeds `tokens` state (none for a chain without conditions).
    fn seeds_of(&self, tokens: &[TokenId]) -> Vec<u64> {
        self.conditioned.as_ref().map_or_else(Vec::new, |c| c.spec.seeds(tokens))
    }

    /// The options the model was trained with.
    pub fn config(&self) -> &MarkovConfig {
        &self.config
    }

    /// Longest n-gram.
    pub fn order(&self) -> usize {
        self.config.order
    }

    /// `[D1, D2, D3+]` of each order (`[0]` is unigrams).
    pub fn discounts(&self) -> Vec<[f64; 3]> {
        self.levels.iter().map(|l| l.discounts).collect()
    }

    /// Number of distinct n-grams of each length (`[0]` is unigrams).
    pub fn ngram_counts(&self) -> Vec<usize> {
        self.levels.iter().map(Level::ngrams).collect()
    }

    /// Number of distinct contexts of each order.
    pub fn context_counts(&self) -> Vec<usize> {
        self.levels.iter().map(Level::contexts).collect()
    }

    /// Approximate memory held by the model, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.levels.iter().map(Level::heap_bytes).sum::<usize>()
            + self.conditioned.as_ref().map_or(0, Conditioned::heap_bytes)
    }

    /// The seen contexts of `history` (its last `order - 1` tokens) in the plain levels, then
    /// under the condition `seed` (if any): for each, how many orders were found and the index
    /// of each order's context (see [`find_contexts`]).
    fn contexts(&self, history: &[TokenId], seed: Option<u64>) -> Vec<(usize, [usize; MAX_ORDER])> {
        let ctx = &history[history.len().saturating_sub(self.config.order - 1)..];
        let mut all = Vec::with_capacity(2);
        let mut found = [0; MAX_ORDER];
        all.push((find_contexts(&self.levels, SEED, ctx, &mut found), found));
        if let (Some(c), Some(seed)) = (&self.conditioned, seed) {
            let mut found = [0; MAX_ORDER];
            all.push((find_contexts(&c.levels, seed, ctx, &mut found), found));
        }
        all
    }

    /// The level of `k`-grams of context set `i` of [`MarkovModel::contexts`] (0: plain).
    fn level(&self, i: usize, k: usize) -> &Level {
        match (i, &self.conditioned) {
            (0, _) | (_, None) => &self.levels[k - 1],
            (_, Some(c)) => &c.levels[k - 1],
        }
    }

    fn support_size(&self) -> f64 {
        (self.vocab_size - 2) as f64
    }

    /// `p(token | history)`; the context is the last `order - 1` tokens of `history`, under
    /// the conditions its control prefix states (when it holds the whole prefix).
    pub fn prob(&self, history: &[TokenId], token: TokenId) -> f64 {
        self.prob_under(history, &self.seeds_of(history), token)
    }

    /// `p(token | history)` under the condition seeds `seeds`.
    fn prob_under(&self, history: &[TokenId], seeds: &[u64], token: TokenId) -> f64 {
        if usize::from(token) >= self.vocab_size || !is_target(token) {
            return 0.0;
        }
        if !seeds.is_empty() && self.conditioned.is_some() {
            let mut out = Vec::new();
            self.next_probs_under(history, seeds, &mut out);
            return out[usize::from(token)];
        }
        let found = self.contexts(history, None);
        let mut p = 1.0 / self.support_size();
        for k in 1..=self.config.order {
            for (i, (seen, at)) in found.iter().enumerate() {
                if k <= *seen {
                    p = self.level(i, k).interpolate(at[k - 1], token, p);
                }
            }
        }
        p
    }

    /// The distribution of the next token after `history` (resized to the vocabulary), under
    /// the conditions its control prefix states.
    pub fn next_probs(&self, history: &[TokenId], out: &mut Vec<f64>) {
        self.next_probs_under(history, &self.seeds_of(history), out)
    }

    /// The distribution of the next token after `history` under the condition seeds `seeds`:
    /// the plain chain's, times each condition's ratio `p(w | c, h') / p(w | h')` over the short
    /// context `h'` its levels hold, to the power [`CONDITION_WEIGHT`], renormalized (see
    /// [`super::condition`]).
    fn next_probs_under(&self, history: &[TokenId], seeds: &[u64], out: &mut Vec<f64>) {
        self.chain_probs(history, None, self.config.order, out);
        self.rescale(history, seeds, out);
    }

    /// Rescale `out`, a next-token distribution after `history` (from this chain or from
    /// another model over the same vocabulary: the HMM's), by each condition of `seeds`: times
    /// `[p(w | c, h') / p(w | h')] ^ CONDITION_WEIGHT` over the short context `h'`, renormalized.
    /// Unchanged without conditions.
    pub fn rescale(&self, history: &[TokenId], seeds: &[u64], out: &mut [f64]) {
        let Some(c) = self.conditioned.as_ref().filter(|_| !seeds.is_empty()) else { return };
        let short = c.levels.len();
        let (mut plain, mut under) = (Vec::new(), Vec::new());
        self.chain_probs(history, None, short, &mut plain);
        for &seed in seeds {
            self.chain_probs(history, Some(seed), short, &mut under);
            for ((o, &u), &p) in out.iter_mut().zip(&under).zip(&plain) {
                if p > 0.0 {
                    *o *= (u / p).powf(CONDITION_WEIGHT);
                }
            }
        }
        let total: f64 = out.iter().sum();
        if total > 0.0 {
            out.iter_mut().for_each(|x| *x /= total);
        }
    }

    /// The distribution of the next token after `history` from the orders up to `orders`: the
    /// plain levels interpolated order by order, each followed by the level under `seed` (if
    /// any).
    fn chain_probs(&self, history: &[TokenId], seed: Option<u64>, orders: usize, out: &mut Vec<f64>) {
        out.clear();
        out.resize(self.vocab_size, 1.0 / self.support_size());
        out[usize::from(PAD)] = 0.0;
        out[usize::from(BOS)] = 0.0;
        let found = self.contexts(history, seed);
        for k in 1..=orders {
            for (i, (seen, at)) in found.iter().enumerate() {
                if k <= *seen {
                    self.level(i, k).interpolate_all(at[k - 1], out);
                }
            }
        }
    }
}

/// Find the seen contexts of `ctx` (at most `order - 1` tokens, hashed from `seed`) in
/// `levels`, shortest first: fills `found[k - 1]` with the index of the order-`k` context and
/// returns how many orders were found. A longer context is seen only if its suffix is, so the
/// search stops at the first miss.
fn find_contexts(levels: &[Level], seed: u64, ctx: &[TokenId], found: &mut [usize; MAX_ORDER]) -> usize {
    let mut h = seed;
    for k in 1..=levels.len() {
        if k >= 2 {
            if k - 1 > ctx.len() {
                return k - 1;
            }
            h = extend(h, ctx[ctx.len() - (k - 1)]);
        }
        match levels[k - 1].find(h) {
            Some(i) => found[k - 1] = i,
            None => return k - 1,
        }
    }
    levels.len()
}

impl Generator for MarkovModel {
    fn kind(&self) -> ModelKind {
        ModelKind::Markov
    }

    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn log_probs(&self, tokens: &[TokenId]) -> Result<Vec<f64>> {
        // The conditions of the whole prefix hold from its end; inside it, those stated so far.
        let whole = self.seeds_of(tokens);
        let prefix_end = match &self.conditioned {
            Some(c) if tokens.first() == Some(&BOS) => {
                1 + tokens[1..].iter().take_while(|&&t| c.spec.is_control(t)).count()
            }
            _ => 0,
        };
        Ok((1..tokens.len())
            .map(|i| {
                let seeds = if i >= prefix_end { whole.clone() } else { self.seeds_of(&tokens[..i]) };
                let p = self.prob_under(&tokens[..i], &seeds, tokens[i]);
                if p > 0.0 {
                    p.ln()
                } else {
                    IMPOSSIBLE_LOG_PROB
                }
            })
            .collect())
    }

    fn stream(&self, primer: &[TokenId]) -> Result<Box<dyn TokenStream + '_>> {
        Ok(Box::new(MarkovStream::new(self, primer)))
    }
}

/// A [`TokenStream`] over a [`MarkovModel`]: keeps only the last `order - 1` tokens, and the
/// conditions of the control prefix (kept while it is open).
#[derive(Debug, Clone)]
pub struct MarkovStream<'a> {
    model: &'a MarkovModel,
    history: Vec<TokenId>,
    /// BOS and the control tokens after it, while no other token has come (conditioned
    /// chains only).
    prefix: Option<Vec<TokenId>>,
    /// The conditions that prefix states.
    seeds: Vec<u64>,
}

impl TokenStream for MarkovStream<'_> {
    fn next_probs(&mut self, out: &mut Vec<f64>) {
        self.model.next_probs_under(&self.history, &self.seeds, out);
    }

    fn push(&mut self, token: TokenId) -> Result<()> {
        self.advance(token);
        Ok(())
    }
}

impl MarkovStream<'_> {
    /// `out` (a next-token distribution of any model after the tokens this stream read)
    /// rescaled by the conditions of their control prefix ([`MarkovModel::rescale`]).
    pub fn rescale(&self, out: &mut [f64]) {
        self.model.rescale(&self.history, &self.seeds, out);
    }

    /// A stream over `model` that has read `primer`.
    pub fn new<'a>(model: &'a MarkovModel, primer: &[TokenId]) -> MarkovStream<'a> {
        let mut stream = MarkovStream {
            model,
            history: Vec::with_capacity(model.config.order),
            prefix: None,
            seeds: Vec::new(),
        };
        for &t in primer {
            stream.advance(t);
        }
        stream
    }

    /// Keep `token` in the history (the last `order - 1` tokens), and follow the control
    /// prefix.
    pub fn advance(&mut self, token: TokenId) {
        if let Some(c) = &self.model.conditioned {
            if token == BOS {
                self.prefix = Some(vec![BOS]);
                self.seeds.clear();
            } else if let Some(prefix) = &mut self.prefix {
                if c.spec.is_control(token) {
                    prefix.push(token);
                    self.seeds = c.spec.seeds(prefix);
                } else {
                    self.prefix = None;
                }
            }
        }
        let keep = self.model.config.order - 1;
        if keep == 0 {
            return;
        }
        if self.history.len() == keep {
            self.history.remove(0);
        }
        self.history.push(token);
    }
}
