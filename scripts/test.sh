#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up what the tests need (Debian packages, libtorch,
# Python reference tools, the Bach corpus), build the fast-start binary without libtorch, then
# run every Rust test (unit, integration, doc) with the default features, then the Python
# package's tests (pytest). `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --corpora bach
export CADENZA_PYTHON="$PWD/.pyenv/bin/python"
# The fast-start build without libtorch (target/debug/lite/cadenza), which tests/fast_start.rs runs.
bash scripts/build.sh --debug
cargo test --all-targets --no-fail-fast 2>&1
cargo test --doc 2>&1
# The Python package's tests (python/tests): tokenizer and store parity with the command line,
# the DDP trainer under torchrun (gloo, 2 processes), checkpoints both ways.
CADENZA_BIN="$PWD/target/debug/cadenza" CADENZA_LITE_BIN="$PWD/target/debug/lite/cadenza" .pyenv/bin/python -m pytest -q python/tests 2>&1
