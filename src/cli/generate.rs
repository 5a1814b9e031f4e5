//! `cadenza generate`: sample new pieces from a checkpoint, optionally continuing a seed MIDI.

use std::path::PathBuf;

use anyhow::Context;
use cadenza::generate::{generate, GenerateOptions};
use cadenza::midi;
use cadenza::models::saved;
use cadenza::sampler::Sampler;

use super::options::GuardArgs;

/// Write new MIDI files sampled from a trained model.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint to sample from.
    checkpoint: PathBuf,
    /// A MIDI file whose opening primes the model (without it, pieces start from scratch).
    #[arg(long, value_name = "SEED.mid")]
    seed: Option<PathBuf>,
    /// Use the first N quarter notes of the seed as the primer.
    #[arg(long, conflicts_with = "seed_seconds", requires = "seed")]
    seed_beats: Option<f64>,
    /// Use the first S seconds of the seed as the primer.
    #[arg(long, requires = "seed")]
    seed_seconds: Option<f64>,
    /// Most new tokens sampled per piece (a sampled EOS ends a piece sooner; the NOTE_OFFs that
    /// close the notes still sounding at the end come on top).
    #[arg(long, default_value_t = 512)]
    length: usize,
    /// Number of pieces.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Sampling temperature: < 1 safer, > 1 wilder, 0 always the most likely token.
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Sample only among the K most likely tokens (0: all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Sample only among the most likely tokens that make up probability P (1: all).
    #[arg(long, default_value_t = 1.0)]
    top_p: f64,
    /// Seed of the sampler: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 0)]
    rng_seed: u64,
    /// Folder for the generated files.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Leave the primer out of the written files.
    #[arg(long)]
    strip_primer: bool,
    /// Device for libtorch models: auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Play the first generated piece when done (speakers or the MIDI port chosen as `play`
    /// would choose).
    #[arg(long)]
    play: bool,
    #[command(flatten)]
    guard: GuardArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let loaded = saved::load(&args.checkpoint, &args.device)?;
    let seed = match &args.seed {
        Some(p) => Some(midi::read_file(p, &loaded.tokenizer.read_options())?),
        None => None,
    };
    let opts = GenerateOptions {
        count: args.count,
        length: args.length,
        sampler: Sampler {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            notes: args.guard.rules(&loaded.tokenizer),
        },
        rng_seed: args.rng_seed,
        seed_beats: args.seed_beats,
        seed_seconds: args.seed_seconds,
        strip_primer: args.strip_primer,
    };
    let t0 = std::time::Instant::now();
    let pieces = generate(loaded.model.as_ref(), &loaded.tokenizer, seed.as_ref(), &opts)?;
    let secs = t0.elapsed().as_secs_f64();
    let new_tokens: usize = pieces.iter().map(|g| g.continuation.len()).sum();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create folder", args.out.display()))?;
    let stem = args.checkpoint.file_stem().map_or("piece".into(), |s| s.to_string_lossy().into_owned());
    let mut written = Vec::new();
    for (i, g) in pieces.iter().enumerate() {
        let path = args.out.join(format!("{stem}-{i:03}.mid"));
        midi::write_file(&g.piece, &path)?;
        written.push(path.clone());
        println!(
            "{}  {} notes, {:.1} s, {} primer + {} new tokens",
            path.display(),
            g.piece.note_count(),
            g.piece.duration_seconds(),
            g.primer.len(),
            g.continuation.len()
        );
    }
    eprintln!("{} tokens in {:.2} s ({:.0} tokens/s)", new_tokens, secs, new_tokens as f64 / secs.max(1e-9));
    if args.play {
        if let Some(first) = written.first() {
            play_first(first)?;
        }
    }
    Ok(())
}

#[cfg(feature = "audio")]
fn play_first(path: &std::path::Path) -> anyhow::Result<()> {
    eprintln!("playing {}", path.display());
    cadenza::play::play_file(path, &cadenza::play::PlayOptions::default())?;
    Ok(())
}

#[cfg(not(feature = "audio"))]
fn play_first(_: &std::path::Path) -> anyhow::Result<()> {
    anyhow::bail!("--play: this cadenza was built without the `audio` feature")
}
