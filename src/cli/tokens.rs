//! `cadenza tokens FILE`: show a file as tokens, optionally write the decoded round trip;
//! `cadenza tokens learn-bpe`: learn BPE merges on a corpus's training split.

use std::path::PathBuf;

use anyhow::Context;
use cadenza::corpus::Split;
use cadenza::midi;
use cadenza::progress::Progress;
use cadenza::tokens::Bpe;

use super::options::{CorpusArgs, TokenizerArgs};

/// Print a MIDI file's token sequence by name, or learn BPE merges (`learn-bpe`).
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The MIDI file.
    #[arg(required = true)]
    file: Option<PathBuf>,
    /// Also decode the tokens and write the result to this MIDI file.
    #[arg(long, value_name = "OUT.mid")]
    roundtrip: Option<PathBuf>,
    /// Print token ids instead of names.
    #[arg(long)]
    ids: bool,
    #[command(flatten)]
    tokenizer: TokenizerArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Learn byte-pair-encoding merges on the training split of a corpus: the most frequent
    /// adjacent pair of tokens becomes one new token, again and again, until the vocabulary has
    /// --vocab tokens. Use the file with --bpe on train, tokens and corpus stats (with the same
    /// tokenizer options); checkpoints then carry the merges.
    LearnBpe(LearnBpeArgs),
}

#[derive(Debug, clap::Args)]
struct LearnBpeArgs {
    /// The corpus folder (its training split is learned from).
    #[arg(long)]
    corpus: PathBuf,
    /// Size of the vocabulary with the merges (base tokens included).
    #[arg(long)]
    vocab: usize,
    /// The BPE file to write.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    corpus_args: CorpusArgs,
    #[command(flatten)]
    tokenizer: TokenizerArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(Command::LearnBpe(a)) = args.command {
        return learn_bpe(a);
    }
    let file = args.file.context("a MIDI file is needed")?;
    let tokenizer = args.tokenizer.tokenizer()?;
    let piece = midi::read_file(&file, &tokenizer.read_options())?;
    // With --controls, the prefix the piece is trained with.
    let tokens = cadenza::controls::encode(&tokenizer, &piece);
    let words: Vec<String> =
        tokens.iter().map(|&t| if args.ids { t.to_string() } else { tokenizer.name(t) }).collect();
    println!("{}", words.join(" "));
    eprintln!("{}: {} notes, {} tokens", file.display(), piece.note_count(), tokens.len());
    if let Some(out) = args.roundtrip {
        let decoded = tokenizer.decode(&tokens);
        midi::write_file(&decoded, &out)?;
        eprintln!("wrote {} ({} notes)", out.display(), decoded.note_count());
    }
    Ok(())
}

fn learn_bpe(a: LearnBpeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(a.tokenizer.bpe.is_none(), "learn-bpe learns merges over the base tokens: drop --bpe");
    let tokenizer = a.tokenizer.tokenizer()?;
    let corpus = super::corpus::load(&a.corpus, &tokenizer, &a.corpus_args.load_options())?;
    let train = corpus.require(Split::Train)?;
    let goal = a.vocab.saturating_sub(tokenizer.vocab_size()) as u64;
    let reporter = super::progress::Reporter::new();
    let bpe = Bpe::learn(&tokenizer, &train, a.vocab, |n| reporter.update(n as u64, goal, "merging"))?;
    reporter.finish();
    bpe.save(&a.out)?;
    let before: usize = train.iter().map(Vec::len).sum();
    let after: usize = train.iter().map(|s| bpe.encode(s).len()).sum();
    println!(
        "{} merges ({} base tokens + {} = {}); training split {} -> {} tokens ({:.2}x shorter); wrote {}",
        bpe.merges().len(),
        bpe.base_len(),
        bpe.merges().len(),
        bpe.len(),
        before,
        after,
        before as f64 / after.max(1) as f64,
        a.out.display()
    );
    Ok(())
}
