//! Inference on a trained HMM: the scaled forward pass (per-token log-probabilities), Viterbi
//! decoding in log space, and the filtering [`HmmStream`] that the sampler drives.

use rayon::prelude::*;

use super::kernels::{matvec_t, simd};
use super::model::HmmModel;
use crate::models::TokenStream;
use crate::tokens::TokenId;

/// The log-probability reported for a token the model gives zero probability (a token outside
/// the vocabulary, or one every reachable state cannot emit): `ln(f64::MIN_POSITIVE)`, about
/// -708, so scores stay finite.
pub const IMPOSSIBLE_LOG_PROB: f64 = -708.396_418_532_264_1;

impl HmmModel {
    /// `ln p(o_t | o_<t)` for every token after the first (BOS, context only): the logarithms of
    /// the forward pass's scaling factors. Never `-inf` (see [`IMPOSSIBLE_LOG_PROB`]).
    pub fn token_log_probs(&self, tokens: &[TokenId]) -> Vec<f64> {
        if tokens.len() < 2 {
            return Vec::new();
        }
        if self.conditions.is_some() {
            // Rescaled predictions: read from the stream, token by token.
            let mut stream = HmmStream::new(self, &tokens[..1]);
            let mut probs = Vec::new();
            return tokens[1..]
                .iter()
                .map(|&t| {
                    crate::models::TokenStream::next_probs(&mut stream, &mut probs);
                    let p = probs.get(usize::from(t)).copied().unwrap_or(0.0);
                    stream.advance(t);
                    if p > 0.0 {
                        p.ln()
                    } else {
                        IMPOSSIBLE_LOG_PROB
                    }
                })
                .collect();
        }
        if simd::fma_available() {
            // SAFETY: the CPU has the features `forward_fma` is compiled for.
            #[cfg(target_arch = "x86_64")]
            return unsafe { forward_fma(self, &tokens[1..]) };
        }
        forward::<false>(self, &tokens[1..])
    }

    /// Total log-likelihood of `sequences` (each starting with BOS), in parallel.
    pub fn log_likelihood(&self, sequences: &[Vec<TokenId>]) -> f64 {
        sequences.par_iter().map(|s| self.token_log_probs(s).iter().sum::<f64>()).sum()
    }

    /// The most likely state of each token after the first (BOS) under the model, by Viterbi in
    /// log space. Tokens outside the vocabulary carry no evidence (every state emits them with
    /// log-probability 0 here). Ties go to the lowest state index.
    pub fn viterbi(&self, tokens: &[TokenId]) -> Vec<usize> {
        let obs = tokens.get(1..).unwrap_or(&[]);
        let (k, t_len) = (self.k, obs.len());
        if t_len == 0 {
            return Vec::new();
        }
        let log_at: Vec<f64> = self.at.iter().map(|x| x.ln()).collect();
        let log_emit = |o: TokenId, out: &mut [f64]| match self.emission_column(o) {
            Some(col) => out.iter_mut().zip(col).for_each(|(d, p)| *d = p.ln()),
            None => out.fill(0.0),
        };
        let mut back = vec![0u32; t_len * k];
        let mut delta = vec![0.0; k];
        let mut next = vec![0.0; k];
        let mut emit = vec![0.0; k];
        log_emit(obs[0], &mut emit);
        for i in 0..k {
            delta[i] = self.pi[i].ln() + emit[i];
        }
        for (t, &o) in obs.iter().enumerate().skip(1) {
            log_emit(o, &mut emit);
            for j in 0..k {
                let row = &log_at[j * k..(j + 1) * k];
                let (mut best, mut arg) = (f64::NEG_INFINITY, 0usize);
                for (i, (d, la)) in delta.iter().zip(row).enumerate() {
                    let s = d + la;
                    if s > best {
                        best = s;
                        arg = i;
                    }
                }
                next[j] = best + emit[j];
                back[t * k + j] = arg as u32;
            }
            std::mem::swap(&mut delta, &mut next);
        }
        let mut state = argmax(&delta);
        let mut path = vec![0usize; t_len];
        for t in (0..t_len).rev() {
            path[t] = state;
            state = back[t * k + state] as usize;
        }
        path
    }
}

use crate::math::argmax;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_fma(m: &HmmModel, obs: &[TokenId]) -> Vec<f64> {
    forward::<true>(m, obs)
}

/// The scaled forward pass over observations `obs` (BOS already dropped): `ln c_t` per step.
#[inline(always)]
fn forward<const FMA: bool>(m: &HmmModel, obs: &[TokenId]) -> Vec<f64> {
    let mut out = Vec::with_capacity(obs.len());
    let mut pred = m.pi.clone();
    let mut alpha = vec![0.0; m.k];
    for &o in obs {
        out.push(filter_step::<FMA>(m, &pred, o, &mut alpha));
        matvec_t::<FMA>(&m.a, &alpha, &mut pred);
    }
    out
}

/// One filtering step: from the predicted state distribution `pred`, condition on token `o` into
/// `alpha` (normalized) and return `ln p(o | past)`. An impossible token leaves `alpha = pred`.
#[inline(always)]
fn filter_step<const FMA: bool>(m: &HmmModel, pred: &[f64], o: TokenId, alpha: &mut [f64]) -> f64 {
    let c = match m.emission_column(o) {
        Some(col) => {
            let mut c = 0.0;
            for ((a, p), e) in alpha.iter_mut().zip(pred).zip(col) {
                *a = p * e;
                c += *a;
            }
            c
        }
        None => 0.0,
    };
    if c > 0.0 && c.is_finite() {
        let inv = 1.0 / c;
        alpha.iter_mut().for_each(|a| *a *= inv);
        c.ln().max(IMPOSSIBLE_LOG_PROB)
    } else {
        alpha.copy_from_slice(pred);
        IMPOSSIBLE_LOG_PROB
    }
}

/// Forward filtering as a [`TokenStream`]: holds the predicted distribution of the next hidden
/// state given every token pushed so far, so sampling conditions on the whole primer.
#[derive(Debug, Clone)]
pub struct HmmStream<'a> {
    model: &'a HmmModel,
    /// With conditions: the chain's stream, which rescales each prediction.
    conditions: Option<crate::models::markov::MarkovStream<'a>>,
    /// `P(next state | tokens so far)`.
    pred: Vec<f64>,
    /// Scratch: the filtered distribution of the current state.
    alpha: Vec<f64>,
}

impl<'a> HmmStream<'a> {
    /// A stream that has consumed `primer` (its first token, BOS, is context only).
    pub fn new(model: &'a HmmModel, primer: &[TokenId]) -> Self {
        let conditions = model
            .conditions
            .as_deref()
            .map(|c| crate::models::markov::MarkovStream::new(c, &primer[..primer.len().min(1)]));
        let mut s = HmmStream { model, conditions, pred: model.pi.clone(), alpha: vec![0.0; model.k] };
        for &t in primer.iter().skip(1) {
            s.advance(t);
        }
        s
    }

    /// Condition on one more token.
    fn advance(&mut self, token: TokenId) {
        if let Some(c) = &mut self.conditions {
            c.advance(token);
        }
        filter_step::<false>(self.model, &self.pred, token, &mut self.alpha);
        matvec_t::<false>(&self.model.a, &self.alpha, &mut self.pred);
    }

    /// The predicted distribution of the next hidden state.
    pub fn state_distribution(&self) -> &[f64] {
        &self.pred
    }
}

impl TokenStream for HmmStream<'_> {
    fn next_probs(&mut self, out: &mut Vec<f64>) {
        let m = self.model;
        out.clear();
        out.resize(m.v, 0.0);
        matvec_t::<false>(&m.b, &self.pred, out);
        let total: f64 = out.iter().sum();
        if total > 0.0 && total.is_finite() {
            let inv = 1.0 / total;
            out.iter_mut().for_each(|p| *p *= inv);
        }
        if let Some(c) = &self.conditions {
            c.rescale(out);
        }
    }

    fn push(&mut self, token: TokenId) -> crate::Result<()> {
        self.advance(token);
        Ok(())
    }
}
