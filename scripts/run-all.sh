#!/usr/bin/env bash
# The main job on a fresh machine: set everything up, build the corpora and cadenza (release),
# report on the corpora, train the Markov chain and the HMM on the Bach chorales, score them on
# the test split, and generate a few pieces from each, continuing a chorale's opening.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --corpora all
cargo build --release
CADENZA=target/release/cadenza
OUT=${OUT:-out}
SEED=corpora/bach/bwv1.6.mid
$CADENZA doctor
for c in bach folk; do
    echo "=== corpus stats corpora/$c"
    $CADENZA corpus stats "corpora/$c"
done
echo "=== train"
$CADENZA train --model markov --corpus corpora/bach --out checkpoints/bach.markov
$CADENZA train --model hmm --corpus corpora/bach --out checkpoints/bach.hmm --states 64
for m in markov hmm; do
    echo "=== $m: held-out test split, then 3 pieces continuing the first 8 beats of $SEED"
    $CADENZA eval "checkpoints/bach.$m" --corpus corpora/bach
    $CADENZA generate "checkpoints/bach.$m" --seed "$SEED" --seed-beats 8 --count 3 --length 600 \
        --temperature 0.9 --rng-seed 1 --out "$OUT/$m"
done
