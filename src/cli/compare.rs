//! `cadenza compare`: Markov vs HMM vs LSTM (any checkpoints) side by side on one corpus's test
//! split: likelihood, generation speed, musical statistics against the real music, originality;
//! a terminal table plus `report.json`, `report.md` and `report.html` with the samples.

use std::path::PathBuf;

use cadenza::compare::{self, CompareOptions, Contender};
use cadenza::models::saved;
use cadenza::sampler::Sampler;

use super::options::GuardArgs;

/// Compare trained models on a corpus's test split.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The corpus folder (its test split is scored and primes the samples, its train split is
    /// the reference for originality).
    #[arg(long)]
    corpus: PathBuf,
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
    #[command(flatten)]
    guard: GuardArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.samples > 0, "--samples must be at least 1");
    // Check the tokenizers from the headers before loading any model.
    let headers =
        args.models.iter().map(|p| cadenza::checkpoint::load_header(p)).collect::<Result<Vec<_>, _>>()?;
    let pairs: Vec<_> = args.models.iter().map(PathBuf::as_path).zip(&headers).collect();
    let (tokenizers, which) = compare::tokenizers(&pairs)?;
    let loaded = args.models.iter().map(|p| saved::load(p, &args.device)).collect::<Result<Vec<_>, _>>()?;
    let corpora = tokenizers
        .iter()
        .map(|t| super::corpus::load(&args.corpus, t, args.no_cache))
        .collect::<Result<Vec<_>, _>>()?;
    let corpus = &corpora[0];
    let names = compare::contender_names(&args.models);
    let contenders: Vec<Contender<'_>> = loaded
        .iter()
        .zip(&args.models)
        .zip(names)
        .zip(&which)
        .map(|(((l, path), name), &k)| Contender {
            name,
            checkpoint: path.clone(),
            header: &l.header,
            model: l.model.as_ref(),
            corpus: &corpora[k],
        })
        .collect();
    let opts = CompareOptions {
        samples: args.samples,
        length: args.length,
        rng_seed: args.rng_seed,
        primer_beats: args.primer_beats,
        ngram: args.ngram.max(1),
        sampler: Sampler {
            temperature: args.temperature,
            notes: args.guard.rules(&corpus.tokenizer),
            ..Sampler::default()
        },
    };
    let mut outcome = compare::run(corpus, &contenders, &opts, |msg| eprintln!("{msg}"))?;
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
