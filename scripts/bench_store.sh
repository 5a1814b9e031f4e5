#!/usr/bin/env bash
# Measure the token store on a large synthetic corpus (issue #17, item 4): `corpus build`
# files/s and peak RSS, store size, and Markov and LSTM training from the store with their peak
# RSS; for comparison, `corpus stats` loading the whole folder into memory.
#
#   scripts/make_synthetic_corpus.py --out /tmp/synth --files 500000 corpora/bach corpora/folk
#   scripts/bench_store.sh /tmp/synth /tmp/bench-store
#
# Every command runs niced on one core (CORE, default 1) with RAYON_NUM_THREADS=1 (a measure of
# bounded memory more than of speed). MARKOV_COPIES (default 6) copy folders of the corpus,
# hard-linked into WORK/subset, make the Markov store: the Markov counter holds 16 bytes per
# training token by design, so it is measured on a tenth of the corpus.
set -euo pipefail
corpus=${1:?usage: bench_store.sh SYNTHETIC_CORPUS WORK_DIR}
work=${2:?usage: bench_store.sh SYNTHETIC_CORPUS WORK_DIR}
bin=${CADENZA:-target/release/cadenza}
core=${CORE:-1}
export RAYON_NUM_THREADS=1
export CADENZA_CACHE="$work/cache"
mkdir -p "$work"

# LABEL CMD...: one line on stderr with the wall time, the peak RSS (/usr/bin/time %M, which
# counts the pages of mapped shards and libraries the process touched: page cache the kernel can
# take back) and the peak anonymous RSS (heap and stacks, sampled every 20 ms from
# /proc/PID/status RssAnon: the memory the process really holds).
measure() {
  local label=$1; shift
  local log; log=$(mktemp)
  /usr/bin/time -o "$log" -f "%e s wall, %U s user, %S s sys, peak RSS %M KB" \
    nice -n 10 taskset -c "$core" "$@" &
  local tpid=$! child="" anon=0 a
  while kill -0 "$tpid" 2>/dev/null; do
    [ -z "$child" ] && child=$(pgrep -P "$tpid" | head -n1 || true)
    if [ -n "$child" ]; then
      a=$(awk '/^RssAnon/{print $2}' "/proc/$child/status" 2>/dev/null || true)
      [ -n "$a" ] && [ "$a" -gt "$anon" ] && anon=$a
    fi
    sleep 0.02
  done
  wait "$tpid"
  echo "$label: $(cat "$log"), peak anonymous RSS $anon KB" >&2
  rm -f "$log"
}

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GB; $(date -u +%F)"
files=$(find "$corpus" -name '*.mid' | wc -l)
echo "corpus: $corpus, $files files, $(du -sh "$corpus" | cut -f1)"
measure "cadenza --version (the binary's own baseline; libtorch loads at start unless it is the fast-start build)" "$bin" --version

rm -rf "$work/store"
start=$(date +%s.%N)
measure "corpus build" "$bin" corpus build "$corpus" --out "$work/store"
end=$(date +%s.%N)
echo "corpus build: $(echo "$files / ($end - $start)" | bc) files/s"
echo "store: $(du -sb "$work/store" | cut -f1) bytes in $(ls "$work/store" | grep -c cdzs) shards"

rm -rf "$work/store-dedup"
measure "corpus build --dedup" "$bin" corpus build "$corpus" --dedup --out "$work/store-dedup"
echo "store --dedup: $(du -sb "$work/store-dedup" | cut -f1) bytes; manifest totals: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"])' "$work/store-dedup/manifest.json")"
rm -rf "$work/store-dedup"

measure "corpus stats (whole folder in memory)" "$bin" corpus stats "$corpus" --no-cache > "$work/stats.txt"

rm -rf "$work/subset" "$work/store-subset"
mkdir -p "$work/subset"
for d in $(ls "$corpus" | head -n "${MARKOV_COPIES:-6}"); do cp -al "$corpus/$d" "$work/subset/$d"; done
measure "corpus build (Markov subset, $(find "$work/subset" -name '*.mid' | wc -l) files)" \
  "$bin" corpus build "$work/subset" --out "$work/store-subset"
measure "train markov --order 4 (subset store)" \
  "$bin" train --model markov --order 4 --store "$work/store-subset" --out "$work/subset.markov"

printf 'valid_max_tokens = 20000\n' > "$work/lstm.toml"
measure "train lstm 50 steps (full store)" \
  "$bin" train --model lstm --store "$work/store" --config "$work/lstm.toml" --steps 50 \
  --embed 64 --hidden 128 --layers 1 --batch 16 --window 128 --device cpu --out "$work/full.lstm"
