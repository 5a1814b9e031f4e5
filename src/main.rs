//! The `cadenza` command line: parses arguments and hands each subcommand to its module in
//! `src/cli/`. All real work lives in the library.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
