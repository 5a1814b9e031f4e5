//! `cadenza-torch`: the full command line, libtorch included. It is what `cadenza` runs for the
//! commands that need libtorch when `cadenza` itself was built without it, for a fast start
//! (see `src/cli/launch.rs`); on its own it behaves exactly as `cadenza`.

#[path = "../cli/mod.rs"]
mod cli;

fn main() {
    std::process::exit(cli::main());
}
