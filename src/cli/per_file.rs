//! The report loop of the commands that look at each of several MIDI files (`check-copy`,
//! `key`): one line per file as it is done, or one JSON array at the end; a file that fails is
//! named on stderr with the reason while the others go on, and the command then exits non-zero.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

/// `look` at each of `files`, printing `line` of each result (or, with `json`, all results as
/// one JSON array); an error saying how many files could not be `done` ("read", "checked")
/// when any failed.
pub fn report_each<T: Serialize>(
    files: &[PathBuf],
    json: bool,
    done: &str,
    mut look: impl FnMut(&Path) -> cadenza::Result<T>,
    line: impl Fn(&T) -> String,
) -> anyhow::Result<()> {
    let mut results = Vec::new();
    let mut failed = 0;
    for file in files {
        match look(file) {
            Ok(r) => {
                if !json {
                    println!("{}", line(&r));
                }
                results.push(r);
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&results).context("writing the JSON")?);
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} files could not be {done}", files.len());
    }
    Ok(())
}
