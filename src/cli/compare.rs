//! `cadenza compare`: Markov vs HMM vs LSTM (any checkpoints) side by side on one corpus's test
//! split: likelihood, generation speed, musical statistics against the real music, originality
//! (copies on notes, against the test pieces' own, and token n-grams);
//! a terminal table plus `report.json`, `report.md` and `report.html` with the samples; with
//! `--judge`, a style classifier's verdict on every model's samples.

use std::path::PathBuf;

use super::progress::Reporter;
use cadenza::compare::{self, CompareOptions, CompareRequest, JudgeRequest};
use cadenza::corpus::LoadOptions;
use cadenza::sampler::Sampler;
use clap::builder::TypedValueParser as _;

use super::options::GuardArgs;

/// Compare trained models on a corpus's test split.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The corpus folder (its test split is scored and primes the samples, its train split is
    /// the reference for originality).
    /// (Or `--store`: a token store, which every checkpoint must share the tokenizer of.)
    #[command(flatten)]
    source: super::options::SourceArgs,
    /// The checkpoints to compare (any tokenizers: they are ranked by bits per note, and
    /// bits/token is comparable only between models of one tokenizer).
    #[arg(long, num_args = 1.., required = true, value_name = "CHECKPOINT")]
    models: Vec<PathBuf>,
    /// Generated pieces per model.
    #[arg(long, default_value_t = 20)]
    samples: usize,
    /// New tokens per generated piece.
    #[arg(long, default_value_t = 512)]
    length: usize,
    /// Primer: this many beats from the start of a test piece.
    #[arg(long, default_value_t = 4.0)]
    primer_beats: f64,
    /// Seed of the sampler (the same for every model).
    #[arg(long, default_value_t = 0)]
    rng_seed: u64,
    /// Sampling temperature.
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// n of the n-grams whose share found in the training split measures copying.
    #[arg(long, default_value_t = 8)]
    ngram: usize,
    /// Copies on notes (as `cadenza check-copy` finds them) of at least N notes count in each
    /// sample's copied share, and in the test pieces' reference row (at least 2).
    #[arg(long, default_value_t = compare::copies::DEFAULT_COPY_MIN, value_name = "N")]
    copy_min: usize,
    /// Ask every model for this key, such as "E minor" (checkpoints trained with
    /// --transpose-to-key or --controls key; any other is refused): each sample is the one of
    /// --candidates that sounds most in it, written in it. Checkpoints with control tokens are
    /// told each primer's own controls, and this key.
    #[arg(long, value_name = "KEY", value_parser = super::options::parse_key)]
    key: Option<cadenza::key::Key>,
    /// Ask every model for a density, `low`, `medium` or `high`: each sample is taken from that
    /// third of --candidates samples by notes per beat.
    #[arg(long, value_name = "LEVEL", value_parser = super::options::parse_density)]
    density: Option<cadenza::density::Density>,
    /// With --key or --density: candidates sampled per primer (the sampling time counts them
    /// all).
    #[arg(long, value_name = "K", default_value_t = cadenza::key::DEFAULT_KEY_CANDIDATES,
          value_parser = clap::value_parser!(u64).range(1..=64).map(|k| k as usize))]
    candidates: usize,
    /// Folder for the reports and samples.
    #[arg(long, default_value = "out/compare")]
    out: PathBuf,
    /// Do not render WAV files even when a SoundFont is found.
    #[arg(long)]
    no_audio: bool,
    /// Device for libtorch models: auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Do not read or write the corpus token cache.
    #[arg(long)]
    no_cache: bool,
    /// A style classifier checkpoint (`cadenza classify train`) judging the samples: the share
    /// of each model's samples it attributes to --judge-label, with the test pieces' own share.
    #[arg(long, value_name = "CLASSIFIER")]
    judge: Option<PathBuf>,
    /// The judged label (default: the label most test pieces are attributed to).
    #[arg(long, value_name = "NAME", requires = "judge")]
    judge_label: Option<String>,
    #[command(flatten)]
    guard: GuardArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let request = CompareRequest {
        corpus: args.source.name(),
        store: args.source.store.clone(),
        models: args.models,
        load: LoadOptions::cached(args.no_cache),
        device: args.device,
        options: CompareOptions {
            samples: args.samples,
            length: args.length,
            rng_seed: args.rng_seed,
            primer_beats: args.primer_beats,
            ngram: args.ngram.max(1),
            copy_min: args.copy_min,
            sampler: Sampler { temperature: args.temperature, ..Sampler::default() },
            key: args.key,
            density: args.density,
            candidates: args.candidates,
        },
        guard: args.guard.guard(),
        judge: args.judge.map(|checkpoint| JudgeRequest { checkpoint, label: args.judge_label }),
    };
    let reporter = Reporter::new();
    let mut outcome = compare::run(&request, &reporter)?;
    reporter.finish();
    let soundfont =
        if args.no_audio || !cfg!(feature = "audio") { None } else { cadenza::doctor::find_soundfont() };
    if soundfont.is_some() {
        eprintln!("rendering WAV files");
    }
    compare::write(&mut outcome, &args.out, soundfont.as_deref())?;
    print!("{}", compare::report::terminal_table(&outcome.report));
    println!("wrote {}", args.out.join("report.html").display());
    Ok(())
}
