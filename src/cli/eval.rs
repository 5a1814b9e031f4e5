//! `cadenza eval`: held-out bits per token, perplexity, bits per note and per second of a
//! checkpoint on a corpus split (the work is [`cadenza::eval`]'s).

use std::path::PathBuf;

use super::progress::Reporter;
use cadenza::corpus::{LoadOptions, Split};
use cadenza::eval::{self, EvalRequest};

/// Score a trained model on a corpus split.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint to evaluate.
    checkpoint: PathBuf,
    /// The corpus folder (read with the checkpoint's tokenizer) or token store.
    #[command(flatten)]
    source: super::options::SourceArgs,
    /// Which split to score.
    #[arg(long, default_value = "test", value_parser = super::options::split())]
    split: Split,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// HMM only: print the most likely hidden-state path of the first N pieces of the split.
    #[arg(long, value_name = "N")]
    viterbi: Option<usize>,
    /// Device for libtorch models: auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Do not read or write the corpus token cache.
    #[arg(long)]
    no_cache: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let request = EvalRequest {
        checkpoint: args.checkpoint,
        corpus: args.source.name(),
        store: args.source.store.clone(),
        split: args.split,
        load: LoadOptions::cached(args.no_cache),
        device: args.device,
        viterbi: args.viterbi,
    };
    let reporter = Reporter::new();
    let e = eval::run(&request, &reporter)?;
    reporter.finish();
    let score = &e.score;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "checkpoint": request.checkpoint.display().to_string(),
                "model": e.header.kind,
                "tokenizer": e.scheme,
                "corpus": request.corpus.display().to_string(),
                "split": request.split,
                "pieces": score.pieces,
                "tokens": score.tokens,
                "notes": score.notes,
                "seconds": score.seconds,
                "bits_per_token": score.bits_per_token(),
                "perplexity": score.perplexity(),
                "bits_per_note": score.bits_per_note(),
                "bits_per_second": score.bits_per_second(),
            })
        );
    } else {
        println!(
            "{} ({}) on {} ({}: {} pieces, {} tokens, {} notes): {:.4} bits/token, perplexity {:.3}, \
             {:.4} bits/note, {:.3} bits/second",
            e.header.kind,
            e.scheme,
            request.corpus.display(),
            request.split,
            score.pieces,
            score.tokens,
            score.notes,
            score.bits_per_token(),
            score.perplexity(),
            score.bits_per_note(),
            score.bits_per_second(),
        );
    }
    for (piece, states) in &e.viterbi {
        let states: Vec<String> = states.iter().map(|s| s.to_string()).collect();
        println!("{}: {}", piece.display(), states.join(" "));
    }
    Ok(())
}
