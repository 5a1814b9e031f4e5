#!/usr/bin/env bash
# Build cadenza for use, in two parts (a plain `cargo build --release` builds only the first):
#
#   target/release/cadenza-torch  the full command line, linked with libtorch and its CUDA
#                                 libraries (`--no-as-needed`, see build.rs);
#   target/release/cadenza        the same command line without libtorch: it starts in a few
#                                 milliseconds (loading libtorch alone takes about 0.4 s) and
#                                 hands the commands that need libtorch (LSTM, Transformer,
#                                 classifier, doctor, studio) to cadenza-torch (src/cli/launch.rs).
#
# Usage: scripts/build.sh [--debug]   (--debug: the dev profile, into target/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
[[ "${1:-}" == "--debug" ]] && profile=dev
# Features of the build without libtorch: the defaults less `lstm`.
LITE_FEATURES=audio,studio,jack
cargo build --profile "$profile" --bin cadenza --bin cadenza-torch
cargo build --profile "$profile" --no-default-features --features "$LITE_FEATURES" --bin cadenza
dir=target/$([[ $profile == dev ]] && echo debug || echo release)
# A copy that later full builds (cargo test, cargo build) do not replace: tests/fast_start.rs
# runs it.
mkdir -p "$dir/lite"
cp "$dir/cadenza" "$dir/lite/cadenza"
echo "built $dir/cadenza (fast start, no libtorch; copy in $dir/lite) and $dir/cadenza-torch (libtorch)" >&2
