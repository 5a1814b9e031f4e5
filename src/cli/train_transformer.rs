//! `cadenza train --model transformer ...`: the Transformer's own shape flags; the training
//! flags, `--layers`, `--dropout`, `--preset` and `--resume` are shared with the LSTM
//! (`train_lstm`).
#![cfg(feature = "lstm")]

use cadenza::models::transformer::{TransformerConfig, TransformerRequest};

use super::train_lstm::{LstmArgs, Preset};

/// Transformer shape options (with `--layers`, `--dropout` and `--preset cpu` above).
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Transformer")]
pub struct TransformerArgs {
    /// Attention heads per block (dim / heads must be even).
    #[arg(long)]
    pub heads: Option<usize>,
    /// Width of the embedding and residual stream.
    #[arg(long)]
    pub dim: Option<usize>,
    /// Width of the MLP's hidden layer.
    #[arg(long)]
    pub ff: Option<usize>,
    /// Most tokens attended to when scoring and sampling (default: the training window; longer
    /// pieces slide).
    #[arg(long)]
    pub context: Option<usize>,
}

impl TransformerArgs {
    fn model_overrides(&self, shared: &LstmArgs) -> bool {
        shared.preset.is_some()
            || shared.layers.is_some()
            || shared.dropout.is_some()
            || self.heads.is_some()
            || self.dim.is_some()
            || self.ff.is_some()
            || self.context.is_some()
    }

    /// The model shape: preset or the GPU default, then flags.
    fn model_config(&self, shared: &LstmArgs) -> TransformerConfig {
        let base = match shared.preset {
            Some(Preset::Cpu) => TransformerConfig::cpu(),
            _ => TransformerConfig::default(),
        };
        TransformerConfig {
            layers: shared.layers.unwrap_or(base.layers),
            heads: self.heads.unwrap_or(base.heads),
            dim: self.dim.unwrap_or(base.dim),
            ff: self.ff.unwrap_or(base.ff),
            dropout: shared.dropout.unwrap_or(base.dropout),
            context: self.context.unwrap_or(base.context),
        }
    }

    /// The Transformer run these flags (and the shared ones) ask for.
    pub fn request(&self, shared: &LstmArgs) -> anyhow::Result<TransformerRequest> {
        if shared.preset == Some(Preset::SeedArticle) {
            anyhow::bail!("--preset seed-article is an LSTM preset (--model lstm)");
        }
        if shared.lstm_shape_flags() {
            anyhow::bail!("--embed, --hidden and --tie-weights are LSTM options; the Transformer has --dim");
        }
        Ok(TransformerRequest {
            model: self.model_overrides(shared).then(|| self.model_config(shared)),
            settings_file: shared.config.clone(),
            overrides: shared.overrides(),
            resume: shared.resume.clone(),
            init: shared.init.clone(),
            stop_after: shared.stop_after,
        })
    }

    /// Whether a Transformer-only flag is given.
    pub fn any(&self) -> bool {
        self.heads.is_some() || self.dim.is_some() || self.ff.is_some() || self.context.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        shared: LstmArgs,
        #[command(flatten)]
        transformer: TransformerArgs,
    }

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("cadenza").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn preset_then_flags_make_the_model_and_lstm_flags_are_refused() {
        let c =
            parse(&["--preset", "cpu", "--layers", "2", "--heads", "2", "--lr", "0.01", "--window", "64"]);
        let r = c.transformer.request(&c.shared).unwrap();
        let want = TransformerConfig { layers: 2, heads: 2, ..TransformerConfig::cpu() };
        assert_eq!(r.model, Some(want));
        assert_eq!((r.overrides.lr, r.overrides.window), (Some(0.01), Some(64)));
        let c = parse(&["--steps", "5"]);
        assert_eq!(c.transformer.request(&c.shared).unwrap().model, None);
        let c = parse(&["--hidden", "64"]);
        assert!(c.transformer.request(&c.shared).is_err());
        let c = parse(&["--preset", "seed-article"]);
        assert!(c.transformer.request(&c.shared).is_err());
    }
}
