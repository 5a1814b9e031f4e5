//! `cadenza key PATH... [--profile P] [--notes-only] [--json]`: the key of each MIDI file (or of
//! every file under a folder), by the Krumhansl-Schmuckler method (`cadenza::key`). Needs no
//! libtorch, so the fast-start binary runs it itself.

use std::path::{Path, PathBuf};

use serde::Serialize;

use cadenza::key::{self, KeyEstimate, Profile};
use cadenza::midi::{self, ReadOptions};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
The key: the pitch classes of the pitched (non-drum) notes, each weighted by how long it sounds in \
beats, correlated with the profile in all 24 keys; the best correlation names the key. A file's \
key signature is taken instead when its key (or its relative major or minor) correlates within \
0.05 of the best, unless --notes-only.

Output: one line per file (file: key, correlation, margin over the second-best key, and \
'signature' when the file's key signature was taken); with --json one JSON array of objects with \
the keys file, key, tonic (0 = C), mode, correlation, margin, from_signature (key is null for a \
file without pitched notes). A file that cannot be read is named on stderr with the reason and \
left out.

Exit status: 0 when every file was read; 1 when one could not be (the others are reported).")]
pub struct Args {
    /// MIDI files, or folders searched recursively for .mid/.midi files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The key profile: aarden-essen (music21's default) or krumhansl-kessler.
    #[arg(long, value_name = "P", default_value = "aarden-essen", value_parser = parse_profile)]
    pub profile: Profile,
    /// Ignore key signatures: the key the notes alone suggest.
    #[arg(long)]
    pub notes_only: bool,
    /// Print one JSON array instead of lines.
    #[arg(long)]
    pub json: bool,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    match s {
        "aarden-essen" | "aarden" => Ok(Profile::AardenEssen),
        "krumhansl-kessler" | "krumhansl" | "krumhansl-schmuckler" => Ok(Profile::KrumhanslKessler),
        _ => Err(format!("unknown key profile {s:?} (expected aarden-essen or krumhansl-kessler)")),
    }
}

#[derive(Debug, Serialize)]
struct Found {
    file: String,
    key: Option<String>,
    tonic: Option<u8>,
    mode: Option<&'static str>,
    correlation: Option<f64>,
    margin: Option<f64>,
    from_signature: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for path in &args.paths {
        if path.is_dir() {
            files.extend(cadenza::corpus::files::midi_files(path)?);
        } else {
            files.push(path.clone());
        }
    }
    super::per_file::report_each(&files, args.json, "read", |file| find(file, &args), line)
}

fn find(file: &Path, args: &Args) -> cadenza::Result<Found> {
    let piece = midi::read_file(file, &ReadOptions::default())?;
    let estimate: Option<KeyEstimate> = if args.notes_only {
        key::key_of_notes(&piece, None, args.profile)
    } else {
        key::key_of_piece(&piece, None, args.profile)
    };
    Ok(Found {
        file: file.display().to_string(),
        key: estimate.map(|e| e.key.to_string()),
        tonic: estimate.map(|e| e.key.tonic),
        mode: estimate.map(|e| e.key.mode.name()),
        correlation: estimate.map(|e| e.correlation),
        margin: estimate.map(|e| e.margin),
        from_signature: estimate.is_some_and(|e| e.from_signature),
    })
}

fn line(f: &Found) -> String {
    match (&f.key, f.correlation, f.margin) {
        (Some(key), Some(r), Some(m)) => format!(
            "{}: {key} (correlation {r:.3}, margin {m:+.3}{})",
            f.file,
            if f.from_signature { ", signature" } else { "" }
        ),
        _ => format!("{}: no pitched notes", f.file),
    }
}
