//! `cadenza eval`: held-out bits per token, perplexity, bits per note and per second of a
//! checkpoint on a corpus split.

use std::path::PathBuf;

use cadenza::corpus::Split;
use cadenza::models::saved;
use cadenza::models::ModelKind;
use cadenza::score::Score;

/// Score a trained model on a corpus split.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint to evaluate.
    checkpoint: PathBuf,
    /// The corpus folder (read with the checkpoint's tokenizer).
    #[arg(long)]
    corpus: PathBuf,
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
    let loaded = saved::load(&args.checkpoint, &args.device)?;
    let corpus = super::corpus::load(&args.corpus, &loaded.tokenizer, args.no_cache)?;
    cadenza::checkpoint::check_tokenizer(&args.checkpoint, &loaded.header, &corpus.tokenizer)?;
    let seqs = corpus.require(args.split)?;
    let score = Score::of(loaded.model.as_ref(), &corpus.tokenizer, &seqs, corpus.seconds(args.split));
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "checkpoint": args.checkpoint.display().to_string(),
                "model": loaded.header.kind,
                "tokenizer": loaded.tokenizer.scheme(),
                "corpus": args.corpus.display().to_string(),
                "split": args.split,
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
            loaded.header.kind,
            loaded.tokenizer.scheme(),
            args.corpus.display(),
            args.split,
            score.pieces,
            score.tokens,
            score.notes,
            score.bits_per_token(),
            score.perplexity(),
            score.bits_per_note(),
            score.bits_per_second(),
        );
    }
    if let Some(n) = args.viterbi {
        anyhow::ensure!(
            loaded.header.kind == ModelKind::Hmm,
            "--viterbi needs an HMM checkpoint, this one is {}",
            loaded.header.kind
        );
        let (_, payload) = cadenza::checkpoint::load(&args.checkpoint)?;
        let hmm = cadenza::models::hmm::HmmModel::from_safetensors(&payload)?;
        for (piece, seq) in corpus.split(args.split).zip(&seqs).take(n) {
            let path = hmm.viterbi(seq);
            let states: Vec<String> = path.iter().map(|s| s.to_string()).collect();
            println!("{}: {}", piece.path.display(), states.join(" "));
        }
    }
    Ok(())
}
