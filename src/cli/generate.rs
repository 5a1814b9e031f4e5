//! `cadenza generate`: sample new pieces from a checkpoint, optionally continuing a seed MIDI.

use std::path::PathBuf;

use super::progress::Reporter;
use cadenza::generate::{self, GenerateOptions, GenerateRequest};

use clap::builder::TypedValueParser as _;

use super::options::{GuardArgs, SamplingArgs};

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
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Folder for the generated files.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Leave the primer out of the written files.
    #[arg(long)]
    strip_primer: bool,
    /// Write in this key: a tonic and a mode, such as "A minor", "F# major", "Bb minor". Needs
    /// a checkpoint trained with --transpose-to-key or --controls key (which states it in a key
    /// token). With --seed the seed's key is the default.
    #[arg(long, value_name = "KEY", value_parser = super::options::parse_key)]
    key: Option<cadenza::key::Key>,
    /// With --key or --density: sample K candidates per piece and keep, of the asked density's
    /// third of them, the one that sounds most in the key (a key-relative model chooses between
    /// the major key and its relative minor itself).
    #[arg(long, visible_alias = "key-candidates", value_name = "K",
          default_value_t = cadenza::key::DEFAULT_KEY_CANDIDATES,
          value_parser = clap::value_parser!(u64).range(1..=64).map(|k| k as usize))]
    candidates: usize,
    /// How many notes a beat the pieces play: `low`, `medium` or `high`, against what the model
    /// writes from this seed (the sparsest, middle or densest third of --candidates samples).
    /// Works with every model; one trained with --controls density is also told, by a density
    /// token from the asked third of its training pieces' densities.
    #[arg(long, value_name = "LEVEL", value_parser = super::options::parse_density)]
    density: Option<cadenza::density::Density>,
    /// Which instruments the pieces may play: `seed` (the default: the seed's instruments, any
    /// without a seed), `any`, or a comma-separated list of General MIDI names or program
    /// numbers and `drums`, such as "Acoustic Grand Piano,33,drums". A checkpoint trained with
    /// --controls instruments is also told them, as instrument tokens.
    #[arg(long, value_name = "LIST", default_value = "seed", value_parser = super::options::parse_instruments)]
    instruments: cadenza::generate::Instruments,
    /// Tempo of the written pieces, in quarter notes a minute (default: the seed's, else 120).
    /// Beats-grid checkpoints only (the default grid): their tokens count beats, not seconds. A
    /// checkpoint trained with --controls tempo is also told it, as a tempo token.
    #[arg(long, value_name = "BPM")]
    tempo: Option<f64>,
    /// Device for libtorch models: auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Play the first generated piece when done (speakers or the MIDI port chosen as `play`
    /// would choose).
    #[arg(long)]
    play: bool,
    #[command(flatten)]
    guard: GuardArgs,
    /// With --max-copy: the corpus folder whose training split samples may not copy (default:
    /// the corpus the checkpoint records, split as it records), or a token store (`cadenza
    /// corpus build`; its train split).
    #[arg(long, value_name = "DIR", requires = "max_copy")]
    corpus: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let request = GenerateRequest {
        checkpoint: args.checkpoint,
        device: args.device,
        seed_file: args.seed,
        options: GenerateOptions {
            count: args.count,
            length: args.length,
            sampler: args.sampling.sampler(),
            rng_seed: args.sampling.rng_seed,
            seed_beats: args.seed_beats,
            seed_seconds: args.seed_seconds,
            strip_primer: args.strip_primer,
            key: args.key,
            candidates: args.candidates,
            density: args.density,
            instruments: args.instruments,
            tempo: args.tempo,
        },
        guard: args.guard.guard(),
        copy_corpus: args.corpus,
        out: args.out,
    };
    let reporter = Reporter::new();
    let done = generate::run(&request, &reporter)?;
    reporter.finish();
    for (path, g) in &done.pieces {
        println!(
            "{}  {} notes, {:.1} s, {} primer + {} new tokens",
            path.display(),
            g.piece.note_count(),
            g.piece.duration_seconds(),
            g.primer.len(),
            g.continuation.len()
        );
        if let Some(n) = g.longest_copy {
            println!("    longest copy of the training split: {n} notes");
        }
    }
    eprintln!(
        "{} tokens in {:.2} s ({:.0} tokens/s)",
        done.new_tokens,
        done.seconds,
        done.new_tokens as f64 / done.seconds.max(1e-9)
    );
    if args.play {
        if let Some((first, _)) = done.pieces.first() {
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
