//! Scoring and sampling with a trained [`LstmModel`]: the [`Generator`] implementation.
//!
//! Everything runs under `tch::no_grad` in evaluation mode (no dropout). Sampling is
//! incremental: the LSTM state is kept and one token per sequence is fed per step.
//! [`Generator::generate_batch`] runs all primers as one batch on the device and draws each
//! row's token with [`crate::sampler::Sampler::pick`] and that row's own RNG
//! ([`crate::sampler::rng_for`]) and note guard, so row `i` is the same sample alone or in a
//! batch.

use tch::{Kind, Tensor};

use super::model::{token_tensor, LstmModel, Net, State};
use super::payload::to_f32_vec;
use crate::models::{Generator, ModelKind, TokenStream};
use crate::sampler::{rng_for, Sampler};
use crate::tokens::{TokenId, BOS, EOS};

/// Longest stretch of tokens fed to the network in one call by [`Generator::log_probs`] and
/// when priming (the state carries across chunks, so results do not depend on it beyond
/// rounding).
pub const CHUNK: usize = 1024;

/// Floor for `ln p` of a token id outside the vocabulary (never `-inf`).
const MIN_LOG_PROB: f64 = -1e4;

/// Feed `tokens` (`[batch, time]`, already on the device) in chunks of [`CHUNK`] steps from
/// `state`; returns the softmax over the vocabulary after the last step (`[batch, vocab]`, f32)
/// and the final state.
fn prime(net: &Net, tokens: &Tensor, mut state: Option<State>) -> (Tensor, State) {
    let len = tokens.size()[1];
    let mut last = None;
    let mut start = 0;
    while start < len {
        let n = (len - start).min(CHUNK as i64);
        let (logits, s) = net.forward(&tokens.narrow(1, start, n), state.as_ref(), false, false);
        last = Some(logits.select(1, n - 1).softmax(-1, Kind::Float));
        state = Some(s);
        start += n;
    }
    let state = state.unwrap_or_else(|| net.zero_state(tokens.size()[0], Kind::Float));
    let probs =
        last.unwrap_or_else(|| Tensor::zeros([tokens.size()[0], net.vocab], (Kind::Float, net.device)));
    (probs, state)
}

/// A primer as the network reads it: BOS when empty.
fn primer_or_bos(primer: &[TokenId]) -> &[TokenId] {
    if primer.is_empty() {
        &[BOS]
    } else {
        primer
    }
}

/// Rows of a `[batch, vocab]` tensor as f64 vectors on the CPU.
fn rows_f64(probs: &Tensor) -> Vec<Vec<f64>> {
    let v = probs.size().get(1).copied().unwrap_or(0).max(1) as usize;
    let flat = to_f32_vec(probs).unwrap_or_default();
    flat.chunks(v).map(|r| r.iter().map(|&p| f64::from(p)).collect()).collect()
}

/// A primed LSTM: the recurrent state after the tokens pushed so far.
pub struct LstmStream<'a> {
    model: &'a LstmModel,
    state: State,
    /// Distribution of the next token, on the CPU.
    next: Vec<f64>,
}

impl TokenStream for LstmStream<'_> {
    fn next_probs(&mut self, out: &mut Vec<f64>) {
        out.clear();
        out.extend_from_slice(&self.next);
    }

    fn push(&mut self, token: TokenId) {
        let net = self.model.net();
        let (probs, state) = tch::no_grad(|| {
            let input = token_tensor(&[token], net.vocab, net.device).unsqueeze(0);
            let state = (self.state.0.shallow_clone(), self.state.1.shallow_clone());
            prime(&net, &input, Some(state))
        });
        self.state = state;
        self.next = rows_f64(&probs).pop().unwrap_or_default();
    }
}

impl LstmModel {
    /// `ln p(tokens[i] | tokens[..i])` for `i` in `1..len` as f32 logits reduced in f32, then
    /// widened.
    fn score(&self, tokens: &[TokenId]) -> Vec<f64> {
        if tokens.len() < 2 {
            return Vec::new();
        }
        let net = self.net();
        tch::no_grad(|| {
            let input = token_tensor(&tokens[..tokens.len() - 1], net.vocab, net.device).unsqueeze(0);
            let mut out = Vec::with_capacity(tokens.len() - 1);
            let mut state: Option<State> = None;
            let len = input.size()[1];
            let mut start = 0;
            while start < len {
                let n = (len - start).min(CHUNK as i64);
                let (logits, s) = net.forward(&input.narrow(1, start, n), state.as_ref(), false, false);
                state = Some(s);
                let logp = logits.squeeze_dim(0).log_softmax(-1, Kind::Float);
                let targets = &tokens[1 + start as usize..1 + (start + n) as usize];
                let in_vocab: Vec<i64> = targets
                    .iter()
                    .map(|&t| if i64::from(t) < net.vocab { i64::from(t) } else { 0 })
                    .collect();
                let idx = Tensor::from_slice(&in_vocab).to_device(net.device).unsqueeze(1);
                let picked = to_f32_vec(&logp.gather(1, &idx, false)).unwrap_or_default();
                for (&t, &lp) in targets.iter().zip(&picked) {
                    let lp = f64::from(lp);
                    out.push(if i64::from(t) < net.vocab && lp.is_finite() {
                        lp.max(MIN_LOG_PROB)
                    } else {
                        MIN_LOG_PROB
                    });
                }
                start += n;
            }
            out
        })
    }

    /// Sample one continuation per primer as one batch (see the module doc).
    fn sample_batch(
        &self,
        primers: &[Vec<TokenId>],
        max_new: usize,
        sampler: &Sampler,
        seed: u64,
    ) -> Vec<Vec<TokenId>> {
        let mut outs: Vec<Vec<TokenId>> = vec![Vec::new(); primers.len()];
        if primers.is_empty() || max_new == 0 {
            return outs;
        }
        let net = self.net();
        tch::no_grad(|| {
            let device = net.device;
            // Prime primers of equal length together.
            let mut by_len: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
            for (i, p) in primers.iter().enumerate() {
                by_len.entry(primer_or_bos(p).len()).or_default().push(i);
            }
            let mut h_rows: Vec<Option<Tensor>> = (0..primers.len()).map(|_| None).collect();
            let mut c_rows: Vec<Option<Tensor>> = (0..primers.len()).map(|_| None).collect();
            let mut p_rows: Vec<Option<Tensor>> = (0..primers.len()).map(|_| None).collect();
            for rows in by_len.values() {
                let ids: Vec<Tensor> = rows
                    .iter()
                    .map(|&i| token_tensor(primer_or_bos(&primers[i]), net.vocab, device))
                    .collect();
                let (probs, (h, c)) = prime(&net, &Tensor::stack(&ids, 0), None);
                for (k, &i) in rows.iter().enumerate() {
                    let k = k as i64;
                    h_rows[i] = Some(h.narrow(1, k, 1));
                    c_rows[i] = Some(c.narrow(1, k, 1));
                    p_rows[i] = Some(probs.narrow(0, k, 1));
                }
            }
            let cat = |rows: Vec<Option<Tensor>>, dim: i64| {
                Tensor::cat(&rows.into_iter().flatten().collect::<Vec<_>>(), dim)
            };
            let mut state = (cat(h_rows, 1), cat(c_rows, 1));
            let mut probs = cat(p_rows, 0);
            // `active[k]` is the primer index of batch row `k`.
            let mut active: Vec<usize> = (0..primers.len()).collect();
            let mut guards: Vec<_> = primers.iter().map(|p| sampler.guard(primer_or_bos(p))).collect();
            let mut rngs: Vec<_> = (0..primers.len()).map(|i| rng_for(seed, i as u64)).collect();
            for _ in 0..max_new {
                let mut rows = rows_f64(&probs);
                let mut keep = Vec::with_capacity(active.len());
                let mut next = Vec::with_capacity(active.len());
                for (k, &i) in active.iter().enumerate() {
                    let t = sampler.pick_guarded(&mut rows[k], guards[i].as_mut(), &mut rngs[i]);
                    outs[i].push(t);
                    if t != EOS && outs[i].len() < max_new {
                        keep.push(k as i64);
                        next.push(t);
                    }
                }
                if next.is_empty() {
                    break;
                }
                if keep.len() < active.len() {
                    let idx = Tensor::from_slice(&keep).to_device(device);
                    state = (state.0.index_select(1, &idx), state.1.index_select(1, &idx));
                    active = keep.iter().map(|&k| active[k as usize]).collect();
                }
                let input = token_tensor(&next, net.vocab, device).unsqueeze(1);
                let (p, s) = prime(&net, &input, Some(state));
                probs = p;
                state = s;
            }
        });
        outs
    }
}

impl Generator for LstmModel {
    fn kind(&self) -> ModelKind {
        ModelKind::Lstm
    }

    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn log_probs(&self, tokens: &[TokenId]) -> Vec<f64> {
        self.score(tokens)
    }

    fn stream(&self, primer: &[TokenId]) -> Box<dyn TokenStream + '_> {
        let (probs, state) = {
            let net = self.net();
            tch::no_grad(|| {
                let input = token_tensor(primer_or_bos(primer), net.vocab, net.device).unsqueeze(0);
                prime(&net, &input, None)
            })
        };
        let next = rows_f64(&probs).pop().unwrap_or_default();
        Box::new(LstmStream { model: self, state, next })
    }

    fn generate_batch(
        &self,
        primers: &[Vec<TokenId>],
        max_new_tokens: usize,
        sampler: &Sampler,
        rng_seed: u64,
    ) -> Vec<Vec<TokenId>> {
        self.sample_batch(primers, max_new_tokens, sampler, rng_seed)
    }
}
