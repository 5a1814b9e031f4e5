//! `cadenza doctor`.

use std::path::PathBuf;

/// Show what this build and machine offer.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder holding the corpora.
    #[arg(long, default_value = "corpora")]
    corpora: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let report = cadenza::doctor::report(&args.corpora);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}
