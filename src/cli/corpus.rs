//! `cadenza corpus ...`: load a corpus and report on it, or build a token store from it.

use std::path::PathBuf;

use cadenza::corpus::{stats::CorpusStats, Corpus, LoadOptions, SplitKey};
use cadenza::store::{BuildOptions, TokenStore};
use cadenza::Tokenizer;

use super::options::{CorpusArgs, TokenizerArgs};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Read a folder of MIDI files (recursively) and print its statistics: files read and
    /// skipped, pieces per split, notes, tokens, duration, instruments, pitch range, top tokens.
    Stats(StatsArgs),
    /// Tokenize a folder of MIDI files (recursively, in path order) into a token store:
    /// memory-mappable shards of tokens plus an index of pieces and splits, built with bounded
    /// memory whatever the corpus size. Interrupted, the same command resumes after the last
    /// finalized shard. `train`, `eval` and `compare` then take `--store STORE`.
    Build(BuildArgs),
    /// List the files of a folder (a pretraining corpus) that repeat, by bytes or by music, a
    /// valid or test piece of other corpora under either split key (music or file bytes), so
    /// that models pretrained on the folder are scored on those corpora honestly. `--remove`
    /// deletes them.
    HeldOut(HeldOutArgs),
}

#[derive(Debug, clap::Args)]
pub struct HeldOutArgs {
    /// The folder to check (e.g. corpora/base).
    dir: PathBuf,
    /// A corpus whose valid and test pieces must stay out (repeat the flag for several).
    #[arg(long = "from", value_name = "CORPUS", required = true)]
    from: Vec<PathBuf>,
    /// Delete the files found (and print only how many).
    #[arg(long)]
    remove: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The corpus folder.
    dir: PathBuf,
    /// The store folder to write (created; resumed if it holds an unfinished build).
    #[arg(long, value_name = "STORE")]
    out: PathBuf,
    /// What decides a piece's split: `music` (a hash of its notes on the beat grid) or
    /// `file-bytes` (a hash of the file), as for `--corpus`.
    #[arg(long, value_name = "KEY", default_value = "music", value_parser = super::options::parse_split_key)]
    split_key: SplitKey,
    /// Leave out every piece whose music repeats an earlier file's (in path order).
    #[arg(long)]
    dedup: bool,
    /// Rebuild from scratch even if STORE holds a build (complete or not, of any options).
    #[arg(long)]
    restart: bool,
    /// Tokens per shard: a shard is finalized before the piece that would take it past this.
    #[arg(long, default_value_t = cadenza::store::build::DEFAULT_SHARD_TOKENS, value_name = "N")]
    shard_tokens: u64,
    /// Files read in parallel at a time.
    #[arg(long, default_value_t = cadenza::store::build::DEFAULT_CHUNK_FILES, value_name = "N", hide = true)]
    chunk_files: usize,
    #[command(flatten)]
    tokenizer: TokenizerArgs,
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

/// What opening `store` found, on stderr (as [`report_load`] for a folder).
pub fn report_store(store: &TokenStore) {
    eprintln!(
        "{} (token store of {}): {} pieces in {} shards, {} skipped{}",
        store.dir.display(),
        store.source.display(),
        store.len(),
        store.manifest.shards.len(),
        store.skipped.len(),
        if store.manifest.build.dedup {
            format!(", {} musical duplicates left out", store.duplicates.len())
        } else {
            String::new()
        },
    );
}

fn build(a: BuildArgs) -> anyhow::Result<()> {
    let tokenizer = a.tokenizer.tokenizer()?;
    let opts = BuildOptions {
        split_key: a.split_key,
        dedup: a.dedup,
        restart: a.restart,
        shard_tokens: a.shard_tokens.max(1),
        chunk_files: a.chunk_files.max(1),
        ..BuildOptions::default()
    };
    let reporter = super::progress::Reporter::new();
    let built = cadenza::store::build(&a.dir, &tokenizer, &a.out, &opts, Some(&reporter))?;
    reporter.finish();
    let m = &built.manifest;
    if built.already_complete {
        eprintln!("{}: already complete with these options (pass --restart to rebuild)", a.out.display());
    } else if built.resumed_shards > 0 || built.resumed_files > 0 {
        eprintln!(
            "resumed after {} finalized shards ({} of {} files)",
            built.resumed_shards, built.resumed_files, m.build.files
        );
    }
    let t = m.totals.clone().unwrap_or_default();
    println!(
        "{}: {} files, {} pieces, {} tokens in {} shards, {} skipped{}; content hash {}",
        a.out.display(),
        m.build.files,
        t.pieces,
        t.tokens,
        m.shards.len(),
        t.skipped,
        if m.build.dedup { format!(", {} musical duplicates left out", t.duplicates) } else { String::new() },
        t.content_hash,
    );
    Ok(())
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Build(a) => build(a),
        Command::HeldOut(a) => held_out(a),
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

fn held_out(a: HeldOutArgs) -> anyhow::Result<()> {
    let ratios = cadenza::corpus::SplitRatios::default();
    let leaks = cadenza::corpus::held_out::leaks(&a.dir, &a.from, &ratios)?;
    if a.remove {
        for leak in &leaks {
            std::fs::remove_file(&leak.file)
                .map_err(|e| anyhow::anyhow!("{}: cannot remove: {e}", leak.file.display()))?;
        }
    }
    if a.json {
        println!("{}", serde_json::json!({ "leaks": leaks, "removed": a.remove }));
        return Ok(());
    }
    for leak in leaks.iter().filter(|_| !a.remove) {
        let how = match leak.matched {
            cadenza::corpus::held_out::Matched::Bytes => "the same bytes as",
            cadenza::corpus::held_out::Matched::Music => "the music of",
        };
        println!("{}: {how} {}", leak.file.display(), leak.held_out.display());
    }
    let verb = if a.remove { "removed" } else { "found" };
    eprintln!("{}: {} held-out pieces {verb}", a.dir.display(), leaks.len());
    Ok(())
}
