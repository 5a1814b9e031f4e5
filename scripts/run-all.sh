#!/usr/bin/env bash
# The main job on a fresh machine: set everything up, build the corpora, build cadenza in release
# mode and report on the corpora.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --corpora all
cargo build --release
CADENZA=target/release/cadenza
$CADENZA doctor
for c in bach folk; do
    echo "=== corpus stats corpora/$c"
    $CADENZA corpus stats "corpora/$c"
done
