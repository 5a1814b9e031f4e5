//! Options shared by several subcommands: the tokenizer settings and the note guard.

use std::path::PathBuf;

use cadenza::corpus::{LoadOptions, Split, SplitKey};
use cadenza::error::BpeFileError;
use cadenza::models::ModelKind;
use cadenza::sampler::Guard;
use cadenza::tokens::{Bpe, Grid, Scheme, Tokenizer, TokenizerConfig, TokenizerSettings};
use cadenza::Error;
use clap::builder::TypedValueParser as _;

/// How MIDI is turned into tokens (the defaults suit most corpora).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Tokenizer")]
pub struct TokenizerArgs {
    /// Tokenization scheme: `tsd` (SHIFT between onsets, then PITCH VELOCITY DURATION per
    /// note), `midi-like` (NOTE_ON / NOTE_OFF / SHIFT events, as checkpoints made before
    /// schemes existed) or `remi` (BAR, POSITION in the bar, then PITCH VELOCITY DURATION;
    /// beats grid only). Default: `tsd`, except `midi-like` for `train --model lstm` and
    /// `--model transformer` (the best measured for each model; see the README's results).
    #[arg(long = "tokenizer", value_name = "SCHEME", value_parser = parse_scheme)]
    pub scheme: Option<Scheme>,
    /// Time grid: `beats` (steps per quarter note, follows the score) or `seconds` (10 ms steps,
    /// the Performance RNN layout).
    #[arg(long, value_enum, default_value_t = GridKind::Beats)]
    pub grid: GridKind,
    /// Steps per quarter note on the beats grid (12 makes sixteenths and triplets exact).
    #[arg(long, default_value_t = 12)]
    pub steps_per_beat: u16,
    /// Step length in milliseconds on the seconds grid.
    #[arg(long, default_value_t = 10)]
    pub step_ms: u16,
    /// Longest single TIME_SHIFT in steps (default: 4 beats, or 1 s on the seconds grid).
    #[arg(long)]
    pub max_shift: Option<u16>,
    /// Number of velocity bins.
    #[arg(long, default_value_t = 32)]
    pub velocity_bins: u8,
    /// Merge all instruments into one piano part (drums dropped); no PROGRAM tokens.
    #[arg(long)]
    pub merge_piano: bool,
    /// Keep up to N instruments of one program apart (1 to 16): two guitar tracks, two violins
    /// or two drum kits stay two parts, as the instances `PROGRAM_25`, `PROGRAM_25_TRACK_2`,
    /// ...; further ones merge into the last. The default 1 merges every instrument of one
    /// program into one part, as checkpoints made before the option did. 4 suits band and
    /// chamber folders. Recorded in the checkpoint.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub tracks: u8,
    /// Do not apply the sustain pedal to note lengths.
    #[arg(long)]
    pub no_sustain: bool,
    /// Key-relative training: move every piece to C major or A minor (its key found from its
    /// notes, or its key signature when they agree) before the model learns it, as BachBot
    /// and DeepBach did; generated music is moved to `--key`, or to the seed's key. Recorded in
    /// the checkpoint. Neural training then does not transpose windows unless `--transpose`
    /// asks for it.
    #[arg(long)]
    pub transpose_to_key: bool,
    /// Control tokens: every training piece starts with tokens that state its key, tempo,
    /// note density and instruments (a comma list of `key`, `tempo`, `density`,
    /// `instruments`, or `all`), each left out of a neural training window 30% of the time so
    /// that a request without it still works. `generate --key/--tempo/--density/--instruments`
    /// then state what they ask for; with a seed, the seed's own values are the default. The
    /// Markov chain also counts every piece under its controls, so they hold far into a piece.
    /// Recorded in the checkpoint; BPE merges (`--bpe`) never hold a control token.
    #[arg(long, value_name = "LIST", value_parser = parse_controls)]
    pub controls: Option<cadenza::tokens::ControlSet>,
    /// BPE merges to apply on top of the scheme's tokens (a file from `cadenza tokens
    /// learn-bpe`, learned with the same tokenizer options).
    #[arg(long, value_name = "FILE")]
    pub bpe: Option<PathBuf>,
}

/// `--model`: one of the library's model kinds, listed in `--help`.
pub fn model_kind() -> impl clap::builder::TypedValueParser<Value = ModelKind> {
    let names: Vec<&'static str> = ModelKind::ALL.iter().map(|k| k.name()).collect();
    clap::builder::PossibleValuesParser::new(names).map(|s| s.parse::<ModelKind>().expect("a listed kind"))
}

/// `--split`: train, valid or test, listed in `--help`.
pub fn split() -> impl clap::builder::TypedValueParser<Value = Split> {
    clap::builder::PossibleValuesParser::new(["train", "valid", "test"])
        .map(|s| s.parse::<Split>().expect("a listed split"))
}

/// The scheme when `--tokenizer` is not given (and the model does not call for another).
pub const DEFAULT_SCHEME: Scheme = Scheme::Tsd;

/// Where the pieces come from: a corpus folder, or a token store built from one.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct SourceArgs {
    /// The corpus folder of MIDI files.
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// A token store (`cadenza corpus build DIR --out STORE`) instead of a folder: its tokenizer
    /// and split are the ones it was built with; only its index is loaded, the tokens are mapped.
    #[arg(long, value_name = "STORE")]
    pub store: Option<PathBuf>,
}

impl SourceArgs {
    /// The folder (`--corpus`), or the store's (`--store`) for names and messages.
    pub fn name(&self) -> PathBuf {
        self.corpus.clone().or_else(|| self.store.clone()).unwrap_or_default()
    }
}

/// How a corpus folder is read and split.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Corpus")]
pub struct CorpusArgs {
    /// What decides a piece's split: `music` (a hash of its notes on the beat grid, so copies of
    /// one piece with other bytes, tempo or track names share a split) or `file-bytes` (a hash
    /// of the file, as cadenza split corpora before; copies can land in train and test).
    #[arg(long, value_name = "KEY", default_value = "music", value_parser = parse_split_key)]
    pub split_key: SplitKey,
    /// Leave out every piece whose music repeats an earlier file's (in path order).
    #[arg(long)]
    pub dedup: bool,
    /// Do not read or write the corpus token cache.
    #[arg(long)]
    pub no_cache: bool,
}

impl CorpusArgs {
    /// The library's load options for these flags.
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions { split_key: self.split_key, dedup: self.dedup, ..LoadOptions::cached(self.no_cache) }
    }
}

pub fn parse_split_key(s: &str) -> Result<SplitKey, String> {
    s.parse::<SplitKey>().map_err(|e| e.to_string())
}

/// `--key`: "A minor", "F# major", "Bb minor".
pub fn parse_key(s: &str) -> Result<cadenza::key::Key, String> {
    s.parse::<cadenza::key::Key>().map_err(|e| e.to_string())
}

/// `--controls`: `key,tempo,density,instruments`, `all` or `none`.
pub fn parse_controls(s: &str) -> Result<cadenza::tokens::ControlSet, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// `--density`: low, medium or high.
pub fn parse_density(s: &str) -> Result<cadenza::density::Density, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// `--instruments`: `seed`, `any`, or General MIDI names, program numbers and `drums`, separated
/// by commas.
pub fn parse_instruments(s: &str) -> Result<cadenza::generate::Instruments, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_scheme(s: &str) -> Result<Scheme, String> {
    s.parse::<Scheme>().map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GridKind {
    Beats,
    Seconds,
}

impl TokenizerArgs {
    /// The tokenizer these options describe, with the `--bpe` merges if given (an error naming
    /// the file when they were learned for other options).
    pub fn tokenizer(&self) -> anyhow::Result<Tokenizer> {
        self.tokenizer_or(DEFAULT_SCHEME)
    }

    /// As [`TokenizerArgs::tokenizer`], with `default` when `--tokenizer` is not given.
    pub fn tokenizer_or(&self, default: Scheme) -> anyhow::Result<Tokenizer> {
        let base = Tokenizer::new(self.config_or(default))?;
        let Some(path) = &self.bpe else { return Ok(base) };
        let bpe = Bpe::load(path)?;
        Ok(base.with_bpe(bpe).map_err(|e| match e {
            Error::Tokenizer(t) => Error::BpeFile { path: path.clone(), problem: BpeFileError::Merges(t) },
            other => other,
        })?)
    }

    /// The tokenizer configuration these options describe, with `default` when `--tokenizer`
    /// is not given.
    pub fn config_or(&self, default: Scheme) -> TokenizerConfig {
        TokenizerSettings {
            scheme: self.scheme.unwrap_or(default),
            grid: match self.grid {
                GridKind::Beats => Grid::Beats,
                GridKind::Seconds => Grid::Seconds,
            },
            steps_per_beat: self.steps_per_beat,
            step_ms: self.step_ms,
            max_shift: self.max_shift,
            velocity_bins: self.velocity_bins,
            merge_piano: self.merge_piano,
            tracks: self.tracks,
            sustain: !self.no_sustain,
            transpose_to_key: self.transpose_to_key,
            controls: self.controls.unwrap_or_default(),
        }
        .config()
    }
}

/// How sampling is kept well formed (`generate` and `compare`).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Note guard")]
pub struct GuardArgs {
    /// Sample every token as the model proposes it. By default NOTE_OFFs of pitches that are not
    /// sounding and time shifts that would hold a note past the tokenizer's length cap are ruled
    /// out, and the notes still sounding at the end are closed there.
    #[arg(long)]
    pub unguarded: bool,
    /// Start no note while N notes already sound (default: no limit). The chorales never have
    /// more than a handful: 5 or 6 keeps samples of weaker models from piling up notes.
    #[arg(long, value_name = "N", conflicts_with = "unguarded")]
    pub max_polyphony: Option<usize>,
    /// Let no sampled note end a copy of more than N notes of the model's training split: N
    /// consecutive notes (onset then pitch order) whose pitch intervals and onset gaps equal
    /// those of N notes of a training piece, transposed or not. Primer notes are not checked;
    /// when every note the model wants would copy, time moves on instead.
    #[arg(long, value_name = "N", conflicts_with = "unguarded", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_copy: Option<u64>,
}

/// How each token is drawn (the options `generate`, `infill` and `harmonize` share).
#[derive(Debug, Clone, clap::Args)]
pub struct SamplingArgs {
    /// Sampling temperature: < 1 safer, > 1 wilder, 0 always the most likely token.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Sample only among the K most likely tokens (0: all).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Sample only among the most likely tokens that make up probability P (1: all).
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// Seed of the sampler: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 0)]
    pub rng_seed: u64,
}

impl SamplingArgs {
    /// The sampler these options ask for (note rules are set by the job).
    pub fn sampler(&self) -> cadenza::sampler::Sampler {
        cadenza::sampler::Sampler {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            notes: None,
        }
    }
}

impl GuardArgs {
    /// The guard these options ask for.
    pub fn guard(&self) -> Guard {
        Guard {
            unguarded: self.unguarded,
            max_polyphony: self.max_polyphony,
            max_copy: self.max_copy.map(|n| n as usize),
        }
    }
}
