//! Training by Baum-Welch (EM): a scaled forward-backward E-step run in parallel over chunks of
//! sequences, and an M-step with a small Dirichlet prior (pseudo-count) so that no probability
//! becomes exactly zero.
//!
//! Per sequence of `T` observations the E-step does three `K x K` products per step: the
//! forward prediction `A^T alpha`, the backward step `A w` and one row of the expected-transition
//! sum. The last is gathered as `M = sum_t alpha_t w_{t+1}^T` (a small matrix product done in
//! blocks) and multiplied by `A` element-wise once per iteration, since
//! `xi_t(i, j) = alpha_t(i) A_ij w_{t+1}(j)` with `w_{t+1} = b(o_{t+1}) * beta_{t+1} / c_{t+1}`.

use std::ops::Range;

use crate::progress::{report as report_progress, Progress};
use rand::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::kernels::{matvec_t, outer_sum, simd, sum};
use super::model::HmmModel;
use crate::error::{Error, ModelError, Result};
use crate::models::ModelKind;
use crate::sampler::SampleRng;
use crate::tokens::TokenId;

/// Training options for [`HmmModel::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HmmConfig {
    /// Number of hidden states `K`.
    pub states: usize,
    /// Most EM iterations to run.
    pub max_iters: usize,
    /// Stop when the training log-likelihood changes by at most this fraction of itself.
    pub tol: f64,
    /// Seed of the random start.
    pub seed: u64,
    /// Dirichlet pseudo-count added to every expected count of `pi`, `A` and `B` in the M-step
    /// (a MAP estimate under a symmetric Dirichlet(1 + pseudo_count) prior). Any positive value
    /// keeps every probability above zero; 0 gives plain maximum likelihood, as hmmlearn does.
    pub pseudo_count: f64,
}

impl Default for HmmConfig {
    fn default() -> Self {
        HmmConfig { states: 64, max_iters: 100, tol: 1e-4, seed: 0, pseudo_count: 1e-2 }
    }
}

impl HmmConfig {
    /// Check the options.
    pub fn validate(&self) -> Result<()> {
        if self.states == 0 {
            return Err(Error::setting("HMM states", 0, "at least 1"));
        }
        if !(self.pseudo_count.is_finite() && self.pseudo_count >= 0.0) {
            return Err(Error::setting("pseudo-count", self.pseudo_count, "finite and >= 0"));
        }
        if self.tol.is_nan() {
            return Err(Error::setting("tolerance", self.tol, "a number"));
        }
        Ok(())
    }
}

/// What happened during training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Training log-likelihood (natural log, summed over every scored token) at the start of
    /// each iteration, i.e. of the parameters that iteration's E-step used (as hmmlearn's
    /// monitor reports it). Never decreases when `pseudo_count` is 0.
    pub log_likelihood: Vec<f64>,
    /// The quantity EM maximizes: the log-likelihood plus the Dirichlet log-prior
    /// `pseudo_count * (sum ln pi + sum ln A + sum ln B)`. Never decreases.
    pub objective: Vec<f64>,
    /// Number of scored tokens in the training set (to turn log-likelihoods into per-token
    /// figures).
    pub tokens: usize,
    /// Whether training stopped on the tolerance rather than on `max_iters`.
    pub converged: bool,
}

impl FitReport {
    /// Number of EM iterations run.
    pub fn iterations(&self) -> usize {
        self.log_likelihood.len()
    }
}

impl HmmModel {
    /// Fit an HMM with `config.states` states over a vocabulary of `vocab_size` tokens to `train`
    /// (sequences starting with BOS, which is not scored), starting from a seeded random model.
    pub fn fit<S: AsRef<[TokenId]>>(
        config: &HmmConfig,
        vocab_size: usize,
        train: &[S],
        progress: Option<&dyn Progress>,
    ) -> Result<(HmmModel, FitReport)> {
        config.validate()?;
        let data = Data::new(train, vocab_size)?;
        // Add-one unigram frequencies: the emission rows start near the data.
        let mut unigram = vec![1.0; vocab_size];
        for s in &data.seqs {
            for &o in *s {
                unigram[o as usize] += 1.0;
            }
        }
        let mut rng = SampleRng::seed_from_u64(config.seed);
        let init = HmmModel::random(config.states, &unigram, &mut rng)?;
        run_em(init, config, &data, progress)
    }

    /// Run EM from `init` (its `K` and `V` win over `config.states`; `config.seed` is unused).
    pub fn fit_from(
        init: HmmModel,
        config: &HmmConfig,
        train: &[Vec<TokenId>],
        progress: Option<&dyn Progress>,
    ) -> Result<(HmmModel, FitReport)> {
        HmmConfig { states: init.k, ..config.clone() }.validate()?;
        let data = Data::new(train, init.v)?;
        run_em(init, config, &data, progress)
    }

    /// One EM iteration: the re-estimated model and the training log-likelihood of `self`.
    pub fn em_step(&self, train: &[Vec<TokenId>], pseudo_count: f64) -> Result<(HmmModel, f64)> {
        HmmConfig { states: self.k, pseudo_count, ..HmmConfig::default() }.validate()?;
        let data = Data::new(train, self.v)?;
        let stats = e_step(self, &data);
        check_ll(stats.ll)?;
        Ok((m_step(self, &stats, pseudo_count)?, stats.ll))
    }

    /// `sum ln pi + sum ln A + sum ln B`: the log of the Dirichlet prior density, up to its
    /// constant, per unit of pseudo-count.
    fn log_prior_unit(&self) -> f64 {
        self.pi.iter().chain(&self.a).chain(&self.b).map(|p| p.ln()).sum()
    }
}

/// Training sequences with BOS dropped, validated, split into fixed chunks for the workers.
struct Data<'a> {
    seqs: Vec<&'a [TokenId]>,
    chunks: Vec<Range<usize>>,
    tokens: usize,
}

/// Chunks per E-step: enough to balance the load on many cores, and fixed (independent of the
/// thread count) so results are the same on every machine.
const CHUNKS: usize = 64;

impl<'a> Data<'a> {
    fn new<S: AsRef<[TokenId]>>(train: &'a [S], vocab_size: usize) -> Result<Self> {
        let mut seqs = Vec::with_capacity(train.len());
        for (i, s) in train.iter().map(AsRef::as_ref).enumerate() {
            let obs = s.get(1..).unwrap_or(&[]);
            if let Some(j) = obs.iter().position(|&t| t as usize >= vocab_size) {
                return Err(ModelError::TokenOutOfVocab {
                    model: ModelKind::Hmm.name(),
                    sequence: i,
                    index: j + 1,
                    token: obs[j],
                    vocab: vocab_size,
                }
                .into());
            }
            if !obs.is_empty() {
                seqs.push(obs);
            }
        }
        let tokens: usize = seqs.iter().map(|s| s.len()).sum();
        if tokens == 0 {
            return Err(ModelError::NoTrainingTokens(ModelKind::Hmm.name()).into());
        }
        // Contiguous chunks of about equal token counts.
        let target = tokens.div_ceil(CHUNKS).max(1);
        let mut chunks = Vec::new();
        let (mut start, mut acc) = (0, 0);
        for (i, s) in seqs.iter().enumerate() {
            acc += s.len();
            if acc >= target {
                chunks.push(start..i + 1);
                start = i + 1;
                acc = 0;
            }
        }
        if start < seqs.len() {
            chunks.push(start..seqs.len());
        }
        Ok(Data { seqs, chunks, tokens })
    }
}

fn run_em(
    mut model: HmmModel,
    config: &HmmConfig,
    data: &Data<'_>,
    progress: Option<&dyn Progress>,
) -> Result<(HmmModel, FitReport)> {
    let p = config.pseudo_count;
    let mut report = FitReport {
        log_likelihood: Vec::new(),
        objective: Vec::new(),
        tokens: data.tokens,
        converged: false,
    };
    report_progress(progress, 0, config.max_iters as u64, "Baum-Welch");
    for it in 0..config.max_iters {
        let stats = e_step(&model, data);
        let ll = stats.ll;
        check_ll(ll)?;
        let prior = if p > 0.0 { p * model.log_prior_unit() } else { 0.0 };
        report.log_likelihood.push(ll);
        report.objective.push(ll + prior);
        model = m_step(&model, &stats, p)?;
        let note = format!("log-lik/token {:.4}", ll / data.tokens as f64);
        report_progress(progress, it as u64 + 1, config.max_iters as u64, &note);
        if it > 0 {
            let prev = report.log_likelihood[it - 1];
            if (ll - prev).abs() <= config.tol * prev.abs() {
                report.converged = true;
                break;
            }
        }
    }
    Ok((model, report))
}

fn check_ll(ll: f64) -> Result<()> {
    if ll.is_finite() {
        Ok(())
    } else {
        Err(ModelError::ZeroLikelihood(ll).into())
    }
}

/// Expected sufficient statistics of one E-step.
struct Stats {
    /// Log-likelihood.
    ll: f64,
    /// Expected initial-state counts, `K`.
    pi: Vec<f64>,
    /// `sum_t alpha_t w_{t+1}^T`, `K x K`; the expected transition counts are `A * M`.
    m: Vec<f64>,
    /// Expected emission counts transposed, `V x K`.
    bt: Vec<f64>,
}

impl Stats {
    fn zeros(k: usize, v: usize) -> Self {
        Stats { ll: 0.0, pi: vec![0.0; k], m: vec![0.0; k * k], bt: vec![0.0; v * k] }
    }

    fn add(&mut self, o: &Stats) {
        self.ll += o.ll;
        for (a, b) in [(&mut self.pi, &o.pi), (&mut self.m, &o.m), (&mut self.bt, &o.bt)] {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
    }
}

/// Per-worker buffers, reused across the sequences of a chunk.
#[derive(Default)]
struct Scratch {
    /// Normalized forward variables, `T x K`.
    alpha: Vec<f64>,
    /// `b(o_t) * beta_t / c_t`, `T x K` (row 0 unused).
    w: Vec<f64>,
    /// Scaling factors `c_t`.
    c: Vec<f64>,
    beta: Vec<f64>,
    gamma: Vec<f64>,
}

fn e_step(model: &HmmModel, data: &Data<'_>) -> Stats {
    let parts: Vec<Stats> =
        data.chunks.par_iter().map(|r| chunk_stats(model, &data.seqs[r.clone()])).collect();
    let mut total = Stats::zeros(model.k, model.v);
    for p in &parts {
        total.add(p);
    }
    total
}

fn chunk_stats(model: &HmmModel, seqs: &[&[TokenId]]) -> Stats {
    if simd::fma_available() {
        // SAFETY: the CPU has the features `chunk_stats_fma` is compiled for.
        #[cfg(target_arch = "x86_64")]
        return unsafe { chunk_stats_fma(model, seqs) };
    }
    chunk_stats_generic::<false>(model, seqs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn chunk_stats_fma(model: &HmmModel, seqs: &[&[TokenId]]) -> Stats {
    chunk_stats_generic::<true>(model, seqs)
}

#[inline(always)]
fn chunk_stats_generic<const FMA: bool>(model: &HmmModel, seqs: &[&[TokenId]]) -> Stats {
    let mut st = Stats::zeros(model.k, model.v);
    let mut sc = Scratch::default();
    for obs in seqs {
        accumulate::<FMA>(model, obs, &mut st, &mut sc);
    }
    st
}

/// Scaled forward-backward over one sequence of in-vocabulary observations, adding its expected
/// counts to `st`.
#[inline(always)]
fn accumulate<const FMA: bool>(m: &HmmModel, obs: &[TokenId], st: &mut Stats, sc: &mut Scratch) {
    let k = m.k;
    let t_len = obs.len();
    if t_len == 0 {
        return;
    }
    sc.alpha.resize(t_len * k, 0.0);
    sc.w.resize(t_len * k, 0.0);
    sc.c.resize(t_len, 0.0);
    sc.beta.resize(k, 0.0);
    sc.gamma.resize(k, 0.0);
    let col = |o: TokenId| &m.bt[o as usize * k..(o as usize + 1) * k];

    // Forward: alpha_t = (A^T alpha_{t-1}) * b(o_t) / c_t.
    let mut ll = 0.0;
    for (t, &o) in obs.iter().enumerate() {
        let (done, rest) = sc.alpha.split_at_mut(t * k);
        let cur = &mut rest[..k];
        if t == 0 {
            cur.copy_from_slice(&m.pi);
        } else {
            matvec_t::<FMA>(&m.a, &done[(t - 1) * k..], cur);
        }
        cur.iter_mut().zip(col(o)).for_each(|(a, e)| *a *= e);
        let c = sum(cur);
        let inv = 1.0 / c;
        cur.iter_mut().for_each(|a| *a *= inv);
        sc.c[t] = c;
        ll += c.ln();
    }
    st.ll += ll;

    // Backward: w_t = b(o_t) * beta_t / c_t, beta_{t-1} = A w_t, gamma_t = alpha_t * beta_t.
    sc.beta.fill(1.0);
    for t in (0..t_len).rev() {
        let alpha_t = &sc.alpha[t * k..(t + 1) * k];
        for ((g, a), b) in sc.gamma.iter_mut().zip(alpha_t).zip(&sc.beta) {
            *g = a * b;
        }
        let row = &mut st.bt[obs[t] as usize * k..(obs[t] as usize + 1) * k];
        row.iter_mut().zip(&sc.gamma).for_each(|(r, g)| *r += g);
        if t == 0 {
            st.pi.iter_mut().zip(&sc.gamma).for_each(|(r, g)| *r += g);
            break;
        }
        let inv = 1.0 / sc.c[t];
        let w = &mut sc.w[t * k..(t + 1) * k];
        for ((w, e), b) in w.iter_mut().zip(col(obs[t])).zip(&sc.beta) {
            *w = e * b * inv;
        }
        matvec_t::<FMA>(&m.at, w, &mut sc.beta);
    }

    // Transitions: M += sum_{t < T-1} alpha_t w_{t+1}^T.
    if t_len > 1 {
        outer_sum::<FMA>(&sc.alpha[..(t_len - 1) * k], &sc.w[k..t_len * k], k, &mut st.m);
    }
}

/// Re-estimate the parameters from expected counts plus `p` per entry. A row with no counts at
/// all (possible only when `p == 0`) keeps its old values.
fn m_step(old: &HmmModel, st: &Stats, p: f64) -> Result<HmmModel> {
    let (k, v) = (old.k, old.v);
    let smooth = |counts: &mut [f64], old_row: &[f64]| {
        let total: f64 = counts.iter().sum::<f64>() + p * counts.len() as f64;
        if total > 0.0 && total.is_finite() {
            let inv = 1.0 / total;
            counts.iter_mut().for_each(|c| *c = (*c + p) * inv);
        } else {
            counts.copy_from_slice(old_row);
        }
    };
    let mut pi = st.pi.clone();
    smooth(&mut pi, &old.pi);
    let mut a: Vec<f64> = old.a.iter().zip(&st.m).map(|(a, m)| a * m).collect();
    for (row, old_row) in a.chunks_exact_mut(k).zip(old.a.chunks_exact(k)) {
        smooth(row, old_row);
    }
    let mut b = super::model::transpose(&st.bt, v, k);
    for (row, old_row) in b.chunks_exact_mut(v).zip(old.b.chunks_exact(v)) {
        smooth(row, old_row);
    }
    HmmModel::from_params(k, v, pi, a, b)
}
