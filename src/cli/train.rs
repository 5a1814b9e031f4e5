//! `cadenza train`: fit a model on a corpus's train split, report train/valid bits per token,
//! write the checkpoint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::options::{self, DEFAULT_SCHEME};
use super::progress::{bar, Bar};
use anyhow::Context;
use cadenza::checkpoint::{self, CorpusSummary, Header};
use cadenza::corpus::{Corpus, Split};
use cadenza::models::hmm::{HmmConfig, HmmModel};
use cadenza::models::markov::{MarkovConfig, MarkovModel, AUTO_ORDERS};
use cadenza::models::saved::{HMM_PAYLOAD, MARKOV_PAYLOAD};
use cadenza::models::{corpus_bits, Generator, ModelKind};
use cadenza::score::Score;
use cadenza::tokens::Scheme;

use super::options::TokenizerArgs;

/// Train a generator on a folder of MIDI files.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which generator to train.
    #[arg(long, value_parser = options::model_kind())]
    model: ModelKind,
    /// The corpus folder (its train split is learned, its valid split reported).
    #[arg(long)]
    corpus: PathBuf,
    /// Where to write the checkpoint (default: checkpoints/<corpus>.<model>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of every random choice (HMM start, LSTM initialisation and batches).
    #[arg(long, default_value_t = 0)]
    rng_seed: u64,
    /// Do not read or write the corpus token cache.
    #[arg(long)]
    no_cache: bool,
    #[command(flatten)]
    markov: MarkovArgs,
    #[command(flatten)]
    hmm: HmmArgs,
    #[cfg(feature = "lstm")]
    #[command(flatten)]
    lstm: super::train_lstm::LstmArgs,
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

/// The checkpoint's record of the corpus.
pub fn corpus_summary(corpus: &Corpus) -> CorpusSummary {
    let mut pieces = BTreeMap::new();
    let mut tokens = BTreeMap::new();
    for s in Split::ALL {
        pieces.insert(s.to_string(), corpus.split(s).count());
        tokens.insert(s.to_string(), corpus.split(s).map(|p| p.tokens.len() as u64).sum());
    }
    CorpusSummary {
        root: corpus.root.display().to_string(),
        content_hash: corpus.content_hash(),
        pieces,
        tokens,
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // The best measured scheme per model when none is asked for (README: results).
    let default = if args.model == ModelKind::Lstm { Scheme::MidiLike } else { DEFAULT_SCHEME };
    let tokenizer = args.tokenizer.tokenizer_or(default)?;
    let corpus = super::corpus::load(&args.corpus, &tokenizer, args.no_cache)?;
    let train = corpus.require(Split::Train)?;
    let valid = corpus.sequences(Split::Valid);
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.corpus, args.model));
    let summary = corpus_summary(&corpus);
    let vocab = tokenizer.vocab_size();
    eprintln!(
        "training {} on {} pieces ({} tokens), validating on {} pieces",
        args.model,
        train.len(),
        summary.tokens["train"],
        valid.len()
    );
    let (model, hyper, payload, payload_format, extra): (
        Box<dyn Generator>,
        serde_json::Value,
        Vec<u8>,
        &str,
        serde_json::Value,
    ) = match args.model {
        ModelKind::Markov => {
            let orders: Vec<usize> = if args.markov.order == "auto" {
                AUTO_ORDERS.to_vec()
            } else {
                vec![args
                    .markov
                    .order
                    .parse()
                    .with_context(|| format!("--order: not a number or `auto`: {}", args.markov.order))?]
            };
            let auto = args.markov.order == "auto";
            let b = Bar(bar(0, "counting"));
            let m = MarkovModel::fit_best_order(
                &MarkovConfig::default(),
                &orders,
                vocab,
                &train,
                &valid,
                Some(&b),
                |order, bits| {
                    if auto {
                        b.0.suspend(|| eprintln!("  order {order:>2}: valid {bits:.4} bits/token"));
                    }
                },
            )?;
            b.0.finish_and_clear();
            let hyper = serde_json::to_value(m.config())?;
            let payload = m.to_bytes();
            (Box::new(m), hyper, payload, MARKOV_PAYLOAD, serde_json::Value::Null)
        }
        ModelKind::Hmm => {
            let config = HmmConfig {
                states: args.hmm.states,
                max_iters: args.hmm.max_iters,
                tol: args.hmm.tol,
                seed: args.rng_seed,
                pseudo_count: args.hmm.pseudo_count,
            };
            let b = Bar(bar(config.max_iters as u64, "Baum-Welch"));
            let (m, report) = HmmModel::fit(&config, vocab, &train, Some(&b))?;
            b.0.finish_and_clear();
            eprintln!("  {} EM iterations", report.iterations());
            let payload = m.to_safetensors();
            let extra = serde_json::to_value(&report)?;
            (Box::new(m), serde_json::to_value(&config)?, payload, HMM_PAYLOAD, extra)
        }
        ModelKind::Lstm => {
            #[cfg(feature = "lstm")]
            {
                return super::train_lstm::run(
                    &args.lstm,
                    &tokenizer,
                    &train,
                    &valid,
                    summary,
                    &out,
                    args.rng_seed,
                );
            }
            #[cfg(not(feature = "lstm"))]
            anyhow::bail!("this cadenza was built without the `lstm` feature (libtorch)");
        }
        ModelKind::Classifier => anyhow::bail!("classifiers are trained with `cadenza classify train`"),
    };
    let (train_bits, train_tokens) = corpus_bits(model.as_ref(), &train);
    let mut header = Header::new(args.model, &tokenizer, hyper, payload_format);
    header.corpus = Some(summary);
    header.extra = extra;
    header.metrics.insert("train_bits_per_token".into(), train_bits);
    header.metrics.insert("train_tokens".into(), train_tokens as f64);
    println!("train  {train_bits:.4} bits/token  perplexity {:.3}", train_bits.exp2());
    if !valid.is_empty() {
        let score = Score::of_split(model.as_ref(), &corpus, Split::Valid)?;
        let valid_bits = score.bits_per_token();
        header.metrics.insert("valid_bits_per_token".into(), valid_bits);
        header.metrics.insert("valid_tokens".into(), score.tokens as f64);
        header.metrics.insert("valid_bits_per_note".into(), score.bits_per_note());
        header.metrics.insert("valid_notes".into(), score.notes as f64);
        println!(
            "valid  {valid_bits:.4} bits/token  perplexity {:.3}  {:.4} bits/note",
            valid_bits.exp2(),
            score.bits_per_note()
        );
    }
    checkpoint::save(&out, &header, &payload)?;
    println!("wrote {}", out.display());
    Ok(())
}

fn default_out(corpus: &Path, kind: ModelKind) -> PathBuf {
    let name = corpus.file_name().map_or("model".into(), |n| n.to_string_lossy().into_owned());
    PathBuf::from("checkpoints").join(format!("{name}.{kind}"))
}
