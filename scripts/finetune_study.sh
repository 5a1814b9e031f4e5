#!/usr/bin/env bash
# Issue 26, item 7: a Transformer fine-tuned from the base against the same trained from scratch
# (and an order-auto Markov chain) on small folders: Bach with 25, 50, 100 and all training
# chorales, folk with 50 tunes. Scored on the full corpus's test split (file-bytes key, as the
# committed checkpoints), with compare's statistics. One core per run (OMP_NUM_THREADS=1).
#
#   bash scripts/finetune_study.sh PHASE [OUT_DIR]
#     PHASE: folders | scratch | markov | finetune | eval | compare | table
#
# folders: OUT/bach-25, bach-50, bach-100 and folk-50, drawn (seeded) from the pieces of
#   corpora/bach and corpora/folk that are in the training split under both split keys (so
#   neither valid nor test piece of either key is in them). Their pieces all fall in the training
#   split, so every run validates on the last tenth of each piece (held out by time). bach-all is
#   corpora/bach itself (its file-bytes training split, early stopping on its valid split); its
#   from-scratch Transformer is the committed checkpoints/bach.transformer (same recipe, 2,600
#   steps).
# Every run writes OUT/NAME.{transformer,markov,log,eval.json}; `table` prints the results.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CADENZA="${CADENZA:-$ROOT/target/debug/cadenza}"
BASE="${BASE:-$ROOT/checkpoints/base.transformer}"
PHASE="${1:?phase: folders | scratch | markov | finetune | eval | compare | table}"
OUT="${2:-$ROOT/out/finetune-study}"
export OMP_NUM_THREADS=1
mkdir -p "$OUT"
SETS="bach-25 bach-50 bach-100 bach-all folk-50"

corpus_of() { case "$1" in bach-*) echo "$ROOT/corpora/bach" ;; folk-*) echo "$ROOT/corpora/folk" ;; esac; }
folder_of() { if [ "$1" = bach-all ]; then echo "$ROOT/corpora/bach"; else echo "$OUT/$1"; fi; }

# Seconds of CPU time of a command (user + system), its output to LOG.
timed() {
  local log="$1"; shift
  /usr/bin/time -f "%U %S %e" -o "$log.time" "$@" > "$log" 2>&1
  awk '{printf "cpu_s=%.0f wall_s=%.0f\n", $1 + $2, $3}' "$log.time" >> "$log"
}

case "$PHASE" in
folders)
  for corpus in bach folk; do
    pool="$OUT/pool-$corpus"
    rm -rf "$pool"; mkdir -p "$pool"
    find "$ROOT/corpora/$corpus" -name '*.mid' -exec cp {} "$pool/" \;
    "$CADENZA" corpus held-out "$pool" --from "$ROOT/corpora/$corpus" --remove
  done
  for set in $SETS; do
    corpus="${set%%-*}"; n="${set#*-}"
    [ "$n" = all ] && continue
    rm -rf "$OUT/$set"; mkdir -p "$OUT/$set"
    ls "$OUT/pool-$corpus" | sort | "$ROOT/.pyenv/bin/python" -c "
import random, sys
names = [l.strip() for l in sys.stdin]
random.Random(26).shuffle(names)
print('\n'.join(names[:$n]))" | while read -r f; do cp "$OUT/pool-$corpus/$f" "$OUT/$set/"; done
    echo "$set: $(ls "$OUT/$set" | wc -l) pieces"
  done
  ;;
scratch)
  # The committed Transformers' shape and recipe, with early stopping: a small folder overfits.
  for set in ${SETS_ONLY:-$SETS}; do
    [ -f "$OUT/$set.scratch.transformer" ] && continue
    if [ "$set" = bach-all ]; then
      ln -s "$ROOT/checkpoints/bach.transformer" "$OUT/$set.scratch.transformer"
      echo "committed checkpoints/bach.transformer: cpu_s=2356" > "$OUT/$set.scratch.log"
      continue
    fi
    timed "$OUT/$set.scratch.log" "$CADENZA" train --model transformer --corpus "$(folder_of "$set")" \
      --split-key file-bytes --tokenizer midi-like --layers 4 --dim 144 --heads 4 --ff 576 \
      --dropout 0.2 --batch 16 --window 256 --lr 0.002 --warmup 100 --steps 1000 --patience 10 \
      --rng-seed 1 --device cpu --out "$OUT/$set.scratch.transformer"
    tail -n 1 "$OUT/$set.scratch.log"
  done
  ;;
markov)
  for set in ${SETS_ONLY:-$SETS}; do
    timed "$OUT/$set.markov.log" "$CADENZA" train --model markov --order auto --corpus "$(folder_of "$set")" \
      --split-key file-bytes --tokenizer tsd --out "$OUT/$set.markov"
    tail -n 1 "$OUT/$set.markov.log"
  done
  ;;
finetune)
  for set in ${SETS_ONLY:-$SETS}; do
    [ -f "$OUT/$set.tuned.transformer" ] && continue
    timed "$OUT/$set.tuned.log" "$CADENZA" finetune "$(folder_of "$set")" --base "$BASE" --split-key file-bytes \
      --device cpu --rng-seed 1 --out "$OUT/$set.tuned.transformer" ${FINETUNE_ARGS:-}
    tail -n 1 "$OUT/$set.tuned.log"
  done
  ;;
eval)
  for set in ${SETS_ONLY:-$SETS}; do
    for m in markov scratch.transformer tuned.transformer; do
      [ -f "$OUT/$set.$m" ] || continue
      "$CADENZA" eval "$OUT/$set.$m" --corpus "$(corpus_of "$set")" --json > "$OUT/$set.$m.eval.json"
    done
  done
  ;;
compare)
  for set in ${SETS_ONLY:-$SETS}; do
    corpus="$(corpus_of "$set")"
    models=()
    for m in scratch.transformer tuned.transformer markov; do
      [ -f "$OUT/$set.$m" ] && models+=("$OUT/$set.$m")
    done
    "$CADENZA" compare --corpus "$corpus" --models "${models[@]}" --samples 20 --no-audio \
      --out "$OUT/compare-$set" > "$OUT/compare-$set.log" 2>&1
    grep -A5 '^model' "$OUT/compare-$set.log"
  done
  ;;
table)
  printf '%-9s %-12s %10s %8s %8s\n' set model test_b/note cpu_s steps
  for set in $SETS; do
    for m in markov scratch.transformer tuned.transformer; do
      [ -f "$OUT/$set.$m.eval.json" ] || continue
      log="$OUT/$set.${m%.transformer}.log"
      bits=$("$ROOT/.pyenv/bin/python" -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))['bits_per_note']:.3f}\")" "$OUT/$set.$m.eval.json")
      cpu=$(grep -o 'cpu_s=[0-9]*' "$log" | tail -n 1 | cut -d= -f2 || true)
      steps=$(grep -oE 'at step [0-9]+|[0-9]+ steps|step [0-9]+/[0-9]+|order [0-9]+' "$log" | tail -n 1 || true)
      printf '%-9s %-12s %10s %8s %8s\n' "$set" "${m%.transformer}" "$bits" "$cpu" "$steps"
    done
  done
  ;;
*) echo "unknown phase $PHASE" >&2; exit 2 ;;
esac
