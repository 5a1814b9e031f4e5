//! Fast start: a `cadenza` built without libtorch (the `lstm` feature off, as
//! `scripts/build.sh` builds it) hands every command that needs libtorch to the full binary
//! beside it, `cadenza-torch`, and runs the others itself.
//!
//! Loading libtorch and its CUDA libraries costs about 0.4 s before `main` (their static
//! initializers), so a binary that links them cannot start `cadenza tokens` or `--version`
//! quickly. The decision is made on the raw arguments, before parsing them (the build without
//! libtorch does not know the LSTM's flags):
//!
//! - `classify`, `doctor`, `finetune` and `studio`, and every `--help`, go to `cadenza-torch`;
//! - `train` goes there unless `--model` is `markov` or `hmm`;
//! - any other command goes there when one of its arguments names a checkpoint of a kind that
//!   needs libtorch ([`ModelKind::needs_libtorch`]): `generate bach.lstm`, `compare ... --judge
//!   styles.classifier`.
//!
//! `cadenza-torch` is the full command line (same flags, same output): it is linked with
//! `--no-as-needed` (see `build.rs`), so it finds CUDA. Without a `cadenza-torch` beside it, this
//! binary runs everything itself and says which commands need the full build.

// The full build hands nothing over, but its tests still check the routing.
#![cfg_attr(feature = "lstm", allow(dead_code))]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use cadenza::checkpoint::{self, ModelKind};

/// The full binary's file name.
pub const TORCH_BINARY: &str = "cadenza-torch";

/// Whether the command line `args` (without the program name) needs libtorch.
pub fn needs_libtorch(args: &[OsString]) -> bool {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return true;
    }
    let Some(sub) = args.iter().position(|a| !a.starts_with('-')) else { return false };
    let rest = &args[sub + 1..];
    match args[sub].as_str() {
        "classify" | "doctor" | "finetune" | "studio" | "help" => true,
        "train" => !matches!(flag_value(rest, "--model"), Some("markov" | "hmm")),
        _ => rest.iter().any(|a| names_torch_checkpoint(a)),
    }
}

/// The value of `--name VALUE` or `--name=VALUE` in `args`.
fn flag_value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, a)| match a.strip_prefix(name) {
        Some("") => args.get(i + 1).map(String::as_str),
        Some(v) => v.strip_prefix('='),
        None => None,
    })
}

/// Whether `arg` (a path, or `--flag=path`) is a checkpoint whose model needs libtorch.
fn names_torch_checkpoint(arg: &str) -> bool {
    let path = arg.split_once('=').filter(|_| arg.starts_with("--")).map_or(arg, |(_, v)| v);
    let path = Path::new(path);
    path.is_file() && checkpoint::peek_kind(path).is_some_and(ModelKind::needs_libtorch)
}

/// `cadenza-torch` beside the running binary, if there is one.
pub fn torch_binary() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let full = me.parent()?.join(TORCH_BINARY);
    full.is_file().then_some(full)
}

/// In a build without libtorch, replace this process by `cadenza-torch` when the command needs
/// it; returns (to run the command here) when it does not, or when there is no such binary.
/// Only returns an error if the hand-over itself fails.
#[cfg(not(feature = "lstm"))]
pub fn hand_over_if_needed() -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if !needs_libtorch(&args) {
        return Ok(());
    }
    let Some(full) = torch_binary() else {
        eprintln!(
            "note: this cadenza has no libtorch and finds no {TORCH_BINARY} beside it (scripts/build.sh builds both)"
        );
        return Ok(());
    };
    let err = std::process::Command::new(&full).args(&args).exec();
    anyhow::bail!("cannot start {}: {err}", full.display())
}

/// The full build runs everything itself.
#[cfg(feature = "lstm")]
pub fn hand_over_if_needed() -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(line: &str) -> bool {
        let args: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
        needs_libtorch(&args)
    }

    #[test]
    fn routes_commands_by_what_they_need() {
        for light in [
            "",
            "--version",
            "tokens a.mid",
            "corpus stats corpora/bach",
            "play a.mid --wav a.wav",
            "train --model markov --corpus c",
            "train --corpus c --model=hmm",
            "generate missing.lstm --out o",
        ] {
            assert!(!needs(light), "{light}");
        }
        for heavy in [
            "--help",
            "train --help",
            "doctor --json",
            "studio",
            "finetune my-folder --out m.transformer",
            "classify train --corpus s",
            "train --model lstm --corpus c",
            "train --model=transformer --corpus c",
            "train --corpus c",
        ] {
            assert!(needs(heavy), "{heavy}");
        }
    }

    #[test]
    fn reads_flag_values_in_both_spellings() {
        let args: Vec<String> = ["--x", "1", "--model", "hmm", "--modelx=3"].map(String::from).to_vec();
        assert_eq!(flag_value(&args, "--model"), Some("hmm"));
        assert_eq!(flag_value(&args, "--x"), Some("1"));
        let args: Vec<String> = ["--model=lstm".to_string()].to_vec();
        assert_eq!(flag_value(&args, "--model"), Some("lstm"));
        assert_eq!(flag_value(&args, "--corpus"), None);
    }
}
