//! `cadenza finetune FOLDER --base CKPT`: one command from a folder of MIDI files to a model,
//! fine-tuned from a base LSTM or Transformer (its kind, shape and tokenizer taken from the base;
//! `train --init` with defaults for small folders). The work is [`cadenza::train`]'s.

use std::path::PathBuf;

use anyhow::Context;
use cadenza::corpus::Pieces;
use cadenza::models::neural::{NeuralRequest, TrainOverrides};
use cadenza::models::ModelKind;
use cadenza::train::{train_on, ModelSpec, TrainRequest};

use super::options::CorpusArgs;
use super::progress::Reporter;

/// The base model `finetune` starts from when `--base` is not given.
pub const DEFAULT_BASE: &str = "checkpoints/base.transformer";

/// Fine-tune a base model on a folder of MIDI files.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The folder of MIDI files (searched recursively; a tenth of its pieces is held out for
    /// early stopping).
    folder: PathBuf,
    /// Where to write the fine-tuned checkpoint.
    #[arg(long)]
    out: PathBuf,
    /// The base model (an LSTM or Transformer checkpoint): its kind, shape and tokenizer are the
    /// new model's.
    #[arg(long, value_name = "CKPT", default_value = DEFAULT_BASE)]
    base: PathBuf,
    /// Optimizer steps at most (early stopping usually ends sooner).
    #[arg(long, default_value_t = 400)]
    steps: u64,
    /// Peak learning rate (lower than pretraining: the base already knows music).
    #[arg(long, default_value_t = 3e-4)]
    lr: f64,
    /// Windows per step.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Tokens per window (default: the base's training window).
    #[arg(long)]
    window: Option<usize>,
    /// Validations without improvement before stopping.
    #[arg(long, default_value_t = 3)]
    patience: u64,
    /// Random transposition of up to ±N semitones (default: 5, or 0 for a key-relative base).
    #[arg(long)]
    transpose: Option<u8>,
    /// Device: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Seed of the batches.
    #[arg(long, default_value_t = 0)]
    rng_seed: u64,
    #[command(flatten)]
    corpus_args: CorpusArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.base.exists() && args.base == std::path::Path::new(DEFAULT_BASE) {
        anyhow::bail!(
            "{DEFAULT_BASE}: no base model here (none is committed yet); pass --base with an LSTM or \
             Transformer checkpoint"
        );
    }
    let header = cadenza::checkpoint::load_header(&args.base)?;
    let tokenizer = header.tokenizer().with_context(|| format!("{}: its tokenizer", args.base.display()))?;
    let window = args.window.or_else(|| {
        header.hyperparameters.pointer("/train/window").and_then(|w| w.as_u64()).map(|w| w as usize)
    });
    let transpose = args.transpose.unwrap_or(if tokenizer.config().key_relative { 0 } else { 5 });
    let overrides = TrainOverrides {
        batch: Some(args.batch),
        window,
        lr: Some(args.lr),
        steps: Some(args.steps),
        warmup: Some(args.steps.min(20)),
        patience: Some(args.patience),
        transpose: Some(transpose),
        device: Some(args.device.clone()),
        ..TrainOverrides::default()
    };
    let model = match header.kind {
        ModelKind::Lstm => ModelSpec::Lstm(Box::new(NeuralRequest {
            overrides,
            init: Some(args.base.clone()),
            ..Default::default()
        })),
        ModelKind::Transformer => ModelSpec::Transformer(Box::new(NeuralRequest {
            overrides,
            init: Some(args.base.clone()),
            ..Default::default()
        })),
        other => anyhow::bail!(
            "{}: a {other} checkpoint; finetune starts from an LSTM or a Transformer (train a {other} with `cadenza train`)",
            args.base.display()
        ),
    };
    let request = TrainRequest {
        corpus: args.folder.clone(),
        store: None,
        tokenizer,
        load: args.corpus_args.load_options(),
        model,
        out: args.out.clone(),
        seed: args.rng_seed,
    };
    let context = || format!("fine-tuning {} into {}", args.base.display(), args.out.display());
    request.check().with_context(context)?;
    let corpus = super::corpus::load(&request.corpus, &request.tokenizer, &request.load)?;
    super::train_lstm::install_ctrlc();
    let reporter = Reporter::with_stop(&super::train_lstm::STOP);
    let trained = train_on(&corpus as &dyn Pieces, &request, &reporter).with_context(context)?;
    reporter.finish();
    match &trained.lstm {
        Some(run) => super::train_lstm::print_outcome(&trained, run),
        None => println!("wrote {}", trained.path.display()),
    }
    Ok(())
}
