//! `cadenza infill` and `cadenza harmonize`: edit a piece with any checkpoint (regenerate a
//! region, or write voices under a melody), each output the best of K candidates.

use std::path::PathBuf;

use cadenza::edit::{self, Edit, EditOptions, EditRequest, Region, Rerank};

use super::options::SamplingArgs;
use super::progress::Reporter;

/// What infill and harmonize share: the checkpoint, how many outputs and candidates, where to.
#[derive(Debug, clap::Args)]
pub struct EditArgs {
    /// Number of output files.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Candidates sampled per output; the one with the highest joint likelihood of the new
    /// notes and the music after them is kept (1: no reranking).
    #[arg(long, default_value_t = 16)]
    candidates: usize,
    /// Most new tokens per candidate (the edit usually ends sooner).
    #[arg(long, default_value_t = 4096)]
    length: usize,
    /// What candidates are ranked by: `kept` (how likely the kept music is given the new notes:
    /// the music after the region, or the melody) or `joint` (the new notes and the kept music
    /// together: the most likely edited piece, which favours fewer new notes).
    #[arg(long, default_value = "kept", value_parser = ["kept", "joint"])]
    rerank: String,
    /// Infill: with a model trained to fill in the middle (`train --fim-rate`), let it read the
    /// music after the region before writing it (else it writes left to right and the music
    /// after counts through the reranking only, which measured better on Bach).
    #[arg(long)]
    fim: bool,
    /// Start no note while N notes already sound (kept notes included).
    #[arg(long, value_name = "N")]
    max_polyphony: Option<usize>,
    /// Let no new note end a copy of more than N notes of the model's training split (see
    /// `generate --max-copy`; the kept notes are not checked).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_copy: Option<u64>,
    /// With --max-copy: the corpus folder whose training split new notes may not copy
    /// (default: the corpus the checkpoint records).
    #[arg(long, value_name = "DIR", requires = "max_copy")]
    corpus: Option<PathBuf>,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Folder for the files, named `<checkpoint stem>-NNN.mid`.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Device for libtorch models: auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Ask for the new notes in this key, such as "D minor" (a checkpoint trained with
    /// --controls key, not key-relative: the key is stated as a token). By default the piece's
    /// own key is stated.
    #[arg(long, value_name = "KEY", value_parser = super::options::parse_key)]
    key: Option<cadenza::key::Key>,
}

impl EditArgs {
    fn options(&self, horizon_beats: f64) -> EditOptions {
        EditOptions {
            count: self.count,
            candidates: self.candidates,
            length: self.length,
            sampler: self.sampling.sampler(),
            rng_seed: self.sampling.rng_seed,
            horizon_beats,
            max_polyphony: self.max_polyphony,
            rerank: if self.rerank == "joint" { Rerank::Joint } else { Rerank::Kept },
            fim: self.fim,
            copy_limit: None,
            key: self.key,
        }
    }
}

/// Regenerate the notes that start in a region of a piece and keep every other note exactly.
///
/// The model writes the region left to right under constraints: notes start only inside it, its
/// time adds up to the region exactly (so the notes after it keep their times), notes sounding
/// into it from before keep their ends. Each output is the best of --candidates samples by
/// log p(fill | before) + log p(after | before, fill), the music after the region scored over
/// --horizon beats.
#[derive(Debug, clap::Args)]
pub struct InfillArgs {
    /// The checkpoint to sample from (any generator).
    checkpoint: PathBuf,
    /// The piece to edit.
    #[arg(long, value_name = "IN.mid")]
    piece: PathBuf,
    /// The region in quarter notes from the start, A-B (end exclusive), e.g. 16-20.
    #[arg(long, value_name = "A-B", required_unless_present = "bars", conflicts_with = "bars")]
    beats: Option<String>,
    /// The region in bars, A-B (1-based, both included), following the piece's time signatures.
    #[arg(long, value_name = "A-B")]
    bars: Option<String>,
    /// Quarter notes of the real music after the region that reranking scores.
    #[arg(long, default_value_t = 8.0)]
    horizon: f64,
    #[command(flatten)]
    common: EditArgs,
}

/// Write voices under a melody: its notes are locked as the top voice (each sounds at its
/// onset, pitch and duration, nothing generated sounds at or above it), the model writes the
/// others. Each output is the best of --candidates samples by likelihood.
#[derive(Debug, clap::Args)]
pub struct HarmonizeArgs {
    /// The checkpoint to sample from (any generator).
    checkpoint: PathBuf,
    /// The melody: a single line (no two notes starting together).
    #[arg(long, value_name = "IN.mid")]
    melody: PathBuf,
    /// Most voices sounding under the melody at once.
    #[arg(long, default_value_t = 3)]
    voices: usize,
    #[command(flatten)]
    common: EditArgs,
}

/// `A-B` as two numbers.
fn range<T: std::str::FromStr>(flag: &str, text: &str) -> anyhow::Result<(T, T)> {
    let parse = |s: &str| s.trim().parse::<T>().ok();
    match text.split_once('-').and_then(|(a, b)| Some((parse(a)?, parse(b)?))) {
        Some(r) => Ok(r),
        None => anyhow::bail!("{flag} must be A-B (two numbers), got {text:?}"),
    }
}

pub fn run_infill(args: InfillArgs) -> anyhow::Result<()> {
    let region = match (&args.beats, &args.bars) {
        (Some(b), _) => {
            let (a, b) = range::<f64>("--beats", b)?;
            Region::Beats(a, b)
        }
        (None, Some(b)) => {
            let (a, b) = range::<u32>("--bars", b)?;
            Region::Bars(a, b)
        }
        (None, None) => anyhow::bail!("give the region with --beats A-B or --bars A-B"),
    };
    let request = EditRequest {
        checkpoint: args.checkpoint,
        device: args.common.device.clone(),
        piece: args.piece,
        edit: Edit::Infill { region },
        options: args.common.options(args.horizon),
        max_copy: args.common.max_copy.map(|n| n as usize),
        copy_corpus: args.common.corpus.clone(),
        out: args.common.out.clone(),
    };
    report(&request)
}

pub fn run_harmonize(args: HarmonizeArgs) -> anyhow::Result<()> {
    let request = EditRequest {
        checkpoint: args.checkpoint,
        device: args.common.device.clone(),
        piece: args.melody,
        edit: Edit::Harmonize { voices: args.voices },
        options: args.common.options(0.0),
        max_copy: args.common.max_copy.map(|n| n as usize),
        copy_corpus: args.common.corpus.clone(),
        out: args.common.out.clone(),
    };
    report(&request)
}

fn report(request: &EditRequest) -> anyhow::Result<()> {
    let reporter = Reporter::new();
    let done = edit::run(request, &reporter)?;
    reporter.finish();
    if let Some((a, b)) = done.region_beats {
        eprintln!("region: beats {a}-{b}");
    }
    for (path, e) in &done.pieces {
        println!(
            "{}  {} notes ({} new), candidate {} of {}, joint log-likelihood {:.2} nats",
            path.display(),
            e.piece.note_count(),
            e.new_notes,
            e.chosen + 1,
            e.candidates.len(),
            e.joint_log_prob
        );
        if e.missed_locked > 0 {
            eprintln!(
                "note: the sampler could not place {} locked notes; they are in the file all the same",
                e.missed_locked
            );
        }
    }
    eprintln!(
        "{} candidates sampled and ranked in {:.2} s",
        done.pieces.len() * request.options.candidates,
        done.seconds
    );
    Ok(())
}
