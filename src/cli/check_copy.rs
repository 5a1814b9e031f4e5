//! `cadenza check-copy FILE... (--corpus DIR | --store STORE)`: the longest copy of training
//! music in each file, where it comes from, and the share of the file's notes inside copies
//! (`cadenza::originality`). Needs no libtorch, so the fast-start binary runs it itself.

use std::path::PathBuf;

use anyhow::Context;

use cadenza::originality::{self, CopyReport, Indexed, MIN_COPY_NOTES};
use cadenza::store::TokenStore;

use super::progress::Reporter;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
A copy of N notes: N consecutive notes (by onset, then pitch) whose N-1 pitch intervals and onset
gaps in beats match N consecutive notes of a corpus file, so transposed and re-tempoed quotes count.

Output: one line per file; with --json one JSON array, an object per file with the keys file, \
longest_notes, beat, source, source_beat, transposition, copied_share (source, source_beat and \
transposition are null without a copy of 2 notes or more). A FILE that cannot be read is named on \
stderr with the reason and left out; the others are still checked.

Exit status: 0 when every FILE was checked; 1 when a FILE could not be read (the others are \
reported) or the corpus or store is missing, unreadable or has no notes; 2 for bad arguments (such \
as --min 0).")]
pub struct Args {
    /// The MIDI files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub source: Source,
    /// Notes a copy must have to count in the copied share (at least 2).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = parse_min)]
    pub min: usize,
    /// Print one JSON array of reports instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// The music to find copies of.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Source {
    /// The corpus folder: every MIDI file under it, recursively.
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// A token store (`cadenza corpus build DIR --out STORE`): every piece, decoded with the
    /// store's tokenizer (so as it keeps them: on its grid, in its pitch range).
    #[arg(long, value_name = "STORE")]
    pub store: Option<PathBuf>,
}

fn parse_min(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    if n < MIN_COPY_NOTES {
        return Err(format!("a copy has at least {MIN_COPY_NOTES} notes (a single note is in every piece)"));
    }
    Ok(n)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let reporter = Reporter::new();
    let indexed = index(&args.source, &reporter);
    reporter.finish();
    let Indexed { index, skipped } = indexed?;
    eprintln!(
        "indexed {} pieces, {} notes of {}{}",
        index.pieces(),
        index.notes(),
        args.source
            .store
            .as_ref()
            .or(args.source.corpus.as_ref())
            .map_or(String::new(), |p| p.display().to_string()),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(" ({} unreadable files skipped)", skipped.len())
        }
    );
    super::per_file::report_each(
        &args.files,
        args.json,
        "checked",
        |file| originality::check_file(&index, file, args.min),
        |r| line(r, args.min),
    )
}

/// The index of the corpus folder or the store.
fn index(source: &Source, reporter: &Reporter) -> anyhow::Result<Indexed> {
    if let Some(dir) = &source.store {
        let store = TokenStore::open(dir)?;
        return Ok(originality::index_store(&store, Some(reporter))?);
    }
    let dir = source.corpus.as_deref().context("--corpus or --store is required")?;
    Ok(originality::index_folder(dir, Some(reporter))?)
}

/// One report as a line.
fn line(r: &CopyReport, min: usize) -> String {
    let share = format!("copied share {:.1}% (copies of {min}+ notes)", 100.0 * r.copied_share);
    match (&r.source, r.source_beat, r.transposition) {
        (Some(source), Some(source_beat), Some(t)) => format!(
            "{}: longest copy {} notes at beat {}, from {source} beat {}, transposed {t:+}; {share}",
            r.file,
            r.longest_notes,
            beat(r.beat),
            beat(source_beat)
        ),
        _ if r.longest_notes == 0 => format!("{}: no pitched notes; {share}", r.file),
        _ => format!("{}: no copy (no two consecutive notes move as in the corpus); {share}", r.file),
    }
}

/// A beat as a short number (`12`, `12.5`, `12.33`).
fn beat(b: f64) -> String {
    let s = format!("{b:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_the_copy_its_source_and_the_share() {
        let mut r = CopyReport {
            file: "q.mid".into(),
            longest_notes: 16,
            beat: 12.5,
            source: Some("a/b.mid".into()),
            source_beat: Some(4.0),
            transposition: Some(3),
            copied_share: 0.4567,
        };
        assert_eq!(
            line(&r, 8),
            "q.mid: longest copy 16 notes at beat 12.5, from a/b.mid beat 4, transposed +3; copied share \
             45.7% (copies of 8+ notes)"
        );
        r.transposition = Some(-2);
        r.source_beat = Some(1.0 / 3.0);
        assert!(line(&r, 8).contains("beat 0.33, transposed -2"), "{}", line(&r, 8));
        r.source = None;
        assert!(line(&r, 8).starts_with("q.mid: no copy"));
        r.longest_notes = 0;
        assert!(line(&r, 8).starts_with("q.mid: no pitched notes"));
        assert_eq!(beat(0.0), "0");
        assert!(parse_min("0").is_err() && parse_min("1").is_err() && parse_min("x").is_err());
        assert_eq!(parse_min("2"), Ok(2));
    }

    #[test]
    fn the_fast_start_binary_runs_it_itself() {
        let args: Vec<std::ffi::OsString> =
            ["check-copy", "a.mid", "b.mid", "--corpus", "corpora/bach", "--json"].map(Into::into).to_vec();
        assert!(!super::super::launch::needs_libtorch(&args));
    }
}
