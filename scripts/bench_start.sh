#!/usr/bin/env bash
# Start-up time of the command line, from repeated runs (issue 17's fast-start target: commands
# that need no libtorch in <= 50 ms). Times the fast-start `cadenza` (scripts/build.sh) against
# the full `cadenza-torch` on the same commands, and the hand-over for a libtorch command.
#
# Usage: scripts/bench_start.sh [RUNS] [BIN_DIR]   (defaults: 30, target/release)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
dir=${2:-target/release}
for b in cadenza cadenza-torch; do
    [[ -x "$dir/$b" ]] || { echo "bench_start.sh: no $dir/$b (run scripts/build.sh)" >&2; exit 1; }
done
if readelf -d "$dir/cadenza" | grep 'libtorch' >/dev/null; then
    echo "bench_start.sh: $dir/cadenza links libtorch: build the fast-start one with scripts/build.sh" >&2
    exit 1
fi
seed=corpora/bach/bwv1.6.mid
[[ -f $seed ]] || { echo "bench_start.sh: no $seed (scripts/setup.sh --corpora bach)" >&2; exit 1; }
python3 - "$runs" "$dir" "$seed" <<'PY'
import statistics, subprocess, sys, time
runs, d, seed = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cases = [
    ("cadenza --version", [f"{d}/cadenza", "--version"]),
    ("cadenza-torch --version", [f"{d}/cadenza-torch", "--version"]),
    (f"cadenza tokens {seed}", [f"{d}/cadenza", "tokens", seed]),
    (f"cadenza-torch tokens {seed}", [f"{d}/cadenza-torch", "tokens", seed]),
    ("cadenza doctor --json (handed over)", [f"{d}/cadenza", "doctor", "--json"]),
    ("cadenza-torch doctor --json", [f"{d}/cadenza-torch", "doctor", "--json"]),
]
print(f"{'command':<48} {'median ms':>10} {'p90 ms':>8} {'min ms':>8}  ({runs} runs)")
for name, cmd in cases:
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)  # warm the page cache
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        t.append((time.perf_counter() - t0) * 1000)
    t.sort()
    print(f"{name:<48} {statistics.median(t):>10.1f} {t[int(0.9 * (len(t) - 1))]:>8.1f} {t[0]:>8.1f}")
PY
