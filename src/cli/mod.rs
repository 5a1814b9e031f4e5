//! Command-line definitions (clap) and dispatch. Each subcommand lives in its own module and is a
//! thin layer over the library; errors are reported as one line on stderr with exit code 1.

use clap::{Parser, Subcommand};

/// Learn music from a folder of MIDI files and write new music as MIDI.
#[derive(Debug, Parser)]
#[command(name = "cadenza", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {}

/// Run the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {}
}
