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
    pub fn fit_best_order<S: AsRef<[TokenId]> + Sync>(
        base: &MarkovConfig,
        orders: &[usize],
        vocab_size: usize,
        train: &[S],
        valid: &[S],
        progress: Option<&dyn Progress>,
        mut on_order: impl FnMut(&MarkovModel, f64),
    ) -> Result<MarkovModel> {
        let mut best: Option<(f64, MarkovModel)> = None;
        for &order in orders {
            let config = MarkovConfig { order, ..*base };
            let m = MarkovModel::fit(&config, vocab_size, train, progress)?;
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
        config.validate()?;
        check_vocab_size(vocab_size)?;
        let mut levels = count_levels(config.order, vocab_size, train, progress)?;
        for level in &mut levels {
            level.discounts = match config.discounts {
                Discounts::Auto => estimate_discounts(level.count_of_counts()),
                Discounts::Fixed { d1, d2, d3 } => [d1, d2, d3],
            };
        }
        Ok(MarkovModel { config: *config, vocab_size, levels })
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
        self.levels.iter().map(Level::heap_bytes).sum()
    }

    /// Find the seen contexts of `history` (its last `order - 1` tokens), shortest first: fills
    /// `found[k - 1]` with the index of the order-`k` context and returns how many orders were
    /// found. A longer context is seen only if its suffix is, so the search stops at the first
    /// miss.
    fn find_contexts(&self, history: &[TokenId], found: &mut [usize; MAX_ORDER]) -> usize {
        let ctx = &history[history.len().saturating_sub(self.config.order - 1)..];
        let mut h = SEED;
        for k in 1..=self.config.order {
            if k >= 2 {
                if k - 1 > ctx.len() {
                    return k - 1;
                }
                h = extend(h, ctx[ctx.len() - (k - 1)]);
            }
            match self.levels[k - 1].find(h) {
                Some(i) => found[k - 1] = i,
                None => return k - 1,
            }
        }
        self.config.order
    }

    fn support_size(&self) -> f64 {
        (self.vocab_size - 2) as f64
    }

    /// `p(token | history)`; the context is the last `order - 1` tokens of `history`.
    pub fn prob(&self, history: &[TokenId], token: TokenId) -> f64 {
        if usize::from(token) >= self.vocab_size || !is_target(token) {
            return 0.0;
        }
        let mut found = [0; MAX_ORDER];
        let seen = self.find_contexts(history, &mut found);
        let mut p = 1.0 / self.support_size();
        for k in 1..=seen {
            p = self.levels[k - 1].interpolate(found[k - 1], token, p);
        }
        p
    }

    /// The distribution of the next token after `history` (resized to the vocabulary).
    pub fn next_probs(&self, history: &[TokenId], out: &mut Vec<f64>) {
        out.clear();
        out.resize(self.vocab_size, 1.0 / self.support_size());
        out[usize::from(PAD)] = 0.0;
        out[usize::from(BOS)] = 0.0;
        let mut found = [0; MAX_ORDER];
        let seen = self.find_contexts(history, &mut found);
        for k in 1..=seen {
            self.levels[k - 1].interpolate_all(found[k - 1], out);
        }
    }
}

impl Generator for MarkovModel {
    fn kind(&self) -> ModelKind {
        ModelKind::Markov
    }

    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn log_probs(&self, tokens: &[TokenId]) -> Result<Vec<f64>> {
        Ok((1..tokens.len())
            .map(|i| {
                let p = self.prob(&tokens[..i], tokens[i]);
                if p > 0.0 {
                    p.ln()
                } else {
                    IMPOSSIBLE_LOG_PROB
                }
            })
            .collect())
    }

    fn stream(&self, primer: &[TokenId]) -> Result<Box<dyn TokenStream + '_>> {
        let mut stream = MarkovStream { model: self, history: Vec::with_capacity(self.config.order) };
        for &t in primer {
            stream.advance(t);
        }
        Ok(Box::new(stream))
    }
}

/// A [`TokenStream`] over a [`MarkovModel`]: keeps only the last `order - 1` tokens.
#[derive(Debug, Clone)]
pub struct MarkovStream<'a> {
    model: &'a MarkovModel,
    history: Vec<TokenId>,
}

impl TokenStream for MarkovStream<'_> {
    fn next_probs(&mut self, out: &mut Vec<f64>) {
        self.model.next_probs(&self.history, out);
    }

    fn push(&mut self, token: TokenId) -> Result<()> {
        self.advance(token);
        Ok(())
    }
}

impl MarkovStream<'_> {
    /// Keep `token` in the history (the last `order - 1` tokens).
    fn advance(&mut self, token: TokenId) {
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
