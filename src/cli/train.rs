//! `cadenza train`: fit a model on a corpus's train split, report train/valid bits per token,
//! write the checkpoint (the work is [`cadenza::train`]'s).

use std::path::PathBuf;

use super::options::{self, DEFAULT_SCHEME};
use super::progress::Reporter;
use anyhow::Context;
use cadenza::corpus::Pieces;
use cadenza::models::hmm::HmmConfig;
use cadenza::models::markov::AUTO_ORDERS;
use cadenza::models::ModelKind;
use cadenza::tokens::Scheme;
use cadenza::train::{default_out, train_on, ModelSpec, TrainRequest};

use super::options::{CorpusArgs, TokenizerArgs};

/// Train a generator on a folder of MIDI files.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which generator to train.
    #[arg(long, value_parser = options::model_kind())]
    model: ModelKind,
    /// The corpus folder or token store (its train split is learned, its valid split reported).
    #[command(flatten)]
    source: options::SourceArgs,
    /// Where to write the checkpoint (default: checkpoints/<corpus>.<model>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of every random choice (HMM start, LSTM initialisation and batches).
    #[arg(long, default_value_t = 0)]
    rng_seed: u64,
    #[command(flatten)]
    corpus_args: CorpusArgs,
    #[command(flatten)]
    markov: MarkovArgs,
    #[command(flatten)]
    hmm: HmmArgs,
    #[cfg(feature = "lstm")]
    #[command(flatten)]
    lstm: super::train_lstm::LstmArgs,
    #[cfg(feature = "lstm")]
    #[command(flatten)]
    transformer: super::train_transformer::TransformerArgs,
    #[command(flatten)]
    tokenizer: TokenizerArgs,
}

/// Markov chain options.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Markov chain (--model markov)")]
struct MarkovArgs {
    /// N-gram order (1-32), or `auto`: try 2, 3, 4, 6, 8, 12 and 16 and keep the one with the
    /// lowest validation bits/token.
    #[arg(long, default_value = "auto")]
    order: String,
}

/// HMM options.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Hidden Markov model (--model hmm)")]
struct HmmArgs {
    /// Number of hidden states.
    #[arg(long, default_value_t = 64)]
    states: usize,
    /// Most Baum-Welch iterations.
    #[arg(long, default_value_t = 100)]
    max_iters: usize,
    /// Stop when the training log-likelihood changes by less than this fraction.
    #[arg(long, default_value_t = 1e-4)]
    tol: f64,
    /// Dirichlet pseudo-count added to every expected count (keeps every probability above 0).
    #[arg(long, default_value_t = 1e-2)]
    pseudo_count: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // The best measured scheme per model when none is asked for (README: results).
    let neural = matches!(args.model, ModelKind::Lstm | ModelKind::Transformer);
    let default = if neural { Scheme::MidiLike } else { DEFAULT_SCHEME };
    // A store has its tokenizer: `--tokenizer` and `--bpe`, if given, must name it.
    let store = match &args.source.store {
        Some(dir) => {
            let store = cadenza::store::TokenStore::open(dir)?;
            if args.tokenizer.scheme.is_some() || args.tokenizer.bpe.is_some() {
                store.require_tokenizer(&args.tokenizer.tokenizer_or(default)?)?;
            }
            Some(store)
        }
        None => None,
    };
    let tokenizer = match &store {
        Some(s) => s.tokenizer.clone(),
        None => args.tokenizer.tokenizer_or(default)?,
    };
    #[cfg(feature = "lstm")]
    if matches!(args.model, ModelKind::Markov | ModelKind::Hmm)
        && (args.lstm.init.is_some() || args.lstm.resume.is_some())
    {
        anyhow::bail!("--init and --resume are for --model lstm and --model transformer");
    }
    let model = match args.model {
        ModelKind::Markov => {
            let orders = if args.markov.order == "auto" {
                AUTO_ORDERS.to_vec()
            } else {
                vec![args
                    .markov
                    .order
                    .parse()
                    .with_context(|| format!("--order: not a number or `auto`: {}", args.markov.order))?]
            };
            ModelSpec::Markov { orders }
        }
        ModelKind::Hmm => ModelSpec::Hmm(HmmConfig {
            states: args.hmm.states,
            max_iters: args.hmm.max_iters,
            tol: args.hmm.tol,
            seed: args.rng_seed,
            pseudo_count: args.hmm.pseudo_count,
        }),
        #[cfg(feature = "lstm")]
        ModelKind::Lstm => {
            if args.transformer.any() {
                anyhow::bail!("--heads, --dim, --ff and --context are Transformer options");
            }
            ModelSpec::Lstm(Box::new(args.lstm.request()?))
        }
        #[cfg(feature = "lstm")]
        ModelKind::Transformer => ModelSpec::Transformer(Box::new(args.transformer.request(&args.lstm)?)),
        #[cfg(not(feature = "lstm"))]
        ModelKind::Lstm | ModelKind::Transformer => {
            anyhow::bail!("this cadenza was built without the `lstm` feature (libtorch)")
        }
        ModelKind::Classifier => anyhow::bail!("classifiers are trained with `cadenza classify train`"),
    };
    let name = args.source.name();
    let request = TrainRequest {
        out: args.out.clone().unwrap_or_else(|| default_out(&name, args.model)),
        corpus: name,
        store: args.source.store.clone(),
        load: args.corpus_args.load_options(),
        model,
        seed: args.rng_seed,
        tokenizer,
    };
    // Bad settings are told before the corpus is read.
    request.check().with_context(|| format!("training the {} into {}", args.model, request.out.display()))?;
    let corpus: Box<dyn Pieces> = match store {
        Some(s) => {
            super::corpus::report_store(&s);
            Box::new(s)
        }
        None => Box::new(super::corpus::load(&request.corpus, &request.tokenizer, &request.load)?),
    };
    #[cfg(feature = "lstm")]
    let reporter = if neural {
        super::train_lstm::install_ctrlc();
        Reporter::with_stop(&super::train_lstm::STOP)
    } else {
        Reporter::new()
    };
    #[cfg(not(feature = "lstm"))]
    let reporter = Reporter::new();
    let trained = train_on(corpus.as_ref(), &request, &reporter)
        .with_context(|| format!("training the {} into {}", args.model, request.out.display()))?;
    reporter.finish();
    #[cfg(feature = "lstm")]
    if let Some(run) = &trained.lstm {
        super::train_lstm::print_outcome(&trained, run);
        return Ok(());
    }
    if let Some(b) = trained.train_bits_per_token {
        println!("train  {b:.4} bits/token  perplexity {:.3}", b.exp2());
    }
    if let (Some(b), Some(n)) = (trained.valid_bits_per_token, trained.valid_bits_per_note) {
        println!("valid  {b:.4} bits/token  perplexity {:.3}  {n:.4} bits/note", b.exp2());
    }
    println!("wrote {}", trained.path.display());
    Ok(())
}
