#!/usr/bin/env bash
# Pack everything the GPU run (scripts/gpu_run.sh) needs into one git-ignored folder, to carry
# to a machine that has CUDA and PyTorch but no Rust: stripped release binaries (cadenza,
# examples/net_bench, examples/transformer_bench), the lib unit-test binary (it holds the
# `cuda_*` tests), the system libraries they need beyond glibc and libtorch (lib/), the Python
# package as installed in the project's Python (py/cadenza: its extension needs only glibc), the
# Bach, folk and base corpora as .tar.gz files, scripts/bench_torch.py,
# scripts/gpu_run.sh and a manifest.json. The folder must stay under 64 MiB (the carry limit);
# the script fails if it is over. Prints the folder's path last.
#
#   scripts/gpu_pack.sh                        # cargo build --release, cargo test --no-run --lib
#   scripts/gpu_pack.sh --from-target DIR      # no build: copy DIR/cadenza, DIR/examples/*, and
#                                              # the newest DIR/deps/cadenza-* holding the CUDA tests
#   scripts/gpu_pack.sh --lib-tests FILE       # this lib unit-test binary (no search, no build)
#   scripts/gpu_pack.sh --out FOLDER           # default .device/pack
#   scripts/gpu_pack.sh --no-base              # without the base corpus (the run skips the base)
#
# The corpora are $CADENZA_GPU_BACH and $CADENZA_GPU_FOLK (default corpora/bach, corpora/folk),
# and $CADENZA_GPU_BASE (default corpora/base, packed as base.tar.gz for the base model's steps;
# when the default folder was never built the pack goes without it and says so: build it with
# `scripts/build_corpora.py --which base`, 25 to 100 minutes on two cores; a default folder
# whose build was interrupted is refused, and a folder of your own must hold no Bach or folk
# valid or test piece).
# The binaries link libtorch dynamically (build.rs); gpu_run.sh points LD_LIBRARY_PATH at the GPU
# machine's PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "gpu_pack.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

from=""
lib_tests=""
no_base=0
out=".device/pack"
limit=$((64 * 1024 * 1024))
limit="${CADENZA_PACK_LIMIT:-$limit}"
while (($#)); do
    case "$1" in
        --from-target) from="${2:?--from-target needs a folder}"; shift ;;
        --out) out="${2:?--out needs a folder}"; shift ;;
        --lib-tests) lib_tests="${2:?--lib-tests needs a file}"; shift ;;
        --no-base) no_base=1 ;;
        -h | --help) usage ;;
        *) echo "gpu_pack.sh: unknown argument $1" >&2; usage ;;
    esac
    shift
done

bach="${CADENZA_GPU_BACH:-corpora/bach}"
folk="${CADENZA_GPU_FOLK:-corpora/folk}"
base="${CADENZA_GPU_BASE:-corpora/base}"
# midi_files DIR [FIND ACTIONS]: the MIDI files under DIR (links followed).
midi_files() { find -L "$1" -type f \( -iname '*.mid' -o -iname '*.midi' \) "${@:2}"; }
has_midi() { [[ -n "$(midi_files "$1" -print -quit)" ]]; }
for c in "$bach" "$folk"; do
    [[ -d "$c" ]] || die "no corpus folder $c (set CADENZA_GPU_BACH / CADENZA_GPU_FOLK, or scripts/build_corpora.py)"
    has_midi "$c" || die "no MIDI files in $c"
done
if ((no_base)); then
    base=""
elif [[ -d "$base" ]]; then
    has_midi "$base" || die "no MIDI files in $base (the base corpus)"
    # build_corpora.py marks the base complete after removing the Bach and folk valid and test
    # pieces from it: an interrupted build still holds some, which a pretraining must not see.
    [[ -n "${CADENZA_GPU_BASE:-}" || -e "$base/.complete" ]] \
        || die "$base is not complete (an interrupted scripts/build_corpora.py --which base: it still holds Bach and folk test pieces); run it again to finish, or pack with --no-base"
elif [[ -n "${CADENZA_GPU_BASE:-}" ]]; then
    die "no corpus folder $base (CADENZA_GPU_BASE)"
else
    echo "gpu_pack.sh: no $base: packed without the base corpus, so the GPU run skips the base model" \
        "(build it with scripts/build_corpora.py --which base: 25 to 100 minutes on two cores)" >&2
    base=""
fi

# The lib unit-test executable among candidate files: the newest that lists both CUDA tests.
lib_tests_in() {
    local best="" f
    for f in "$@"; do
        [[ -f "$f" && -x "$f" ]] || continue
        # grep reads the whole list (no -q): under pipefail, a grep that quits at the first match
        # can fail the pipeline with the lister's SIGPIPE.
        if "$f" --list 2>/dev/null | grep '^models::transformer::tests::cuda_matches_the_cpu_and_trains_in_bf16: test$' >/dev/null \
            && { [[ -z "$best" ]] || [[ "$f" -nt "$best" ]]; }; then
            best="$f"
        fi
    done
    [[ -n "$best" ]] && echo "$best"
}

if [[ -z "$from" ]]; then
    command -v jq >/dev/null || die "jq is needed to read cargo's JSON messages"
    echo "gpu_pack.sh: cargo build --release (cadenza-torch and the examples)" >&2
    cargo build --release --bin cadenza-torch --example net_bench --example transformer_bench >&2
    target="$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)"
    rel="$target/release"
    # The full command line (libtorch linked); packed as bin/cadenza.
    cadenza="$rel/cadenza-torch"
    net_bench="$rel/examples/net_bench"
    transformer_bench="$rel/examples/transformer_bench"
    if [[ -z "$lib_tests" ]]; then
        echo "gpu_pack.sh: cargo test --no-run --lib (the CUDA unit tests)" >&2
        lib_tests="$(cargo test --no-run --lib --message-format=json \
            | jq -r 'select(.reason == "compiler-artifact" and .profile.test and (.target.kind | index("lib")) and .executable != null) | .executable' \
            | tail -n 1)"
        [[ -n "$lib_tests" ]] || die "cargo test --no-run --lib named no lib test executable"
    fi
else
    [[ -d "$from" ]] || die "no target folder $from"
    cadenza="$from/cadenza-torch"
    [[ -f "$cadenza" ]] || cadenza="$from/cadenza"
    net_bench="$from/examples/net_bench"
    transformer_bench="$from/examples/transformer_bench"
    if [[ -z "$lib_tests" ]]; then
        lib_tests="$(lib_tests_in "$from"/deps/cadenza-*)" \
            || die "no lib unit-test binary with the CUDA tests in $from/deps (cargo test --no-run --lib)"
    fi
fi
for f in "$cadenza" "$net_bench" "$transformer_bench" "$lib_tests"; do
    [[ -f "$f" ]] || die "missing $f (build it: cargo build --release --bin cadenza-torch --examples; cargo test --no-run --lib)"
done

rm -rf "$out"
mkdir -p "$out/bin"
strip_copy() {
    cp "$1" "$2"
    if command -v strip >/dev/null; then strip "$2"; else echo "gpu_pack.sh: no strip; $2 unstripped" >&2; fi
}
strip_copy "$cadenza" "$out/bin/cadenza"
strip_copy "$net_bench" "$out/bin/net_bench"
strip_copy "$transformer_bench" "$out/bin/transformer_bench"
strip_copy "$lib_tests" "$out/bin/cadenza-lib-tests"
# System libraries the binaries need beyond glibc and libtorch (libasound for the MIDI ports),
# which the GPU machine may lack: packed into lib/, which gpu_run.sh puts on LD_LIBRARY_PATH.
mkdir -p "$out/lib"
for f in "$cadenza" "$lib_tests"; do
    ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
    case "$name" in
        libc.so* | libm.so* | libdl.so* | librt.so* | libpthread.so* | libutil.so* | ld-linux* | \
            libgcc_s.so* | libstdc++.so* | libtorch* | libc10* | libgomp* | libcu* | libnv* | libnccl* | libomp*) ;;
        *) cp -L "$path" "$out/lib/$name" ;;
    esac
done
# The Python package (issue 28) as scripts/setup.sh installed it, for the torchrun step.
python="${CADENZA_PYTHON:-.pyenv/bin/python}"
pkg="$("$python" -c 'import cadenza, os; print(os.path.dirname(cadenza.__file__))' 2>/dev/null)" \
    || die "$python cannot import cadenza: install the Python package (scripts/setup.sh)"
mkdir -p "$out/py/cadenza"
find "$pkg" -maxdepth 1 -type f \( -name '*.py' -o -name '*.so' \) -exec cp {} "$out/py/cadenza/" \;
tar -czf "$out/bach.tar.gz" -C "$bach" --dereference .
tar -czf "$out/folk.tar.gz" -C "$folk" --dereference .
[[ -z "$base" ]] || tar -czf "$out/base.tar.gz" -C "$base" --dereference --exclude .complete .
cp scripts/bench_torch.py scripts/gpu_run.sh "$out/"

count() { midi_files "$1" | wc -l; }
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
dirty="$(git diff --quiet HEAD 2>/dev/null && echo false || echo true)"
{
    printf '{\n "made": "%s",\n "commit": "%s",\n "dirty": %s,\n' "$(date -u +%FT%TZ)" "$commit" "$dirty"
    printf ' "sources": {"cadenza": "%s", "net_bench": "%s", "transformer_bench": "%s", "lib_tests": "%s"},\n' \
        "$cadenza" "$net_bench" "$transformer_bench" "$lib_tests"
    printf ' "corpora": {"bach": {"from": "%s", "midi_files": %d}, "folk": {"from": "%s", "midi_files": %d}' \
        "$bach" "$(count "$bach")" "$folk" "$(count "$folk")"
    if [[ -n "$base" ]]; then
        printf ', "base": {"from": "%s", "midi_files": %d}' "$base" "$(count "$base")"
    else
        printf ', "base": null'
    fi
    printf '},\n'
    printf ' "files": {'
    sep=""
    while IFS= read -r f; do
        printf '%s\n  "%s": {"bytes": %d, "sha256": "%s"}' "$sep" "$f" "$(stat -c %s "$out/$f")" \
            "$(sha256sum "$out/$f" | cut -d' ' -f1)"
        sep=","
    done < <(cd "$out" && find . -type f ! -name manifest.json | sed 's,^\./,,' | sort)
    printf '\n }\n}\n'
} >"$out/manifest.json"

bytes="$(du -sb "$out" | cut -f1)"
echo "gpu_pack.sh: $out holds $bytes bytes ($((bytes / 1024)) KiB) in $(find "$out" -type f | wc -l) files" >&2
if ((bytes > limit)); then
    die "$out is $bytes bytes, over the carry limit of $limit bytes: leave something out"
fi
cd "$out" && pwd
