//! Scoring and sampling with a trained [`NeuralModel`] of any kind: the [`Generator`]
//! implementation.
//!
//! Everything runs under `tch::no_grad` in evaluation mode (no dropout). Sampling is
//! incremental: the network's state (recurrent state, KV cache) is kept and one token per
//! sequence is fed per step. [`Generator::generate_batch`] primes distinct primers of equal
//! length together, then runs all rows as one batch (the Transformer pads the KV caches of shorter
//! primers and masks the padding) and draws each row's token with
//! [`crate::sampler::Sampler::pick`] and that row's own RNG ([`crate::sampler::rng_for`]) and
//! note guard, so row `i` is the same sample alone or in a batch.
//!
//! Priming is shared: rows with one primer are primed once and their state copied, and the
//! state after the primer primed last is kept ([`Kept`]): a primer that extends it (a live
//! session, whose primer grows by what was played since) feeds only its new tokens. The result
//! equals priming from the start up to rounding (the KV cache and the recurrent state carry
//! exactly what a longer pass would compute).
//!
//! A libtorch failure on any of these paths comes back as [`crate::Error::Torch`] (through
//! [`Generator`] and the inherent `try_*` forms, which return the concrete stream type), never
//! as a panic, a dropped token or an empty distribution.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use tch::{Kind, Tensor};

use super::model::{token_tensor, NeuralModel};
use super::payload::to_f32_vec;
use super::Network;
use crate::error::{Error, ModelError, Result};
use crate::models::{Generator, ModelKind, TokenStream};
use crate::sampler::{rng_for, Sampler};
use crate::tokens::{TokenId, BOS, EOS};

/// Longest stretch of tokens fed to the network in one call when scoring and priming (the
/// state carries across chunks, so results do not depend on it beyond rounding).
pub const CHUNK: usize = 1024;

/// Floor for `ln p` of a token id outside the vocabulary (never `-inf`).
const MIN_LOG_PROB: f64 = -1e4;

fn torch(op: &'static str) -> impl Fn(tch::TchError) -> Error {
    move |source| Error::Torch { op, source }
}

/// Feed `tokens` (`[batch, time]`, already on the device) in chunks of [`CHUNK`] steps after
/// `state`; returns the softmax over the first `out_vocab` tokens (the tokenizer's: a FIM
/// network's sentinels are never sampled) after the last step (`[batch, out_vocab]`, f32; zeros
/// when `tokens` is empty).
fn prime<N: Network>(net: &N, tokens: &Tensor, state: &mut N::State, out_vocab: i64) -> Result<Tensor> {
    let (batch, len) = (tokens.size()[0], tokens.size()[1]);
    let mut last = None;
    let mut start = 0;
    while start < len {
        let n = (len - start).min(CHUNK as i64);
        let logits = net.step(&tokens.f_narrow(1, start, n)?, state)?;
        let logits = logits.f_select(1, n - 1)?.f_narrow(1, 0, out_vocab.min(net.vocab()))?;
        last = Some(logits.f_softmax(-1, Kind::Float).map_err(torch("softmax"))?);
        start += n;
    }
    match last {
        Some(p) => Ok(p),
        None => Ok(Tensor::f_zeros([batch, out_vocab.min(net.vocab())], (Kind::Float, net.device()))?),
    }
}

/// The state after a primer, kept for the next one (batch of one row).
pub(crate) struct Kept<S> {
    tokens: Vec<TokenId>,
    state: S,
    /// The next-token distribution after it (`[1, out_vocab]`).
    probs: Tensor,
}

impl<S> std::fmt::Debug for Kept<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept").field("tokens", &self.tokens.len()).finish_non_exhaustive()
    }
}

/// A primer as the network reads it: BOS when empty.
fn primer_or_bos(primer: &[TokenId]) -> &[TokenId] {
    if primer.is_empty() {
        &[BOS]
    } else {
        primer
    }
}

/// The host's copy of a batch's next-token distributions, its buffers kept from step to step (a
/// batch of 256 rows over a few hundred tokens is most of a megabyte a step otherwise allocated,
/// touched and freed).
#[derive(Default)]
struct HostRows {
    flat: Vec<f32>,
    rows: Vec<Vec<f64>>,
}

impl HostRows {
    /// `probs` (`[batch, vocab]`, f32) copied in, one f64 row per batch row.
    fn read(&mut self, probs: &Tensor) -> Result<&mut [Vec<f64>]> {
        let size = probs.size();
        let (batch, v) =
            (size.first().copied().unwrap_or(0) as usize, size.get(1).copied().unwrap_or(0) as usize);
        self.flat.resize(batch * v, 0.0);
        probs.f_copy_data(&mut self.flat, batch * v).map_err(torch("reading probabilities"))?;
        self.rows.resize_with(batch, Vec::new);
        for (row, values) in self.rows.iter_mut().zip(self.flat.chunks(v.max(1))) {
            row.clear();
            row.extend(values.iter().map(|&p| f64::from(p)));
        }
        Ok(&mut self.rows[..batch])
    }
}

/// Rows of a `[batch, vocab]` f32 tensor as f64 vectors on the CPU (once, no buffers kept).
fn rows_f64(probs: &Tensor) -> Result<Vec<Vec<f64>>> {
    let mut host = HostRows::default();
    host.read(probs)?;
    Ok(host.rows)
}

/// A primed network: its state after the tokens pushed so far.
pub struct NeuralStream<'a, N: Network> {
    model: &'a NeuralModel<N>,
    state: N::State,
    /// Distribution of the next token, on the CPU.
    next: Vec<f64>,
}

impl<N: Network> NeuralStream<'_, N> {
    /// Consume one token (the fallible form of [`TokenStream::push`]).
    pub fn try_push(&mut self, token: TokenId) -> Result<()> {
        let net = self.model.net();
        let probs = tch::no_grad(|| {
            let input = token_tensor(&[token], net.vocab(), net.device())?.f_unsqueeze(0)?;
            prime(&*net, &input, &mut self.state, self.model.vocab_size as i64)
        })?;
        self.next = rows_f64(&probs)?.pop().unwrap_or_default();
        Ok(())
    }
}

impl<N: Network> TokenStream for NeuralStream<'_, N> {
    fn next_probs(&mut self, out: &mut Vec<f64>) {
        out.clear();
        out.extend_from_slice(&self.next);
    }

    fn push(&mut self, token: TokenId) -> Result<()> {
        self.try_push(token)
    }
}

/// The rows decoded together: their state, the next-token distributions and which primer each
/// row still decoding continues.
struct Rows<S> {
    state: S,
    probs: Tensor,
    primers: Vec<usize>,
}

impl<N: Network> NeuralModel<N> {
    /// `ln p(tokens[i] | tokens[..i])` for `i` in `1..len` as f32 logits reduced in f32, then
    /// widened; one entry per scored token.
    pub fn try_log_probs(&self, tokens: &[TokenId]) -> Result<Vec<f64>> {
        if tokens.len() < 2 {
            return Ok(Vec::new());
        }
        let net = self.net();
        // Inputs may hold FIM sentinels; targets and distributions are the tokenizer's tokens.
        let (vocab, device) = (self.vocab_size as i64, net.device());
        tch::no_grad(|| {
            let input = token_tensor(&tokens[..tokens.len() - 1], net.vocab(), device)?.f_unsqueeze(0)?;
            let mut out = Vec::with_capacity(tokens.len() - 1);
            let mut state = net.init_state(1)?;
            let len = input.size()[1];
            let mut start = 0;
            while start < len {
                let n = (len - start).min(CHUNK as i64);
                let logits = net.step(&input.f_narrow(1, start, n)?, &mut state)?;
                let logp = logits
                    .f_squeeze_dim(0)?
                    .f_narrow(1, 0, vocab.min(net.vocab()))?
                    .f_log_softmax(-1, Kind::Float)
                    .map_err(torch("log_softmax"))?;
                let targets = &tokens[1 + start as usize..1 + (start + n) as usize];
                let in_vocab: Vec<i64> =
                    targets.iter().map(|&t| if i64::from(t) < vocab { i64::from(t) } else { 0 }).collect();
                let idx = Tensor::f_from_slice(&in_vocab)?.f_to_device(device)?.f_unsqueeze(1)?;
                let picked = to_f32_vec(&logp.f_gather(1, &idx, false)?)
                    .map_err(torch("reading log-probabilities"))?;
                if picked.len() != targets.len() {
                    return Err(Error::Torch {
                        op: "scoring",
                        source: tch::TchError::Shape(format!(
                            "{} log-probabilities for {} tokens",
                            picked.len(),
                            targets.len()
                        )),
                    });
                }
                for (&t, &lp) in targets.iter().zip(&picked) {
                    let lp = f64::from(lp);
                    out.push(if i64::from(t) < vocab && lp.is_finite() {
                        lp.max(MIN_LOG_PROB)
                    } else {
                        MIN_LOG_PROB
                    });
                }
                start += n;
            }
            Ok(out)
        })
    }

    /// A stream that has read `primer` (the fallible form of [`Generator::stream`]).
    pub fn try_stream(&self, primer: &[TokenId]) -> Result<NeuralStream<'_, N>> {
        let (state, probs) = {
            let net = self.net();
            tch::no_grad(|| self.primed(&net, primer_or_bos(primer), self.vocab_size as i64))?
        };
        let next = rows_f64(&probs)?.pop().unwrap_or_default();
        Ok(NeuralStream { model: self, state, next })
    }

    /// The state and next-token distribution after `primer` (one row): from the state kept
    /// after the primer primed last when that is a prefix of this one (only the new tokens are
    /// fed), else from the start; the result is kept in turn.
    fn primed(&self, net: &N, primer: &[TokenId], out_vocab: i64) -> Result<(N::State, Tensor)> {
        let row = Tensor::f_from_slice(&[0i64])?.f_to_device(net.device())?;
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let from = kept.as_ref().filter(|k| primer.len() >= k.tokens.len() && primer.starts_with(&k.tokens));
        let (mut state, kept_probs, done) = match from {
            Some(k) => (net.select_rows(&k.state, &row)?, Some(k.probs.shallow_clone()), k.tokens.len()),
            None => (net.init_state(1)?, None, 0),
        };
        let rest = &primer[done..];
        let probs = match kept_probs.filter(|_| rest.is_empty()) {
            Some(p) => p,
            None => {
                let input = token_tensor(rest, net.vocab(), net.device())?.f_unsqueeze(0)?;
                self.primed_tokens.fetch_add(rest.len(), Ordering::Relaxed);
                prime(net, &input, &mut state, out_vocab)?
            }
        };
        *kept = Some(Kept {
            tokens: primer.to_vec(),
            state: net.select_rows(&state, &row)?,
            probs: probs.shallow_clone(),
        });
        Ok((state, probs))
    }

    /// Sample one continuation per primer (see the module doc); the fallible form of
    /// [`Generator::generate_batch`].
    pub fn try_generate_batch(
        &self,
        primers: &[Vec<TokenId>],
        max_new: usize,
        sampler: &Sampler,
        seed: u64,
    ) -> Result<Vec<Vec<TokenId>>> {
        self.sample_rows(primers, None, max_new, sampler, seed)
    }

    /// Sample `rows` middles between `before` and `after`, lasting `gap` (time tokens), with a
    /// FIM network (the fallible form of [`Generator::generate_middles`]): each row reads
    /// `PREFIX before SUFFIX after GAP gap MIDDLE`, or `SUFFIX after GAP gap PREFIX before
    /// MIDDLE` for a network trained in that order (see [`super::fim`]; a network of the first
    /// layout reads no GAP section) with both cut to fit the training window
    /// ([`super::fim::fit`]), its guard reads all of `before`, row `i` draws with stream `i`.
    #[allow(clippy::too_many_arguments)]
    pub fn try_generate_middles(
        &self,
        before: &[TokenId],
        after: &[TokenId],
        gap: &[TokenId],
        rows: usize,
        max_new: usize,
        sampler: &Sampler,
        seed: u64,
    ) -> Result<Vec<Vec<TokenId>>> {
        if !self.fills_in_the_middle() {
            return Err(ModelError::NoFillInTheMiddle(N::KIND.name()).into());
        }
        let gap = (self.sentinels != super::fim::SENTINELS_NO_GAP).then_some(gap);
        let read =
            vec![
                super::fim::fitted_primer(before, after, gap, self.window, self.vocab_size, self.fim_order);
                rows
            ];
        let guarded = vec![before.to_vec(); rows];
        self.sample_rows(&read, Some(&guarded), max_new, sampler, seed)
    }

    /// Sample one continuation per primer; each row's guard reads `guarded[i]` when given
    /// (a FIM row reads more than the music before it), else the primer.
    fn sample_rows(
        &self,
        primers: &[Vec<TokenId>],
        guarded: Option<&[Vec<TokenId>]>,
        max_new: usize,
        sampler: &Sampler,
        seed: u64,
    ) -> Result<Vec<Vec<TokenId>>> {
        let out_vocab = self.vocab_size as i64;
        let mut outs: Vec<Vec<TokenId>> = vec![Vec::new(); primers.len()];
        if primers.is_empty() || max_new == 0 {
            return Ok(outs);
        }
        let net = self.net();
        let net = &*net;
        let (vocab, device) = (net.vocab(), net.device());
        tch::no_grad(|| -> Result<()> {
            // Prime primers of equal length together, then split the batches into rows and stack
            // them all as one batch (a Transformer pads the shorter primers' caches).
            let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for (i, p) in primers.iter().enumerate() {
                by_len.entry(primer_or_bos(p).len()).or_default().push(i);
            }
            let mut row_state: Vec<Option<N::State>> = (0..primers.len()).map(|_| None).collect();
            let mut row_probs: Vec<Option<Tensor>> = (0..primers.len()).map(|_| None).collect();
            for rows in by_len.values() {
                // Each distinct primer once (many rows often continue one primer).
                let mut distinct: Vec<&[TokenId]> = Vec::new();
                let mut of_row = Vec::with_capacity(rows.len());
                for &i in rows {
                    let p = primer_or_bos(&primers[i]);
                    of_row.push(distinct.iter().position(|d| *d == p).unwrap_or_else(|| {
                        distinct.push(p);
                        distinct.len() - 1
                    }));
                }
                let (state, probs) = if let [only] = distinct[..] {
                    self.primed(net, only, out_vocab)?
                } else {
                    let ids = distinct
                        .iter()
                        .map(|p| token_tensor(p, vocab, device))
                        .collect::<Result<Vec<_>>>()?;
                    let mut state = net.init_state(distinct.len() as i64)?;
                    let probs = prime(net, &Tensor::f_stack(&ids, 0)?, &mut state, out_vocab)?;
                    let fed: usize = distinct.iter().map(|p| p.len()).sum();
                    self.primed_tokens.fetch_add(fed, Ordering::Relaxed);
                    (state, probs)
                };
                for (&i, &k) in rows.iter().zip(&of_row) {
                    let idx = Tensor::f_from_slice(&[k as i64])?.f_to_device(device)?;
                    row_state[i] = Some(net.select_rows(&state, &idx)?);
                    row_probs[i] = Some(probs.f_narrow(0, k as i64, 1)?);
                }
            }
            let states: Vec<N::State> = row_state.into_iter().flatten().collect();
            let probs: Vec<Tensor> = row_probs.into_iter().flatten().collect();
            let mut b = Rows {
                state: net.cat_states(&states)?,
                probs: Tensor::f_cat(&probs, 0)?,
                primers: (0..primers.len()).collect(),
            };
            let mut guards: Vec<_> = match guarded {
                Some(g) => g.iter().map(|p| sampler.guard(primer_or_bos(p))).collect(),
                None => primers.iter().map(|p| sampler.guard(primer_or_bos(p))).collect(),
            };
            let mut rngs: Vec<_> = (0..primers.len()).map(|i| rng_for(seed, i as u64)).collect();
            let mut host = HostRows::default();
            let add = |counter: &std::sync::atomic::AtomicU64, since: std::time::Instant| {
                counter.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed)
            };
            for _ in 0..max_new {
                let began = std::time::Instant::now();
                let rows = host.read(&b.probs)?;
                add(&self.read_nanos, began);
                let began = std::time::Instant::now();
                let mut keep = Vec::with_capacity(b.primers.len());
                let mut next = Vec::with_capacity(b.primers.len());
                // Each row's guard and stream, borrowed apart (the batch's rows are distinct).
                let mut slots: Vec<Option<_>> =
                    guards.iter_mut().zip(rngs.iter_mut()).map(|(g, r)| Some((g.as_mut(), r))).collect();
                let picked: Vec<_> =
                    b.primers.iter().map(|&i| slots[i].take().expect("distinct rows")).collect();
                let picks = sampler.pick_rows(rows, picked);
                add(&self.draw_nanos, began);
                for (k, (&i, t)) in b.primers.iter().zip(picks).enumerate() {
                    outs[i].push(t);
                    if t != EOS && outs[i].len() < max_new {
                        keep.push(k as i64);
                        next.push(t);
                    }
                }
                if next.is_empty() {
                    break;
                }
                if keep.len() < b.primers.len() {
                    let idx = Tensor::f_from_slice(&keep)?.f_to_device(device)?;
                    b.state = net.select_rows(&b.state, &idx)?;
                    b.primers = keep.iter().map(|&k| b.primers[k as usize]).collect();
                }
                let input = token_tensor(&next, vocab, device)?.f_unsqueeze(1)?;
                b.probs = prime(net, &input, &mut b.state, out_vocab)?;
            }
            Ok(())
        })?;
        Ok(outs)
    }
}

impl<N: Network> Generator for NeuralModel<N> {
    fn kind(&self) -> ModelKind {
        N::KIND
    }

    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn log_probs(&self, tokens: &[TokenId]) -> Result<Vec<f64>> {
        self.try_log_probs(tokens)
    }

    fn stream(&self, primer: &[TokenId]) -> Result<Box<dyn TokenStream + '_>> {
        Ok(Box::new(self.try_stream(primer)?))
    }

    fn generate_batch(
        &self,
        primers: &[Vec<TokenId>],
        max_new_tokens: usize,
        sampler: &Sampler,
        rng_seed: u64,
    ) -> Result<Vec<Vec<TokenId>>> {
        self.try_generate_batch(primers, max_new_tokens, sampler, rng_seed)
    }

    fn fills_in_the_middle(&self) -> bool {
        NeuralModel::fills_in_the_middle(self)
    }

    fn generate_middles(
        &self,
        before: &[TokenId],
        after: &[TokenId],
        gap: &[TokenId],
        rows: usize,
        max_new_tokens: usize,
        sampler: &Sampler,
        rng_seed: u64,
    ) -> Result<Vec<Vec<TokenId>>> {
        self.try_generate_middles(before, after, gap, rows, max_new_tokens, sampler, rng_seed)
    }
}
