//! `cadenza finetune FOLDER --base CKPT`: one command from a folder of MIDI files to a model,
//! fine-tuned from a base LSTM or Transformer (its kind, shape and tokenizer taken from the base;
//! `train --init` with defaults for small folders). The work is [`cadenza::train`]'s.

use std::path::PathBuf;

use anyhow::Context;
use cadenza::corpus::Pieces;
use cadenza::train::{finetune_request, train_on, FinetuneOptions};

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
    /// Continue a fine-tune stopped with Ctrl-C from its `OUT.last` (give the same folder, base
    /// and options); the result is the one the run would have had uninterrupted.
    #[arg(long, value_name = "CKPT")]
    resume: Option<PathBuf>,
    /// Stop as Ctrl-C does after this many steps of this run.
    #[arg(long, value_name = "N", hide = true)]
    stop_after: Option<u64>,
    #[command(flatten)]
    corpus_args: CorpusArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.base.exists() && args.base == std::path::Path::new(DEFAULT_BASE) {
        anyhow::bail!(
            "{DEFAULT_BASE}: no base model here (run from the cadenza folder, where it is committed, or \
             pass --base with an LSTM or Transformer checkpoint)"
        );
    }
    let opts = FinetuneOptions {
        steps: args.steps,
        lr: args.lr,
        batch: args.batch,
        window: args.window,
        patience: args.patience,
        transpose: args.transpose,
        device: args.device.clone(),
        seed: args.rng_seed,
        load: args.corpus_args.load_options(),
        resume: args.resume.clone(),
        stop_after: args.stop_after,
    };
    let request = finetune_request(&args.base, &args.folder, &args.out, &opts)?;
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
