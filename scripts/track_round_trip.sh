#!/usr/bin/env bash
# How many notes of multitrack files survive a round trip through tokens, for --tracks 1, 2, 4, 8
# and 16 (issue 25, "tracks kept"): the music21 string quartets (corpora/quartets, built here
# from music21 if missing), the Bach chorales, and 20 synthetic band files with doubled parts.
# Prints one JSON object (examples/track_round_trip.rs explains the counts).
#
#   bash scripts/track_round_trip.sh [--out FILE.json]
set -euo pipefail
cd "$(dirname "$0")/.."
out=""
if [[ "${1:-}" == "--out" ]]; then out="$2"; fi
py=.pyenv/bin/python
[[ -x "$py" ]] || py=python3
if [[ ! -f corpora/quartets/.complete ]]; then
    "$py" scripts/build_corpora.py --which quartets
fi
cargo build --quiet --release --example track_round_trip
run() { target/release/examples/track_round_trip corpora/quartets corpora/bach --synthetic 20 --tracks 1,2,4,8,16; }
if [[ -n "$out" ]]; then run > "$out"; cat "$out"; else run; fi
