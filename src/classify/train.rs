//! Training: class-balanced batches of random (transposed) windows ([`Batcher`]), cross-entropy,
//! AdamW with warm-up and cosine decay and gradient clipping (the LSTM's
//! [`crate::models::lstm::optim`] and schedule), validation every `eval_every` steps on the
//! valid split's windows, the best model (lowest valid window loss) written to `out` each time
//! it improves, early stopping after `patience` validations without improvement, an optional
//! wall-clock limit and a stop flag.
//!
//! Windows, transpositions and dropout masks follow from the seed and the step, so equal
//! settings give equal runs on the CPU.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor};

use super::data::{Batcher, LabelledSet};
use super::error::ClassifyError;
use super::eval::{evaluate, Evaluation};
use super::model::Classifier;
use super::net::NetConfig;
use super::roll::RollConfig;
use crate::checkpoint::CorpusSummary;
use crate::corpus::Split;
use crate::error::Result;
use crate::models::lstm::optim::{clip_grad_norm, zero_grad, AdamW};
use crate::models::lstm::parse_device;
use crate::progress::{report, Progress};

/// Steps between reads of the running loss (each read waits for the device).
const LOG_EVERY: u64 = 10;

/// How the classifier is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Windows per step (spread evenly over the labels).
    pub batch: usize,
    /// Peak learning rate (AdamW).
    pub lr: f64,
    /// Decoupled weight decay (AdamW).
    pub weight_decay: f64,
    /// Clip the global gradient norm to this (0 = off).
    pub clip: f64,
    /// Steps of linear warm-up; then cosine decay to 5 % of `lr` at `steps`.
    pub warmup: u64,
    /// Optimizer steps at most.
    pub steps: u64,
    /// Validate every this many steps.
    pub eval_every: u64,
    /// Stop after this many validations without improvement (0 = never stop early).
    pub patience: u64,
    /// Random transposition of each training window by up to ± this many semitones.
    pub transpose: u8,
    /// `auto`, `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// Seed of the initial weights, windows, transpositions and dropout.
    pub seed: u64,
    /// Stop (keeping the best model) once training has run this many seconds.
    pub max_seconds: Option<f64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            batch: 48,
            lr: 3e-3,
            weight_decay: 0.01,
            clip: 1.0,
            warmup: 100,
            steps: 3000,
            eval_every: 150,
            patience: 6,
            transpose: 4,
            device: "auto".into(),
            seed: 0,
            max_seconds: None,
        }
    }
}

impl TrainConfig {
    /// Check the options.
    pub fn validate(&self) -> std::result::Result<(), ClassifyError> {
        let bad = |name, value: &dyn std::fmt::Display, expected| {
            Err(ClassifyError::setting(name, value, expected))
        };
        if self.batch == 0 {
            return bad("batch", &0, "positive");
        }
        if self.steps == 0 {
            return bad("steps", &0, "positive");
        }
        if self.eval_every == 0 {
            return bad("eval_every", &0, "positive");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("learning rate", &self.lr, "positive");
        }
        if self.weight_decay.is_nan() || self.weight_decay < 0.0 {
            return bad("weight decay", &self.weight_decay, "non-negative");
        }
        if self.clip.is_nan() || self.clip < 0.0 {
            return bad("clip", &self.clip, "non-negative");
        }
        if self.transpose > 24 {
            return bad("transpose", &self.transpose, "at most 24 semitones");
        }
        Ok(())
    }

    /// The learning rate at `step` (the LSTM's warm-up and cosine schedule).
    fn lr_at(&self, step: u64) -> f64 {
        let schedule = crate::models::lstm::TrainConfig {
            lr: self.lr,
            warmup: self.warmup,
            min_lr_ratio: 0.05,
            ..Default::default()
        };
        schedule.lr_at(step, self.steps)
    }
}

/// One validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidPoint {
    pub step: u64,
    /// Mean training loss (nats) over the latest steps.
    pub train_loss: f64,
    pub valid_loss: f64,
    pub valid_window_accuracy: f64,
    pub valid_piece_accuracy: f64,
    pub valid_piece_macro_f1: f64,
    pub seconds: f64,
    pub best: bool,
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Finished,
    EarlyStopped,
    TimeLimit,
    Interrupted,
}

/// What [`train`] did.
#[derive(Debug)]
pub struct TrainReport {
    /// The best model (as written to `out`).
    pub model: Classifier,
    pub history: Vec<ValidPoint>,
    pub steps: u64,
    pub best_step: u64,
    pub seconds: f64,
    pub stopped: StopReason,
}

/// How one call of [`train`] runs (not part of the model).
#[derive(Clone, Copy, Default)]
pub struct TrainOptions<'a> {
    /// Checked every step: when set, training returns with the best model so far.
    pub stop: Option<&'a AtomicBool>,
    /// Receives `(step, steps, "loss ... valid ...")`.
    pub progress: Option<&'a dyn Progress>,
}

/// A splitmix64 finalizer: well-spread per-step seeds for libtorch's generator.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Train a classifier of shape `net` over `roll` windows on the train split of `set`,
/// validating on its valid split, and write the best model to `out`.
pub fn train(
    set: &LabelledSet,
    roll: RollConfig,
    net: NetConfig,
    cfg: &TrainConfig,
    out: &Path,
    opts: TrainOptions<'_>,
) -> Result<TrainReport> {
    cfg.validate()?;
    roll.validate()?;
    net.validate()?;
    let device = parse_device(&cfg.device)?;
    let batcher = Batcher::new(set, roll, cfg.transpose, cfg.seed)?;
    tch::manual_seed(mix(cfg.seed) as i64);
    let model = Classifier::new(set.labels.clone(), roll, net, device)?;
    let params = model.net.trainable();
    let mut opt = AdamW::new(&params, 0.9, 0.999, 1e-8, cfg.weight_decay);
    let map: Vec<usize> = (0..set.labels.len()).collect();
    let has_valid = set.split(Split::Valid).next().is_some();
    let summary = corpus_summary(set);

    let clock = Instant::now();
    let mut history: Vec<ValidPoint> = Vec::new();
    let mut best: Option<(f64, u64)> = None;
    let mut bad_evals = 0u64;
    let mut loss_sum = Tensor::zeros(Vec::<i64>::new(), (Kind::Float, device));
    let mut loss_steps = 0u64;
    let mut train_loss = f64::NAN;
    let mut step = 0u64;
    let mut note = String::from("training");
    let stopped = loop {
        if step >= cfg.steps {
            break StopReason::Finished;
        }
        if opts.stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            break StopReason::Interrupted;
        }
        if cfg.max_seconds.is_some_and(|m| clock.elapsed().as_secs_f64() >= m) {
            break StopReason::TimeLimit;
        }
        tch::manual_seed(mix(cfg.seed ^ mix(step)) as i64);
        let (x, y) = batcher.batch(step, cfg.batch);
        let logits = model.logits(&x, cfg.batch, true)?;
        let target = Tensor::f_from_slice(&y)?.f_to_device(device)?;
        let loss = logits.f_cross_entropy_loss::<Tensor>(&target, None, Reduction::Mean, -100, 0.0)?;
        zero_grad(&params);
        loss.backward();
        clip_grad_norm(&params, cfg.clip);
        opt.update(&params, cfg.lr_at(step));
        loss_sum += loss.detach();
        loss_steps += 1;
        step += 1;

        let eval_now = step % cfg.eval_every == 0 || step == cfg.steps;
        if loss_steps >= LOG_EVERY || eval_now {
            let mean = loss_sum.double_value(&[]) / loss_steps as f64;
            if !mean.is_finite() {
                return Err(ClassifyError::Diverged { step, loss: mean }.into());
            }
            train_loss = mean;
            loss_sum = Tensor::zeros(Vec::<i64>::new(), (Kind::Float, device));
            loss_steps = 0;
        }
        if eval_now {
            let point = if has_valid {
                let e = evaluate(&model, set, Split::Valid, &map)?;
                valid_point(step, train_loss, &e, clock.elapsed().as_secs_f64())
            } else {
                ValidPoint {
                    step,
                    train_loss,
                    valid_loss: train_loss,
                    valid_window_accuracy: f64::NAN,
                    valid_piece_accuracy: f64::NAN,
                    valid_piece_macro_f1: f64::NAN,
                    seconds: clock.elapsed().as_secs_f64(),
                    best: false,
                }
            };
            let better = !has_valid || best.is_none_or(|(b, _)| point.valid_loss < b);
            let mut point = point;
            point.best = better;
            if better {
                best = Some((point.valid_loss, step));
                bad_evals = 0;
                save(&model, cfg, &summary, out, &point, &history)?;
            } else {
                bad_evals += 1;
            }
            note = format!(
                "valid loss {:.3} piece F1 {:.3}{}",
                point.valid_loss,
                point.valid_piece_macro_f1,
                if better { " (best)" } else { "" }
            );
            history.push(point);
            if cfg.patience > 0 && bad_evals >= cfg.patience && step < cfg.steps {
                break StopReason::EarlyStopped;
            }
        }
        report(opts.progress, step, cfg.steps, &format!("loss {train_loss:.3} | {note}"));
    };
    if best.is_none() {
        // Stopped before the first validation: the current model is the best there is.
        let point = ValidPoint {
            step,
            train_loss,
            valid_loss: f64::NAN,
            valid_window_accuracy: f64::NAN,
            valid_piece_accuracy: f64::NAN,
            valid_piece_macro_f1: f64::NAN,
            seconds: clock.elapsed().as_secs_f64(),
            best: true,
        };
        save(&model, cfg, &summary, out, &point, &history)?;
        best = Some((f64::NAN, step));
    }
    let seconds = clock.elapsed().as_secs_f64();
    let (model, _) = Classifier::load(out, device)?;
    Ok(TrainReport { model, history, steps: step, best_step: best.map_or(0, |b| b.1), seconds, stopped })
}

fn valid_point(step: u64, train_loss: f64, e: &Evaluation, seconds: f64) -> ValidPoint {
    ValidPoint {
        step,
        train_loss,
        valid_loss: e.window_loss,
        valid_window_accuracy: e.window.accuracy(),
        valid_piece_accuracy: e.piece.accuracy(),
        valid_piece_macro_f1: e.piece.macro_f1(),
        seconds,
        best: false,
    }
}

/// What the checkpoint says about the labelled corpus: pieces per split (`pieces`) and per
/// `split/label` (`tokens` holds no tokens for a classifier, so it stays empty).
pub fn corpus_summary(set: &LabelledSet) -> CorpusSummary {
    let mut pieces = std::collections::BTreeMap::new();
    for split in Split::ALL {
        let counts = set.counts(split);
        pieces.insert(split.to_string(), counts.iter().sum());
        for (label, n) in set.labels.iter().zip(counts) {
            pieces.insert(format!("{split}/{label}"), n);
        }
    }
    CorpusSummary {
        root: set.root.display().to_string(),
        content_hash: set.content_hash.clone(),
        pieces,
        tokens: Default::default(),
        split_key: set.split_key,
        dedup: false,
    }
}

/// Write the model with its header: the corpus, the validation at `point`, the history so far.
fn save(
    model: &Classifier,
    cfg: &TrainConfig,
    summary: &CorpusSummary,
    out: &Path,
    point: &ValidPoint,
    history: &[ValidPoint],
) -> Result<()> {
    let mut header = model.header(serde_json::to_value(cfg).unwrap_or_default());
    header.corpus = Some(summary.clone());
    let m = &mut header.metrics;
    m.insert("steps".into(), point.step as f64);
    for (k, v) in [
        ("train_loss", point.train_loss),
        ("valid_loss", point.valid_loss),
        ("valid_window_accuracy", point.valid_window_accuracy),
        ("valid_piece_accuracy", point.valid_piece_accuracy),
        ("valid_piece_macro_f1", point.valid_piece_macro_f1),
    ] {
        if v.is_finite() {
            m.insert(k.into(), v);
        }
    }
    header.extra = serde_json::json!({ "history": history, "best": point });
    model.save(out, &header)
}
