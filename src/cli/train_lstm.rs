//! `cadenza train --model lstm|transformer ...`: the options of the neural models (the training
//! flags they share, `--layers` and `--dropout`, and the LSTM's own shape flags; the
//! Transformer's are in `train_transformer`), the Ctrl-C handler (training stops cleanly after
//! writing a checkpoint) and the closing lines.
#![cfg(feature = "lstm")]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use cadenza::models::lstm::{LstmConfig, LstmRequest, StopReason, TrainOverrides};
use cadenza::train::{NeuralRun, Trained};

/// Set by the Ctrl-C handler, read by the training loop every step.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// A named model shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// 2 × 256 LSTM, dropout 0.5 (the seed article's model; --model lstm).
    SeedArticle,
    /// A Transformer sized for a CPU core: 4 blocks × 192, 4 heads, MLP 768 (--model
    /// transformer).
    Cpu,
}

/// LSTM and Transformer options. Flags override `--config`, which overrides the defaults; with
/// `--resume` the checkpoint's settings are the base instead and the model's shape cannot
/// change.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "LSTM and Transformer")]
pub struct LstmArgs {
    /// Start from a named model shape (default LSTM: 3 × 512, embedding 256, dropout 0.2;
    /// default Transformer, for a GPU: 6 blocks × 512, 8 heads, MLP 2048, dropout 0.1).
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Embedding width (LSTM).
    #[arg(long)]
    pub embed: Option<usize>,
    /// LSTM width (LSTM).
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Number of LSTM layers, or of Transformer blocks.
    #[arg(long)]
    pub layers: Option<usize>,
    /// Dropout (LSTM: between layers and before the output layer; Transformer: embedding,
    /// attention and residual branches).
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Share the embedding with the output layer (LSTM; adds a projection when embed !=
    /// hidden; the Transformer always shares it).
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
    /// Fine-tune: start from this checkpoint's weights (a model of this kind, trained with the
    /// same tokenizer options), with its shape and this run's own learning-rate schedule, steps
    /// and early stopping. The new checkpoint records its base.
    #[arg(long, value_name = "CKPT", conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Write the resume checkpoint every this many steps.
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Stop as Ctrl-C does (write `OUT.last`, then exit) after this many steps of this run;
    /// `--resume OUT.last` carries on.
    #[arg(long, value_name = "N", hide = true)]
    pub stop_after: Option<u64>,
    /// Share of training windows reordered for fill in the middle (PREFIX prefix SUFFIX suffix
    /// GAP gap MIDDLE middle, the gap the middle's time), e.g. 0.5, so that `cadenza infill
    /// --fim` reads the music after the region too (0: left to right only).
    #[arg(long, value_name = "RATE")]
    pub fim_rate: Option<f64>,
    /// The order of the FIM windows: `psm` (PREFIX prefix SUFFIX suffix GAP gap MIDDLE middle)
    /// or `spm` (SUFFIX suffix GAP gap PREFIX prefix MIDDLE middle: the music before right
    /// before the middle, as a left-to-right model reads it) [default: psm]
    #[arg(long, value_name = "ORDER", requires = "fim_rate", value_parser = parse_fim_order)]
    pub fim_order: Option<cadenza::models::neural::fim::Order>,
}

fn parse_fim_order(s: &str) -> Result<cadenza::models::neural::fim::Order, String> {
    s.parse().map_err(|e: cadenza::Error| e.to_string())
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

    /// Whether an LSTM-only shape flag is given.
    pub fn lstm_shape_flags(&self) -> bool {
        self.embed.is_some() || self.hidden.is_some() || self.tie_weights
    }

    /// The model shape: preset or default, then flags.
    fn model_config(&self) -> LstmConfig {
        let base = match self.preset {
            Some(Preset::SeedArticle) => LstmConfig::seed_article(),
            Some(Preset::Cpu) | None => LstmConfig::default(),
        };
        LstmConfig {
            embed: self.embed.unwrap_or(base.embed),
            hidden: self.hidden.unwrap_or(base.hidden),
            layers: self.layers.unwrap_or(base.layers),
            dropout: self.dropout.unwrap_or(base.dropout),
            tie_weights: self.tie_weights || base.tie_weights,
        }
    }

    /// The LSTM run these flags ask for (the library applies the precedence rules).
    pub fn request(&self) -> anyhow::Result<LstmRequest> {
        if self.preset == Some(Preset::Cpu) {
            anyhow::bail!("--preset cpu is a Transformer preset (--model transformer)");
        }
        Ok(LstmRequest {
            model: self.model_overrides().then(|| self.model_config()),
            settings_file: self.config.clone(),
            overrides: self.overrides(),
            resume: self.resume.clone(),
            init: self.init.clone(),
            stop_after: self.stop_after,
        })
    }

    /// The training flags every neural model shares.
    pub fn overrides(&self) -> TrainOverrides {
        TrainOverrides {
            batch: self.batch,
            window: self.window,
            lr: self.lr,
            steps: self.steps,
            epochs: self.epochs,
            warmup: self.warmup,
            clip: self.clip,
            patience: self.patience,
            transpose: self.transpose,
            device: self.device.clone(),
            bf16: self.bf16,
            checkpoint_every: self.checkpoint_every,
            fim_rate: self.fim_rate,
            fim_order: self.fim_order,
        }
    }
}

/// Ask training to stop on Ctrl-C (it checkpoints its state and returns); a second Ctrl-C
/// exits at once.
pub fn install_ctrlc() {
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
}

/// How the run ended, and where its checkpoints are.
pub fn print_outcome(trained: &Trained, run: &NeuralRun) {
    let s = &run.state;
    let why = match run.stopped {
        StopReason::Finished => "finished",
        StopReason::EarlyStopped => "stopped early (no validation improvement)",
        StopReason::Interrupted => "interrupted",
        StopReason::StepLimit => "step limit reached",
    };
    let best = match (trained.valid_bits_per_token, trained.valid_bits_per_note) {
        (Some(b), Some(n)) => format!(", best valid {b:.4} bits/token = {n:.4} bits/note"),
        (Some(b), None) => format!(", best valid {b:.4} bits/token"),
        _ => String::new(),
    };
    eprintln!(
        "{why} at step {}/{} (epoch {}): train {:.4} bits/token{best}",
        s.step,
        s.total_steps,
        s.epoch,
        trained.train_bits_per_token.unwrap_or(f64::NAN),
    );
    eprintln!("best model: {}; resume with --resume {}", trained.path.display(), run.last_path.display());
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
    fn flags_make_the_request() {
        let a =
            parse(&["--lr", "0.5", "--steps", "7", "--bf16", "--device", "cpu", "--resume", "m.lstm.last"]);
        let r = a.request().unwrap();
        assert_eq!(r.model, None, "no model flag: the default or the checkpoint's shape");
        assert_eq!(r.resume.as_deref(), Some(std::path::Path::new("m.lstm.last")));
        let o = &r.overrides;
        assert_eq!(
            (o.lr, o.steps, o.bf16, o.device.as_deref(), o.batch),
            (Some(0.5), Some(7), true, Some("cpu"), None)
        );
        assert_eq!(parse(&["--hidden", "32"]).request().unwrap().model.map(|m| m.hidden), Some(32));
        assert!(parse(&["--preset", "cpu"]).request().is_err());
    }
}
