#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up what the tests need (Debian packages, libtorch,
# Python reference tools, the Bach corpus), build the fast-start binary without libtorch, then
# run every Rust test (unit, integration, doc) with the default features. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --corpora bach
export CADENZA_PYTHON="$PWD/.pyenv/bin/python"
# The fast-start build without libtorch (target/debug/lite/cadenza), which tests/fast_start.rs runs.
bash scripts/build.sh --debug
cargo test --all-targets --no-fail-fast 2>&1
cargo test --doc 2>&1
