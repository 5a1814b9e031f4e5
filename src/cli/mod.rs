//! Command-line definitions (clap) and dispatch. Each subcommand lives in its own module and is a
//! thin layer over the library; errors are reported as one line on stderr with exit code 1.

mod check_copy;
#[cfg(feature = "lstm")]
mod classify;
mod compare;
mod corpus;
mod doctor;
mod edit;
mod eval;
#[cfg(feature = "lstm")]
mod finetune;
mod generate;
mod key;
mod launch;
mod live;
mod options;
mod per_file;
mod play;
mod progress;
mod studio;
mod tokens;
mod train;
#[cfg(feature = "lstm")]
mod train_lstm;
#[cfg(feature = "lstm")]
mod train_transformer;

use clap::{Parser, Subcommand};

/// Learn music from a folder of MIDI files and write new music as MIDI.
///
/// Typical use: `cadenza corpus stats corpora/bach`, `cadenza train --model markov --corpus
/// corpora/bach --out checkpoints/bach.markov`, `cadenza generate checkpoints/bach.markov --out
/// out/`.
#[derive(Debug, Parser)]
#[command(name = "cadenza", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what this build and machine offer: libtorch, CUDA, SoundFont, audio, MIDI, corpora.
    Doctor(doctor::Args),
    /// Work with a corpus (a folder of MIDI files).
    #[command(subcommand)]
    Corpus(corpus::Command),
    /// Print a MIDI file's token sequence or write its decoded round trip; `learn-bpe` learns
    /// BPE merges on a corpus.
    Tokens(tokens::Args),
    /// Train a generator (markov, hmm, lstm, transformer) on a corpus and write its checkpoint.
    Train(Box<train::Args>),
    /// Fine-tune a base LSTM or Transformer on a folder of MIDI files: one command from a folder
    /// to a model (the base's kind, shape and tokenizer; small-folder defaults; early stopping on
    /// a held-out tenth of the folder).
    #[cfg(feature = "lstm")]
    Finetune(Box<finetune::Args>),
    /// Sample new MIDI files from a checkpoint, optionally continuing a seed file.
    Generate(generate::Args),
    /// Regenerate the notes in a region of a piece (--beats A-B or --bars A-B), keeping every
    /// other note; each output is the best of K candidates.
    Infill(Box<edit::InfillArgs>),
    /// Write voices under a melody (locked as the top voice); each output is the best of K
    /// candidates.
    Harmonize(Box<edit::HarmonizeArgs>),
    /// Held-out bits/token and perplexity of a checkpoint on a corpus split.
    Eval(eval::Args),
    /// Find the longest copy of a corpus's music in MIDI files (transposed and re-tempoed quotes
    /// count), where it comes from, and the share of each file's notes inside copies.
    CheckCopy(check_copy::Args),
    /// The key of MIDI files (Krumhansl-Schmuckler key finding, or the file's key signature when
    /// the notes agree).
    Key(key::Args),
    /// Compare checkpoints side by side on a corpus's test split: bits/token, generation
    /// speed, musical statistics against the real music, originality; writes an HTML report.
    Compare(compare::Args),
    /// Play a MIDI file: through a MIDI port, the built-in SoundFont synth, or into a WAV file.
    Play(play::Args),
    /// Answer a player on a MIDI keyboard: each phrase continued by the model, on the beat.
    Live(live::Args),
    /// A style classifier on labelled MIDI folders: train, eval (accuracy, precision, recall,
    /// F1, confusion), predict.
    #[cfg(feature = "lstm")]
    #[command(subcommand)]
    Classify(classify::Command),
    /// Serve a local web page and JSON API: generate from a checkpoints folder, piano rolls,
    /// audio, and blind listening tests with votes in SQLite.
    Studio(studio::Args),
}

/// Run the command line; returns the process exit code.
pub fn main() -> i32 {
    restore_sigpipe();
    if let Err(e) = launch::hand_over_if_needed() {
        eprintln!("error: {}", one_line(&e));
        return 1;
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            1
        }
    }
}

/// Rust ignores SIGPIPE, which turns a closed pipe (`cadenza tokens f.mid | head`) into a panic
/// at the next `println!`. Like other Unix tools, end quietly instead.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called once at start-up, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Doctor(a) => doctor::run(a),
        Command::Corpus(c) => corpus::run(c),
        Command::Tokens(a) => tokens::run(a),
        Command::Train(a) => train::run(*a),
        #[cfg(feature = "lstm")]
        Command::Finetune(a) => finetune::run(*a),
        Command::Generate(a) => generate::run(a),
        Command::Infill(a) => edit::run_infill(*a),
        Command::Harmonize(a) => edit::run_harmonize(*a),
        Command::Eval(a) => eval::run(a),
        Command::Play(a) => play::run(a),
        Command::Live(a) => live::run(a),
        Command::Compare(a) => compare::run(a),
        Command::CheckCopy(a) => check_copy::run(a),
        Command::Key(a) => key::run(a),
        #[cfg(feature = "lstm")]
        Command::Classify(c) => classify::run(c),
        Command::Studio(a) => studio::run(a),
    }
}

/// An error and its causes on one line, leaving out causes the message already quotes (the
/// library's errors name their cause themselves).
fn one_line(e: &anyhow::Error) -> String {
    cadenza::error::one_line(e.as_ref())
}
