//! How a neural network (LSTM or Transformer) is trained ([`TrainConfig`], also loadable from
//! a TOML file) and which device it runs on ([`parse_device`]).

use std::path::Path;

use serde::{Deserialize, Serialize};
#[cfg(feature = "lstm")]
use tch::Device;

use crate::error::{Error, Result};

/// How a neural network is trained (the same options for every [`super::Network`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Windows per step.
    pub batch: usize,
    /// Tokens per window (each window reads `window + 1` tokens: inputs and shifted targets).
    pub window: usize,
    /// Peak learning rate (AdamW).
    pub lr: f64,
    /// Decoupled weight decay (AdamW).
    pub weight_decay: f64,
    /// AdamW's moment decay rates.
    pub beta1: f64,
    pub beta2: f64,
    /// AdamW's denominator guard.
    pub eps: f64,
    /// Clip the global gradient norm to this (0 = off).
    pub clip: f64,
    /// Steps of linear learning-rate warm-up.
    pub warmup: u64,
    /// The cosine decay ends at `lr * min_lr_ratio`.
    pub min_lr_ratio: f64,
    /// Total steps; overrides `epochs` when set.
    pub steps: Option<u64>,
    /// Epochs (an epoch is enough steps to cover the training tokens once).
    pub epochs: u64,
    /// Stop after this many validations without improvement, counted once the warm-up is over
    /// (0 = never stop early).
    pub patience: u64,
    /// Random transposition of each window by up to ± this many semitones (0 = off).
    pub transpose: u8,
    /// `auto`, `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// bf16 mixed precision on CUDA (f32 master weights); ignored on the CPU.
    pub bf16: bool,
    /// Write the resume checkpoint every this many steps (0 = only at epoch ends and on stop).
    pub checkpoint_every: u64,
    /// Windows are cut from these many tokens at most during validation (0 = all).
    pub valid_max_tokens: u64,
    /// Share of training windows cut at two random points into prefix, middle and suffix and
    /// reordered as `PREFIX prefix SUFFIX suffix GAP gap MIDDLE middle` (fill in the middle, see
    /// [`super::fim`]); 0 (the default) trains left to right only. A network trained with a
    /// rate above 0 has [`super::fim::SENTINELS`] more tokens than the tokenizer.
    pub fim_rate: f64,
    /// The order FIM windows are written in ([`super::fim::Order`]; PSM by default, and for
    /// checkpoints that do not say).
    pub fim_order: super::fim::Order,
    /// Seed of the windows, transpositions, dropout and initial weights.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            batch: 64,
            window: 256,
            lr: 2e-3,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            clip: 1.0,
            warmup: 200,
            min_lr_ratio: 0.05,
            steps: None,
            epochs: 20,
            patience: 3,
            transpose: 5,
            device: "auto".into(),
            bf16: false,
            checkpoint_every: 500,
            valid_max_tokens: 0,
            fim_rate: 0.0,
            fim_order: super::fim::Order::default(),
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Read a TOML file of `TrainConfig` fields (missing fields keep their defaults).
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml_str(&text).map_err(|e| match e {
            Error::SettingsFile { problem, .. } => Error::SettingsFile { path: path.into(), problem },
            other => other,
        })
    }

    /// Parse TOML text of `TrainConfig` fields.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let cfg: TrainConfig = toml::from_str(text).map_err(|e| Error::SettingsFile {
            path: "(training settings)".into(),
            problem: e.message().to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The sentinel tokens a network trained with these options has beyond the tokenizer's
    /// vocabulary (see [`super::fim`]).
    pub fn sentinels(&self) -> usize {
        if self.fim_rate > 0.0 {
            super::fim::SENTINELS
        } else {
            0
        }
    }

    /// Check the options.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |name, value: &dyn std::fmt::Display, expected: &str| Err(Error::setting(name, value, expected));
        if self.batch == 0 {
            return bad("batch", &0, "positive");
        }
        if self.window == 0 {
            return bad("window", &0, "positive");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("learning rate", &self.lr, "positive");
        }
        if !(0.0..1.0).contains(&self.beta1) {
            return bad("beta1", &self.beta1, "in [0, 1)");
        }
        if !(0.0..1.0).contains(&self.beta2) {
            return bad("beta2", &self.beta2, "in [0, 1)");
        }
        if self.eps.is_nan() || self.eps <= 0.0 {
            return bad("eps", &self.eps, "positive");
        }
        if self.weight_decay.is_nan() || self.weight_decay < 0.0 {
            return bad("weight decay", &self.weight_decay, "non-negative");
        }
        if self.clip.is_nan() || self.clip < 0.0 {
            return bad("clip", &self.clip, "non-negative");
        }
        if !(0.0..=1.0).contains(&self.min_lr_ratio) {
            return bad("min_lr_ratio", &self.min_lr_ratio, "in [0, 1]");
        }
        if self.steps == Some(0) || (self.steps.is_none() && self.epochs == 0) {
            return bad("steps or epochs", &0, "positive (there is nothing to train)");
        }
        if !(0.0..=1.0).contains(&self.fim_rate) {
            return bad("fim rate", &self.fim_rate, "in [0, 1]");
        }
        if self.transpose > 24 {
            return bad("transpose", &self.transpose, "at most 24 semitones");
        }
        parse_device_name(&self.device)?;
        Ok(())
    }

    /// Learning rate at `step` (0-based) of `total`: linear warm-up, then cosine decay to
    /// `lr * min_lr_ratio`.
    pub fn lr_at(&self, step: u64, total: u64) -> f64 {
        if step < self.warmup {
            return self.lr * (step + 1) as f64 / self.warmup as f64;
        }
        let span = total.saturating_sub(self.warmup).max(1) as f64;
        let t = ((step - self.warmup) as f64 / span).min(1.0);
        let floor = self.lr * self.min_lr_ratio;
        floor + (self.lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

/// A device name as the user wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceName {
    Auto,
    Cpu,
    Cuda(usize),
}

fn parse_device_name(name: &str) -> Result<DeviceName> {
    let bad = || Error::setting("device", format!("{name:?}"), "auto, cpu, cuda or cuda:N");
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "auto" => DeviceName::Auto,
        "cpu" => DeviceName::Cpu,
        "cuda" | "gpu" => DeviceName::Cuda(0),
        s => DeviceName::Cuda(s.strip_prefix("cuda:").and_then(|n| n.parse().ok()).ok_or_else(bad)?),
    })
}

/// Run libtorch's CPU work on `threads` threads, for the whole process (its intra-op pool;
/// at least 1). Without libtorch (no `lstm` feature) there is nothing to set.
pub fn set_cpu_threads(threads: usize) {
    #[cfg(feature = "lstm")]
    tch::set_num_threads(threads.clamp(1, i32::MAX as usize) as i32);
    #[cfg(not(feature = "lstm"))]
    let _ = threads;
}

#[cfg(feature = "lstm")]
/// The device `name` (`auto|cpu|cuda|cuda:N`) stands for on this machine: `auto` is the first
/// GPU when CUDA is available, else the CPU. Asking for a GPU that is not there is an error.
pub fn parse_device(name: &str) -> Result<Device> {
    match parse_device_name(name)? {
        DeviceName::Auto => Ok(Device::cuda_if_available()),
        DeviceName::Cpu => Ok(Device::Cpu),
        DeviceName::Cuda(n) => {
            let count = if tch::Cuda::is_available() { tch::Cuda::device_count() as usize } else { 0 };
            if n >= count {
                return Err(Error::setting(
                    "device",
                    format!("cuda:{n}"),
                    format!("one of the {count} CUDA device(s) libtorch sees on this machine"),
                ));
            }
            Ok(Device::Cuda(n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_only_the_given_fields() {
        let cfg =
            TrainConfig::from_toml_str("batch = 8\nlr = 0.01\nsteps = 100\ndevice = \"cpu\"\n").unwrap();
        assert_eq!(cfg.batch, 8);
        assert_eq!(cfg.steps, Some(100));
        assert_eq!(cfg.window, TrainConfig::default().window);
        assert!(TrainConfig::from_toml_str("batchh = 8").is_err());
        assert!(TrainConfig::from_toml_str("batch = 0").is_err());
        assert!(TrainConfig::from_toml_str("device = \"tpu\"").is_err());
    }

    #[test]
    fn schedule_warms_up_then_decays_by_cosine() {
        let cfg = TrainConfig { lr: 1.0, warmup: 10, min_lr_ratio: 0.0, ..Default::default() };
        assert!((cfg.lr_at(0, 110) - 0.1).abs() < 1e-12);
        assert!((cfg.lr_at(9, 110) - 1.0).abs() < 1e-12);
        assert!((cfg.lr_at(10, 110) - 1.0).abs() < 1e-12);
        // Half-way through the decay the cosine is at 0.5.
        assert!((cfg.lr_at(60, 110) - 0.5).abs() < 1e-12);
        assert!(cfg.lr_at(110, 110).abs() < 1e-12);
    }

    #[test]
    fn devices_parse() {
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
        assert_eq!(parse_device_name("cuda:3").unwrap(), DeviceName::Cuda(3));
        assert_eq!(parse_device_name("CUDA").unwrap(), DeviceName::Cuda(0));
        assert!(parse_device("cuda:x").is_err());
        if !tch::Cuda::is_available() {
            assert_eq!(parse_device("auto").unwrap(), Device::Cpu);
            assert!(parse_device("cuda").is_err());
        }
    }
}
