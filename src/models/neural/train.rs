//! Training any [`Network`]: random windows, AdamW with warm-up and cosine decay, gradient clipping,
//! validation bits/token after each epoch, the best checkpoint kept, early stopping, periodic
//! and on-stop checkpoints, and exact resume.
//!
//! Two checkpoints are written: `out` holds the model with the best validation score (the one
//! to generate with: weights and the training state in its header) and [`last_path`]`(out)`
//! the latest state (the one to resume from: weights, AdamW moments and training state). The
//! moments are twice the size of the weights, so leaving them out of `out` makes the file to
//! keep and share a third as large.
//!
//! Everything random in a step (windows, transpositions, dropout masks) is derived from the
//! seed and the step number, so resuming from a checkpoint continues exactly as the
//! uninterrupted run would have (bit for bit on the CPU).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Reduction, Tensor};

use super::config::{parse_device, TrainConfig};
use super::model::{hyperparameters, parse_hyperparameters, NeuralModel, PAYLOAD_FORMAT};
use super::optim::{clip_grad_norm, zero_grad, AdamW};
use super::weights::{self, Written};
use super::windows::Windows;
use super::{payload, NetConfig, Network};
use crate::checkpoint::{self, CorpusSummary, Header};
use crate::error::{CheckpointError, Error, ModelError, Result};
use crate::progress::{self, Progress};
use crate::tokens::{TokenId, Tokenizer, PAD};

/// Steps between reads of the running loss (each read waits for the device).
const LOG_EVERY: u64 = 10;

/// The token sequences to learn from.
#[derive(Debug)]
pub struct TrainData<'a, S = Vec<TokenId>> {
    pub train: &'a [S],
    /// May be empty: then every epoch's model counts as the best.
    pub valid: &'a [S],
}

// By hand: a derived `Copy` would ask `S: Copy`, and the data is only borrowed.
impl<S> Clone for TrainData<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for TrainData<'_, S> {}

/// How one call of [`train`] runs (not saved in checkpoints).
#[derive(Clone, Copy)]
pub struct RunOptions<'a> {
    /// Checked every step: when set, the state is checkpointed and training returns.
    pub stop: &'a AtomicBool,
    /// Told the step after every step, and each validation as a message.
    pub progress: Option<&'a dyn Progress>,
    /// Continue from this checkpoint (weights, optimizer moments, step, best score).
    pub resume: Option<&'a Path>,
    /// Start from this checkpoint's weights (same network shape and tokenizer), with a fresh
    /// optimizer, schedule and early stopping: fine-tuning. Ignored with `resume`.
    pub init: Option<&'a Path>,
    /// Return (after checkpointing) once this call has run this many steps.
    pub max_steps_this_run: Option<u64>,
    /// Recorded in the checkpoints' headers.
    pub corpus: Option<&'a CorpusSummary>,
}

/// Where training stands; stored in checkpoints as `header.extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps done.
    pub step: u64,
    /// Epochs completed.
    pub epoch: u64,
    pub steps_per_epoch: u64,
    pub total_steps: u64,
    pub best_valid_bits: Option<f64>,
    /// Validations in a row without improvement.
    pub bad_epochs: u64,
    /// Mean training loss (nats/token) over the latest steps.
    pub train_loss: Option<f64>,
    pub last_valid_bits: Option<f64>,
    /// The checkpoint the weights started from (`--init`), when fine-tuned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseModel>,
}

/// The checkpoint a fine-tuned model started from, as its checkpoints record it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseModel {
    /// Its path, as given.
    pub path: String,
    /// When it was written, and its training corpus's content hash (if it recorded one).
    pub created: String,
    pub corpus_hash: Option<String>,
    /// Its optimizer steps.
    pub steps: u64,
}

/// Why [`train`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    /// All steps done.
    Finished,
    /// `patience` validations without improvement.
    EarlyStopped,
    /// The stop flag was set.
    Interrupted,
    /// [`RunOptions::max_steps_this_run`] reached.
    StepLimit,
}

/// What [`train`] did.
#[derive(Debug)]
pub struct TrainReport<N: Network> {
    /// The model as it is after the last step run.
    pub model: NeuralModel<N>,
    pub state: TrainState,
    pub stopped: StopReason,
    /// The best-model checkpoint (`out`) and the latest-state one.
    pub best_path: PathBuf,
    pub last_path: PathBuf,
}

/// Where the latest training state of a run writing `out` is kept: `out` + `.last`.
pub fn last_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".last");
    PathBuf::from(s)
}

/// A splitmix64 finalizer: well-spread per-step seeds for libtorch's generator.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Everything needed to write a checkpoint.
struct Saver<'a, C> {
    model_cfg: &'a C,
    cfg: &'a TrainConfig,
    tokenizer: &'a Tokenizer,
    corpus: Option<&'a CorpusSummary>,
}

impl<C: NetConfig> Saver<'_, C> {
    /// Write a checkpoint: the weights, and the optimizer moments when `opt` is given.
    fn save<N: Network>(&self, path: &Path, net: &N, opt: Option<&AdamW>, state: &TrainState) -> Result<()> {
        let written = Written {
            kind: N::KIND,
            tokenizer: self.tokenizer,
            hyperparameters: hyperparameters(self.model_cfg, Some(self.cfg)),
            corpus: self.corpus.cloned(),
            metrics: metrics(state),
            extra: serde_json::to_value(state)
                .map_err(|source| Error::Json { what: "training state", source })?,
        };
        let mut tensors = net.named();
        if let Some(opt) = opt {
            tensors.extend(opt.named_state());
        }
        weights::save(path, written, &payload::arrays(&tensors)?).map(|_| ())
    }
}

fn metrics(state: &TrainState) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    if let Some(l) = state.train_loss {
        m.insert("train_bits_per_token".into(), l / std::f64::consts::LN_2);
    }
    if let Some(v) = state.last_valid_bits {
        m.insert("valid_bits_per_token".into(), v);
    }
    if let Some(v) = state.best_valid_bits {
        m.insert("best_valid_bits_per_token".into(), v);
    }
    m.insert("steps".into(), state.step as f64);
    m
}

/// Train a network `N` of shape `model_cfg` on `data` with `cfg`, writing checkpoints to `out`
/// (best) and [`last_path`]`(out)` (latest). With [`RunOptions::resume`], the checkpoint's
/// model configuration must equal `model_cfg` and its tokenizer `tokenizer`.
pub fn train<N: Network, S: AsRef<[TokenId]>>(
    model_cfg: &N::Config,
    cfg: &TrainConfig,
    tokenizer: &Tokenizer,
    data: TrainData<'_, S>,
    out: &Path,
    opts: &RunOptions<'_>,
) -> Result<TrainReport<N>> {
    let mut model_cfg = model_cfg.clone();
    model_cfg.adapt_to(cfg);
    let model_cfg = &model_cfg;
    model_cfg.validate()?;
    cfg.validate()?;
    let device = parse_device(&cfg.device)?;
    let bf16 = cfg.bf16 && device.is_cuda();
    let windows = Windows::new(data.train, tokenizer)
        .ok_or(Error::Model(ModelError::NoTrainingTokens(N::KIND.name())))?
        .with_fim(cfg.fim_rate)
        .with_fim_order(cfg.fim_order);
    let steps_per_epoch = windows.targets().div_ceil((cfg.batch * cfg.window) as u64).max(1);
    let total_steps = cfg.steps.unwrap_or(cfg.epochs.saturating_mul(steps_per_epoch));

    tch::manual_seed(mix(cfg.seed) as i64);
    let net = N::new(model_cfg.clone(), tokenizer.vocab_size() + cfg.sentinels(), device)?;
    let params = net.named();
    let mut opt = AdamW::new(&params, cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay);
    let mut state = TrainState {
        step: 0,
        epoch: 0,
        steps_per_epoch,
        total_steps,
        best_valid_bits: None,
        bad_epochs: 0,
        train_loss: None,
        last_valid_bits: None,
        base: None,
    };
    if let (Some(path), None) = (opts.init, opts.resume) {
        state.base = Some(init::<N>(path, model_cfg, tokenizer, &net)?);
    }
    if let Some(path) = opts.resume {
        state = resume::<N>(path, model_cfg, tokenizer, &net, &mut opt)?;
        state.steps_per_epoch = steps_per_epoch;
        state.total_steps = total_steps;
    }
    let saver = Saver { model_cfg, cfg, tokenizer, corpus: opts.corpus };
    let last = last_path(out);

    progress::report(opts.progress, state.step, total_steps, "starting");
    let mut loss_sum = Tensor::f_zeros(Vec::<i64>::new(), (Kind::Float, device))?;
    let mut loss_steps = 0u64;
    let mut clock = Instant::now();
    let mut tokens_since = 0u64;
    let mut tokens_per_sec = 0.0;
    let mut run_steps = 0u64;
    let params = net.named();
    let stopped = loop {
        if state.step >= total_steps {
            break StopReason::Finished;
        }
        if opts.stop.load(Ordering::Relaxed) || opts.progress.is_some_and(|p| p.should_stop()) {
            saver.save(&last, &net, Some(&opt), &state)?;
            break StopReason::Interrupted;
        }
        if opts.max_steps_this_run.is_some_and(|m| run_steps >= m) {
            saver.save(&last, &net, Some(&opt), &state)?;
            break StopReason::StepLimit;
        }

        // One optimizer step.
        tch::manual_seed(mix(cfg.seed ^ mix(state.step)) as i64);
        let rows = windows.batch(cfg.seed, state.step, cfg.batch, cfg.window, cfg.transpose);
        let batch = Tensor::f_from_slice(&rows)?
            .f_view([cfg.batch as i64, cfg.window as i64 + 1])?
            .f_to_device(device)?;
        let input = batch.f_narrow(1, 0, cfg.window as i64)?;
        let target = batch.f_narrow(1, 1, cfg.window as i64)?.f_reshape([-1])?;
        let logits = net.forward(&input, true, bf16)?;
        let loss = logits
            .f_view([-1, net.vocab()])?
            .f_cross_entropy_loss::<Tensor>(&target, None, Reduction::Mean, i64::from(PAD), 0.0)
            .map_err(|source| Error::Torch { op: "cross entropy", source })?;
        zero_grad(&params);
        loss.f_backward().map_err(|source| Error::Torch { op: "backward", source })?;
        clip_grad_norm(&params, cfg.clip);
        opt.update(&params, cfg.lr_at(state.step, total_steps));
        loss_sum = loss_sum.f_add(&loss.detach())?;
        loss_steps += 1;
        state.step += 1;
        run_steps += 1;
        tokens_since += (cfg.batch * cfg.window) as u64;

        let epoch_end = state.step % steps_per_epoch == 0 || state.step == total_steps;
        if loss_steps >= LOG_EVERY || epoch_end {
            let mean = loss_sum.f_double_value(&[])? / loss_steps as f64;
            if !mean.is_finite() {
                return Err(ModelError::Diverged { step: state.step, loss: mean }.into());
            }
            state.train_loss = Some(mean);
            let secs = clock.elapsed().as_secs_f64();
            if secs > 0.0 {
                tokens_per_sec = tokens_since as f64 / secs;
            }
            loss_sum = Tensor::f_zeros(Vec::<i64>::new(), (Kind::Float, device))?;
            loss_steps = 0;
            tokens_since = 0;
            clock = Instant::now();
        }
        if let Some(p) = opts.progress {
            let note = format!(
                "epoch {} loss {:.3} {:.0} tok/s",
                state.epoch + 1,
                state.train_loss.unwrap_or(f64::NAN),
                tokens_per_sec
            );
            p.update(state.step, total_steps, &note);
        }

        if epoch_end {
            state.epoch += 1;
            let improved = if data.valid.is_empty() {
                true
            } else {
                let bits =
                    evaluate(&net, tokenizer.vocab_size(), data.valid, cfg.batch, cfg.valid_max_tokens)?;
                state.last_valid_bits = Some(bits);
                let better = state.best_valid_bits.is_none_or(|b| bits < b);
                if better {
                    state.best_valid_bits = Some(bits);
                }
                progress::message(
                    opts.progress,
                    &format!(
                        "epoch {} step {}: train {:.4} bits/token, valid {:.4} bits/token{}",
                        state.epoch,
                        state.step,
                        state.train_loss.unwrap_or(f64::NAN) / std::f64::consts::LN_2,
                        bits,
                        if better { " (best)" } else { "" }
                    ),
                );
                better
            };
            if improved {
                state.bad_epochs = 0;
                saver.save(out, &net, None, &state)?;
            } else if state.step > cfg.warmup {
                // Epochs while the learning rate still warms up do not count against patience:
                // on a small corpus at a large batch, an epoch is a few steps.
                state.bad_epochs += 1;
            }
            saver.save(&last, &net, Some(&opt), &state)?;
            // Reset the clock so validation time does not count against throughput.
            clock = Instant::now();
            tokens_since = 0;
            if cfg.patience > 0 && state.bad_epochs >= cfg.patience && state.step < total_steps {
                break StopReason::EarlyStopped;
            }
        } else if cfg.checkpoint_every > 0 && state.step % cfg.checkpoint_every == 0 {
            saver.save(&last, &net, Some(&opt), &state)?;
        }
    };
    if !out.exists() {
        // Stopped before the first epoch ended: the latest model is the best there is.
        saver.save(out, &net, None, &state)?;
    }
    Ok(TrainReport {
        model: NeuralModel::from_net_with(net, cfg.sentinels(), cfg),
        state,
        stopped,
        best_path: out.to_path_buf(),
        last_path: last,
    })
}

/// The header and tensors of the checkpoint at `path`, a network of kind `N` of shape
/// `model_cfg` trained with `tokenizer`: else an error naming the file and what differs. What
/// [`init`] and [`resume`] both read.
fn load_matching<N: Network>(
    path: &Path,
    model_cfg: &N::Config,
    tokenizer: &Tokenizer,
    fine_tuning: bool,
) -> Result<(Header, std::collections::HashMap<String, Tensor>)> {
    let (header, bytes) = checkpoint::load_kind(path, N::KIND)?;
    let bad = |problem| Error::checkpoint(path, problem);
    if fine_tuning {
        checkpoint::check_init_tokenizer(path, &header, tokenizer)?;
    } else {
        checkpoint::check_tokenizer(path, &header, tokenizer)?;
    }
    let (saved_cfg, _) = parse_hyperparameters::<N::Config>(&header.hyperparameters).map_err(bad)?;
    if &saved_cfg != model_cfg {
        return Err(bad(CheckpointError::ShapeDiffers {
            saved: format!("{saved_cfg:?}"),
            asked: format!("{model_cfg:?}"),
        }));
    }
    let tensors = payload::decode(&bytes).map_err(|e| payload_error(path, e))?;
    Ok((header, tensors))
}

fn payload_error(path: &Path, e: Error) -> Error {
    Error::checkpoint(path, CheckpointError::Payload { format: PAYLOAD_FORMAT, source: Box::new(e) })
}

/// Load the weights of the checkpoint at `path` into `net` (fine-tuning): the same kind, tokenizer
/// and shape, else an error naming the file and what differs.
fn init<N: Network>(path: &Path, model_cfg: &N::Config, tokenizer: &Tokenizer, net: &N) -> Result<BaseModel> {
    let (header, tensors) = load_matching::<N>(path, model_cfg, tokenizer, true)?;
    net.load_named(&tensors).map_err(|e| payload_error(path, e))?;
    Ok(BaseModel {
        path: path.display().to_string(),
        created: header.created.clone(),
        corpus_hash: header.corpus.as_ref().map(|c| c.content_hash.clone()),
        steps: checkpoint_state(&header).map_or(0, |s| s.step),
    })
}

/// Restore weights, moments and state from the checkpoint at `path`.
fn resume<N: Network>(
    path: &Path,
    model_cfg: &N::Config,
    tokenizer: &Tokenizer,
    net: &N,
    opt: &mut AdamW,
) -> Result<TrainState> {
    let (header, tensors) = load_matching::<N>(path, model_cfg, tokenizer, false)?;
    let bad = |problem| Error::checkpoint(path, problem);
    let payload = |e| payload_error(path, e);
    let state: TrainState =
        serde_json::from_value(header.extra.clone()).map_err(|e| bad(CheckpointError::NoTrainingState(e)))?;
    if !AdamW::has_state(&tensors) {
        return Err(bad(CheckpointError::NoOptimizerState { last: last_path(path) }));
    }
    net.load_named(&tensors).map_err(payload)?;
    opt.load_state(&tensors, state.step).map_err(payload)?;
    Ok(state)
}

/// The training state stored in the checkpoint at `path`, if any.
pub fn checkpoint_state(header: &Header) -> Option<TrainState> {
    serde_json::from_value(header.extra.clone()).ok()
}

/// Mean bits per token of `seqs` (each from BOS with the initial state), batched `batch`
/// sequences at a time in chunks of [`super::sample::CHUNK`] steps. With `max_tokens > 0` only
/// the first sequences up to that many tokens are scored. The distributions are read over the
/// first `out_vocab` tokens (the tokenizer's: a FIM network's sentinels are left out).
pub(crate) fn evaluate<N: Network, S: AsRef<[TokenId]>>(
    net: &N,
    out_vocab: usize,
    seqs: &[S],
    batch: usize,
    max_tokens: u64,
) -> Result<f64> {
    let mut chosen: Vec<&[TokenId]> = Vec::new();
    let mut budget = 0u64;
    for s in seqs.iter().map(AsRef::as_ref).filter(|s| s.len() >= 2) {
        if max_tokens > 0 && budget >= max_tokens {
            break;
        }
        budget += s.len() as u64;
        chosen.push(s);
    }
    // Similar lengths together keep padding low.
    chosen.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let (mut nll, mut count) = (0.0f64, 0u64);
    let vocab = net.vocab();
    tch::no_grad(|| -> Result<()> {
        for group in chosen.chunks(batch.max(1)) {
            let len = group[0].len();
            let mut ids = Vec::with_capacity(group.len() * len);
            for s in group {
                let row = s.iter().map(|&t| if i64::from(t) < vocab { i64::from(t) } else { i64::from(PAD) });
                ids.extend(row);
                // Targets that read as PAD are ignored by the loss, so they are not counted.
                count +=
                    ids[ids.len() - s.len() + 1..].iter().filter(|&&t| t != i64::from(PAD)).count() as u64;
                ids.extend(std::iter::repeat_n(i64::from(PAD), len - s.len()));
            }
            let all = Tensor::f_from_slice(&ids)?
                .f_view([group.len() as i64, len as i64])?
                .f_to_device(net.device())?;
            let steps = len as i64 - 1;
            let mut state = net.init_state(group.len() as i64)?;
            let mut start = 0;
            while start < steps {
                let n = (steps - start).min(super::sample::CHUNK as i64);
                let input = all.f_narrow(1, start, n)?;
                let target = all.f_narrow(1, start + 1, n)?.f_reshape([-1])?;
                let logits = net.step(&input, &mut state)?;
                let sum = logits
                    .f_view([-1, vocab])?
                    .f_narrow(1, 0, (out_vocab as i64).min(vocab))?
                    .f_cross_entropy_loss::<Tensor>(&target, None, Reduction::Sum, i64::from(PAD), 0.0)
                    .map_err(|source| Error::Torch { op: "cross entropy", source })?;
                nll += sum.f_to_kind(Kind::Double)?.f_double_value(&[])?;
                start += n;
            }
        }
        Ok(())
    })?;
    if count == 0 {
        return Ok(0.0);
    }
    Ok(nll / count as f64 / std::f64::consts::LN_2)
}

/// The device a training configuration runs on (for messages).
pub fn device_of(cfg: &TrainConfig) -> Result<Device> {
    parse_device(&cfg.device)
}
