//! `cadenza corpus ...`: load a corpus and report on it.

use std::path::PathBuf;

use cadenza::corpus::{stats::CorpusStats, Corpus, LoadOptions};
use cadenza::Tokenizer;

use super::options::{CorpusArgs, TokenizerArgs};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Read a folder of MIDI files (recursively) and print its statistics: files read and
    /// skipped, pieces per split, notes, tokens, duration, instruments, pitch range, top tokens.
    Stats(StatsArgs),
}

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// The corpus folder.
    dir: PathBuf,
    /// How many of the most common tokens to list.
    #[arg(long, default_value_t = 12)]
    top: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    corpus_args: CorpusArgs,
    #[command(flatten)]
    tokenizer: TokenizerArgs,
}

/// Load `dir`, printing one line per skipped file and a final count on stderr.
pub fn load(dir: &std::path::Path, tokenizer: &Tokenizer, options: &LoadOptions) -> anyhow::Result<Corpus> {
    let reporter = super::progress::Reporter::new();
    let corpus = Corpus::load_with(dir, tokenizer, options, Some(&reporter))?;
    reporter.finish();
    report_load(&corpus);
    Ok(corpus)
}

/// What loading `corpus` skipped, and how many pieces it read.
pub fn report_load(corpus: &Corpus) {
    let dir = &corpus.root;
    for s in &corpus.skipped {
        eprintln!("skipped {}: {}", corpus.root.join(&s.path).display(), s.reason);
    }
    eprintln!(
        "{}: {} pieces read, {} skipped{}{}",
        dir.display(),
        corpus.pieces.len(),
        corpus.skipped.len(),
        if corpus.dedup {
            format!(", {} musical duplicates left out", corpus.duplicates.len())
        } else {
            String::new()
        },
        if corpus.cache_hits > 0 { format!(" ({} from cache)", corpus.cache_hits) } else { String::new() }
    );
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Stats(a) => {
            let tokenizer = a.tokenizer.tokenizer()?;
            let corpus = load(&a.dir, &tokenizer, &a.corpus_args.load_options())?;
            let stats = CorpusStats::of(&corpus, a.top);
            if a.json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                print!("{stats}");
            }
            Ok(())
        }
    }
}
