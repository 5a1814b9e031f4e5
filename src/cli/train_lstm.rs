//! `cadenza train --model lstm ...`: the LSTM's options and the training run (Ctrl-C stops
//! cleanly after writing a checkpoint).
#![cfg(feature = "lstm")]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use cadenza::checkpoint::{self, CorpusSummary};
use cadenza::models::lstm::{
    self, model::parse_hyperparameters, LstmConfig, RunOptions, StopReason, TrainConfig, TrainData,
};
use cadenza::models::ModelKind;
use cadenza::tokens::TokenId;

/// Set by the Ctrl-C handler, read by the training loop every step.
static STOP: AtomicBool = AtomicBool::new(false);

/// A named model shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// 2 × 256 LSTM, dropout 0.5 (the seed article's model).
    SeedArticle,
}

/// LSTM options. Flags override `--config`, which overrides the defaults; with `--resume` the
/// checkpoint's settings are the base instead and the model's shape cannot change.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "LSTM")]
pub struct LstmArgs {
    /// Start from a named model shape (default: 3 × 512, embedding 256, dropout 0.2).
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Embedding width.
    #[arg(long)]
    pub embed: Option<usize>,
    /// LSTM width.
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Number of LSTM layers.
    #[arg(long)]
    pub layers: Option<usize>,
    /// Dropout between layers and before the output layer.
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Share the embedding with the output layer (adds a projection when embed != hidden).
    #[arg(long)]
    pub tie_weights: bool,
    /// Windows per step.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Tokens per training window.
    #[arg(long)]
    pub window: Option<usize>,
    /// Peak learning rate (AdamW).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Total optimizer steps (overrides --epochs).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Passes over the training tokens.
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Learning-rate warm-up steps.
    #[arg(long)]
    pub warmup: Option<u64>,
    /// Clip the gradient norm to this (0 = off).
    #[arg(long)]
    pub clip: Option<f64>,
    /// Stop after this many epochs without validation improvement (0 = never).
    #[arg(long)]
    pub patience: Option<u64>,
    /// Transpose each window by a random shift of up to ± this many semitones (0 = off).
    #[arg(long)]
    pub transpose: Option<u8>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long)]
    pub device: Option<String>,
    /// bf16 mixed precision on CUDA.
    #[arg(long)]
    pub bf16: bool,
    /// A TOML file of training options (field names as in the checkpoint's `train` section).
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Continue training from a checkpoint (usually `OUT.last`).
    #[arg(long, value_name = "CKPT")]
    pub resume: Option<PathBuf>,
    /// Write the resume checkpoint every this many steps.
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
}

impl LstmArgs {
    fn model_overrides(&self) -> bool {
        self.preset.is_some()
            || self.embed.is_some()
            || self.hidden.is_some()
            || self.layers.is_some()
            || self.dropout.is_some()
            || self.tie_weights
    }

    /// The model shape: preset or default, then flags.
    fn model_config(&self) -> LstmConfig {
        let base = match self.preset {
            Some(Preset::SeedArticle) => LstmConfig::seed_article(),
            None => LstmConfig::default(),
        };
        LstmConfig {
            embed: self.embed.unwrap_or(base.embed),
            hidden: self.hidden.unwrap_or(base.hidden),
            layers: self.layers.unwrap_or(base.layers),
            dropout: self.dropout.unwrap_or(base.dropout),
            tie_weights: self.tie_weights || base.tie_weights,
        }
    }

    /// `base` with the flags given on the command line applied.
    fn apply_train_flags(&self, mut c: TrainConfig) -> TrainConfig {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { c.$f = v.clone(); } )* };
        }
        set!(batch, window, lr, epochs, warmup, clip, patience, transpose, device, checkpoint_every);
        if self.steps.is_some() {
            c.steps = self.steps;
        }
        if self.bf16 {
            c.bf16 = true;
        }
        c
    }
}

/// Train an LSTM on `train` (validating on `valid`) and write it to `out` (best model) and
/// `out.last` (latest state, for `--resume`).
pub fn run(
    args: &LstmArgs,
    tokenizer: &cadenza::Tokenizer,
    train: &[Vec<TokenId>],
    valid: &[Vec<TokenId>],
    corpus_summary: CorpusSummary,
    out: &Path,
    rng_seed: u64,
) -> anyhow::Result<()> {
    let (model_cfg, train_cfg) = match &args.resume {
        Some(path) => {
            let (header, _) = checkpoint::load_kind(path, ModelKind::Lstm)?;
            let (model, train) = parse_hyperparameters(&header.hyperparameters)
                .map_err(|reason| cadenza::Error::Checkpoint { path: path.clone(), reason })?;
            if args.model_overrides() && args.model_config() != model {
                anyhow::bail!("--resume keeps the checkpoint's model shape; drop the model options");
            }
            // The run's seed stays the checkpoint's: windows and dropout continue as before.
            let seed = train.as_ref().map_or(rng_seed, |t| t.seed);
            let base = match &args.config {
                Some(file) => TrainConfig::from_toml_file(file)?,
                None => train.unwrap_or_default(),
            };
            (model, TrainConfig { seed, ..args.apply_train_flags(base) })
        }
        None => {
            let base = match &args.config {
                Some(file) => TrainConfig::from_toml_file(file)?,
                None => TrainConfig::default(),
            };
            (args.model_config(), TrainConfig { seed: rng_seed, ..args.apply_train_flags(base) })
        }
    };
    model_cfg.validate()?;
    train_cfg.validate()?;
    let device = lstm::parse_device(&train_cfg.device)?;

    STOP.store(false, Ordering::SeqCst);
    if let Err(e) = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond interrupt: exiting without a checkpoint");
            std::process::exit(130);
        }
        eprintln!(
            "\ninterrupted: finishing the step and writing a checkpoint (Ctrl-C again to quit at once)"
        );
    }) {
        eprintln!("warning: cannot install the Ctrl-C handler ({e}); Ctrl-C will not save a checkpoint");
    }

    eprintln!(
        "lstm: {} layer(s) × {}, embedding {}, {} parameters, on {device:?}{}; batch {} × {} tokens, lr {}",
        model_cfg.layers,
        model_cfg.hidden,
        model_cfg.embed,
        model_cfg.parameters(tokenizer.vocab_size()),
        if train_cfg.bf16 && device.is_cuda() { " (bf16)" } else { "" },
        train_cfg.batch,
        train_cfg.window,
        train_cfg.lr,
    );
    let opts = RunOptions {
        stop: &STOP,
        progress: true,
        resume: args.resume.as_deref(),
        max_steps_this_run: None,
        corpus: Some(&corpus_summary),
    };
    let report = lstm::train(&model_cfg, &train_cfg, tokenizer, TrainData { train, valid }, out, &opts)
        .with_context(|| format!("training the lstm into {}", out.display()))?;
    let s = &report.state;
    let why = match report.stopped {
        StopReason::Finished => "finished",
        StopReason::EarlyStopped => "stopped early (no validation improvement)",
        StopReason::Interrupted => "interrupted",
        StopReason::StepLimit => "step limit reached",
    };
    // Valid bits/token over every token after BOS, so total bits over the notes is bits/note.
    let valid_tokens: usize = valid.iter().map(|v| v.len().saturating_sub(1)).sum();
    let valid_notes: usize = valid.iter().map(|v| tokenizer.note_count(v)).sum();
    let per_note = |b: f64| {
        if valid_notes > 0 {
            format!(" = {:.4} bits/note", b * valid_tokens as f64 / valid_notes as f64)
        } else {
            String::new()
        }
    };
    eprintln!(
        "{why} at step {}/{} (epoch {}): train {:.4} bits/token{}",
        s.step,
        s.total_steps,
        s.epoch,
        s.train_loss.map_or(f64::NAN, |l| l / std::f64::consts::LN_2),
        s.best_valid_bits.map_or(String::new(), |b| format!(", best valid {b:.4} bits/token{}", per_note(b))),
    );
    eprintln!(
        "best model: {}; resume with --resume {}",
        report.best_path.display(),
        report.last_path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        lstm: LstmArgs,
    }

    fn parse(args: &[&str]) -> LstmArgs {
        Cli::try_parse_from(std::iter::once("cadenza").chain(args.iter().copied())).unwrap().lstm
    }

    #[test]
    fn preset_then_flags_make_the_model() {
        let a = parse(&["--preset", "seed-article", "--hidden", "300", "--tie-weights"]);
        let want = LstmConfig { hidden: 300, tie_weights: true, ..LstmConfig::seed_article() };
        assert_eq!(a.model_config(), want);
        assert!(a.model_overrides());
        assert_eq!(parse(&[]).model_config(), LstmConfig::default());
        assert!(!parse(&["--lr", "0.1"]).model_overrides());
    }

    #[test]
    fn flags_override_the_toml_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(&file, "batch = 8\nlr = 0.01\nwindow = 32\n").unwrap();
        let a = parse(&[
            "--config",
            file.to_str().unwrap(),
            "--lr",
            "0.5",
            "--steps",
            "7",
            "--bf16",
            "--device",
            "cpu",
        ]);
        let c = a.apply_train_flags(TrainConfig::from_toml_file(a.config.as_deref().unwrap()).unwrap());
        assert_eq!((c.batch, c.window, c.lr, c.steps, c.bf16), (8, 32, 0.5, Some(7), true));
        assert_eq!(c.device, "cpu");
        assert_eq!(c.patience, TrainConfig::default().patience);
    }

    #[test]
    fn run_trains_then_resumes_with_more_steps() {
        let tok = cadenza::Tokenizer::new(cadenza::TokenizerConfig::default()).unwrap();
        let seq: Vec<TokenId> =
            std::iter::once(1).chain((0..200).map(|i| 40 + (i % 5) as TokenId)).chain([2]).collect();
        let data = vec![seq];
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.lstm");
        let first = ["--embed", "8", "--hidden", "16", "--layers", "1", "--batch", "4", "--window", "16"];
        let a = parse(&[&first[..], &["--steps", "12", "--device", "cpu", "--transpose", "0"]].concat());
        run(&a, &tok, &data, &data, CorpusSummary::default(), &out, 3).unwrap();
        let last = lstm::last_path(&out);
        let h = checkpoint::load_header(&last).unwrap();
        assert_eq!(lstm::train::checkpoint_state(&h).unwrap().step, 12);
        assert!(h.corpus.is_some());
        // Resuming keeps the model and the seed; --steps extends the run.
        let b = parse(&["--resume", last.to_str().unwrap(), "--steps", "20"]);
        run(&b, &tok, &data, &data, CorpusSummary::default(), &out, 99).unwrap();
        let h = checkpoint::load_header(&last).unwrap();
        assert_eq!(lstm::train::checkpoint_state(&h).unwrap().step, 20);
        let (_, train) = parse_hyperparameters(&h.hyperparameters).unwrap();
        assert_eq!(train.unwrap().seed, 3);
        // A different shape on resume is refused.
        let c = parse(&["--resume", last.to_str().unwrap(), "--hidden", "32"]);
        assert!(run(&c, &tok, &data, &data, CorpusSummary::default(), &out, 3).is_err());
    }
}
