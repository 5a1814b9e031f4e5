#!/usr/bin/env bash
# The main job on a fresh machine: set everything up, build the corpora and cadenza (release),
# report on the corpora, train the Markov chain and the HMM on the Bach chorales (default TSD
# tokens), get an LSTM (default midi-like tokens: the best measured for each model)
# (trained here on a GPU; on a CPU-only machine the committed checkpoints/bach.lstm is used, or a
# small one is trained if it is missing), take the committed checkpoints/bach.transformer, score
# each on the test split (bits/token, bits/note), generate a few pieces from each continuing a
# chorale's opening, do the same for the committed folk LSTM and Transformer, and finish with
# compare reports of all four (Bach) and both (folk), ranked by bits/note and judged by the
# committed style classifier.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --corpora all
bash scripts/build.sh
CADENZA=target/release/cadenza
# The committed neural checkpoints were trained before splits by musical content existed, on the
# split by file bytes; the models trained here use that split too, so that all four share one
# test split (compare refuses models trained on different splits).
SPLIT=(--split-key file-bytes)
OUT=${OUT:-out}
SEED=corpora/bach/bwv1.6.mid
$CADENZA doctor
for c in bach folk; do
    echo "=== corpus stats corpora/$c"
    $CADENZA corpus stats "corpora/$c"
done

echo "=== train"
$CADENZA train --model markov --corpus corpora/bach --out checkpoints/bach.markov "${SPLIT[@]}"
$CADENZA train --model hmm --corpus corpora/bach --out checkpoints/bach.hmm --states 64 "${SPLIT[@]}"
if $CADENZA doctor --json | grep '"cuda_available": true' >/dev/null; then
    $CADENZA train --model lstm --corpus corpora/bach --out checkpoints/bach.lstm --device cuda \
        --epochs 40 --patience 4 --rng-seed 1 "${SPLIT[@]}"
elif [ ! -f checkpoints/bach.lstm ]; then
    # The recipe of the committed checkpoint: 20-45 minutes on one CPU core.
    echo "no GPU: training a small LSTM on the CPU (a GPU trains the default 3 x 512 model)"
    OMP_NUM_THREADS=1 $CADENZA train --model lstm --corpus corpora/bach --out checkpoints/bach.lstm \
        --embed 128 --hidden 256 --layers 2 --dropout 0.3 --batch 16 --window 96 --lr 0.002 \
        --steps 11000 --warmup 300 --patience 6 --transpose 5 --rng-seed 1 "${SPLIT[@]}"
else
    echo "no GPU: using the committed checkpoints/bach.lstm"
fi

for m in markov hmm lstm transformer; do
    echo "=== $m: held-out test split, then 3 pieces continuing the first 8 beats of $SEED"
    $CADENZA eval "checkpoints/bach.$m" --corpus corpora/bach
    $CADENZA generate "checkpoints/bach.$m" --seed "$SEED" --seed-beats 8 --count 3 --length 600 \
        --temperature 0.9 --rng-seed 1 --out "$OUT/$m"
done

for m in lstm transformer; do
    echo "=== folk: the committed checkpoints/folk.$m on the folk test split, and 3 tunes"
    $CADENZA eval "checkpoints/folk.$m" --corpus corpora/folk
    $CADENZA generate "checkpoints/folk.$m" --count 3 --length 400 --rng-seed 1 --out "$OUT/folk-$m"
done

echo "=== compare (judged by the committed style classifier)"
$CADENZA compare --corpus corpora/bach --models checkpoints/bach.markov checkpoints/bach.hmm \
    checkpoints/bach.lstm checkpoints/bach.transformer --samples 20 \
    --judge checkpoints/styles.classifier --out "$OUT/compare"
echo "report: $OUT/compare/report.html"
$CADENZA compare --corpus corpora/folk --models checkpoints/folk.lstm checkpoints/folk.transformer \
    --samples 20 --judge checkpoints/styles.classifier --out "$OUT/compare-folk"
echo "report: $OUT/compare-folk/report.html"

echo "=== style classifier: the committed checkpoints/styles.classifier on the styles test split"
.pyenv/bin/python scripts/build_corpora.py --which styles --out corpora
$CADENZA classify eval checkpoints/styles.classifier --data corpora/styles --split test
