//! `cadenza tokens FILE`: show a file as tokens, optionally write the decoded round trip.

use std::path::PathBuf;

use cadenza::midi::{self, ReadOptions};
use cadenza::Tokenizer;

use super::options::TokenizerArgs;

/// Print a MIDI file's token sequence by name.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The MIDI file.
    file: PathBuf,
    /// Also decode the tokens and write the result to this MIDI file.
    #[arg(long, value_name = "OUT.mid")]
    roundtrip: Option<PathBuf>,
    /// Print token ids instead of names.
    #[arg(long)]
    ids: bool,
    #[command(flatten)]
    tokenizer: TokenizerArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let tokenizer = Tokenizer::new(args.tokenizer.config())?;
    let piece = midi::read_file(&args.file, &ReadOptions { apply_sustain: tokenizer.config().sustain })?;
    let tokens = tokenizer.encode(&piece);
    let words: Vec<String> =
        tokens.iter().map(|&t| if args.ids { t.to_string() } else { tokenizer.name(t) }).collect();
    println!("{}", words.join(" "));
    eprintln!("{}: {} notes, {} tokens", args.file.display(), piece.note_count(), tokens.len());
    if let Some(out) = args.roundtrip {
        let decoded = tokenizer.decode(&tokens);
        midi::write_file(&decoded, &out)?;
        eprintln!("wrote {} ({} notes)", out.display(), decoded.note_count());
    }
    Ok(())
}
