#!/usr/bin/env bash
# The GPU run of issue 16, in one call: from the repository root of a machine with CUDA, PyTorch
# in `python3` and no Rust, run what `scripts/gpu_pack.sh` packed into FOLDER:
#
#   1. `cadenza doctor --json` (CUDA must be available), then the CUDA unit tests;
#   2. the LSTM and the Transformer against the same networks in PyTorch (scripts/bench_torch.py
#      with the packed examples/net_bench): training tokens/s f32 and bf16, sampling at batch 1,
#      64 and 256, peak memory; then examples/transformer_bench (KV cache against recomputing);
#   3. the Python trainer (issue 28) from a token store of Bach under `torchrun` on one GPU (NCCL;
#      gloo on the CPU in the dry run), then `cadenza eval --json` of its checkpoint;
#   4. the base model at GPU size (issue 26): the committed CPU base's command
#      (checkpoints/README.md) with a bigger shape and batch on the packed base corpus, time-boxed
#      (SIGINT at the box, which makes cadenza finish the step and write its checkpoint), scored on
#      the Bach and folk test splits as it is, then `cadenza finetune` of it on Bach, scored too
#      (not run, and said, when the pack holds no base corpus);
#   5. `cadenza train` of the default LSTM and Transformer on Bach and on folk (each time-boxed),
#      then `cadenza eval --json` of each on the test split;
#   6. at most 8 files into $OUT (default ./out/gpu): summary.json, logs.tar.gz and the
#      checkpoints that fit in 16 MiB (the base and its fine-tune first).
#
# Every step is time-boxed with `timeout` and the run as a whole keeps under $GPU_RUN_BUDGET
# seconds (default 510): a step that would not fit is skipped and reported. A failing step does
# not stop the run, but the summary says so and the script exits 1.
#
#   scripts/gpu_run.sh .device/pack              # on the GPU machine
#   scripts/gpu_run.sh --dry-run .device/pack    # here: the same steps on the CPU, tiny sizes
#
# --dry-run takes libtorch from $CADENZA_TORCH_LIB, else .libtorch/torch/lib. Knobs (real run):
# GPU_TRAIN_SECS (60), GPU_LSTM_STEPS (1500), GPU_TRANSFORMER_STEPS (800), GPU_BENCH_SECS (75);
# GPU_LSTM_SHAPE and GPU_TRANSFORMER_SHAPE (train flags of the shape, default: the GPU defaults),
# GPU_TRAIN_ARGS (more train flags, e.g. "--split-key file-bytes" to score on the committed
# checkpoints' split), all split on spaces; GPU_RUN_ONLY, an extended regex: run only the steps whose names match (doctor, cuda_tests,
# bench_MODEL_f32, bench_MODEL_bf16, bench_kv_cache, train_MODEL_CORPUS, eval_MODEL_CORPUS,
# pretrain_base, eval_base_CORPUS, finetune_base_bach, eval_finetune_bach, store_bach,
# ddp_transformer_bach, eval_ddp_transformer_bach); GPU_BASE_SECS (120), GPU_BASE_STEPS (1500),
# GPU_BASE_SHAPE (default 5 x 256, 4 heads, MLP 1024: a checkpoint under 16 MiB),
# GPU_FINETUNE_SECS (45) and GPU_FINETUNE_STEPS (600) for the base; GPU_DDP_STEPS (300) and
# GPU_DDP_SHAPE (default 6 x 512, 8 heads, MLP 2048) for the torchrun step.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

dry=0
pack=""
while (($#)); do
    case "$1" in
        --dry-run) dry=1 ;;
        -h | --help) usage ;;
        -*) echo "gpu_run.sh: unknown option $1" >&2; usage ;;
        *)
            [[ -z "$pack" ]] || { echo "gpu_run.sh: one FOLDER only (got $pack and $1)" >&2; exit 2; }
            pack="$1"
            ;;
    esac
    shift
done
[[ -n "$pack" ]] || usage

out="${OUT:-./out/gpu}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
if [[ -n "$(ls -A "$out")" ]]; then
    echo "gpu_run.sh: $out is not empty; results go into an empty folder" >&2
    exit 2
fi

# die MESSAGE: stop before any step ran, with the reason in $OUT/summary.json too.
die() {
    echo "gpu_run.sh: $1" >&2
    python3 -c 'import json, sys; json.dump({"ok": False, "dry_run": sys.argv[2] == "1", "error": sys.argv[1],
        "steps": [], "files": ["summary.json"]}, open(sys.argv[3], "w"), indent=1)' "$1" "$dry" "$out/summary.json" || true
    exit 2
}

[[ -d "$pack" ]] || die "no pack folder $pack (make it with scripts/gpu_pack.sh)"
pack="$(cd "$pack" && pwd)"
for f in bin/cadenza bach.tar.gz folk.tar.gz manifest.json; do
    [[ -e "$pack/$f" ]] || die "$pack/$f is missing (rebuild the pack with scripts/gpu_pack.sh)"
done

start=$(date +%s)
budget="${GPU_RUN_BUDGET:-510}"
work="$(mktemp -d "${TMPDIR:-/tmp}/cadenza-gpu-run.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/logs" "$work/results" "$work/ckpt" "$work/corpora/bach" "$work/corpora/folk"
steps="$work/steps.tsv"
: >"$steps"

# libtorch: the machine's PyTorch (the binaries link it dynamically, see build.rs).
if ((dry)); then
    lib="${CADENZA_TORCH_LIB:-.libtorch/torch/lib}"
else
    torch_dir="$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')" \
        || die "python3 cannot import torch (the GPU machine's PyTorch gives libtorch)"
    lib="$torch_dir/lib"
fi
[[ -e "$lib/libtorch.so" ]] || die "no libtorch.so in $lib (set CADENZA_TORCH_LIB)"
lib="$(cd "$lib" && pwd)"
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The system libraries gpu_pack.sh packed (libasound), last: the machine's own come first.
[[ -d "$pack/lib" ]] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$pack/lib"
export CADENZA_CACHE="$work/cache"
if ((dry)); then
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" RAYON_NUM_THREADS="${RAYON_NUM_THREADS:-1}"
fi

tar -xzf "$pack/bach.tar.gz" -C "$work/corpora/bach"
tar -xzf "$pack/folk.tar.gz" -C "$work/corpora/folk"
# The base corpus is packed only where it was built (scripts/build_corpora.py --which base).
has_base=0
if [[ -e "$pack/base.tar.gz" ]]; then
    mkdir -p "$work/corpora/base"
    tar -xzf "$pack/base.tar.gz" -C "$work/corpora/base"
    has_base=1
fi
cadenza="$pack/bin/cadenza"

# step NAME SECONDS [--int] CMD...: run CMD under `timeout` with its output in logs/NAME.log and
# record name, status (ok, failed, timeout, skipped), exit code, seconds and a note in steps.tsv.
# With --int the box sends one SIGINT to CMD alone (--foreground: a second one would make cadenza
# train quit without its checkpoint); cadenza train then writes its checkpoint and exits 0.
step() {
    local name="$1" secs="$2" sig=TERM
    shift 2
    if [[ "$1" == --int ]]; then sig=INT; shift; fi
    if [[ -n "${GPU_RUN_ONLY:-}" && ! "$name" =~ $GPU_RUN_ONLY ]]; then
        printf '%s\tnot_selected\t\t0\tnot matched by GPU_RUN_ONLY\n' "$name" >>"$steps"
        return 0
    fi
    local left=$((budget - ($(date +%s) - start)))
    if ((left < 15)); then
        printf '%s\tskipped\t\t0\trun budget of %ss spent\n' "$name" "$budget" >>"$steps"
        return 0
    fi
    local note=""
    if ((secs > left - 5)); then secs=$((left - 5)); note="box cut to ${secs}s by the run budget"; fi
    local t0 rc=0
    t0=$(date +%s.%N)
    local keep=()
    [[ "$sig" == INT ]] && keep=(--preserve-status --foreground)
    timeout "${keep[@]}" -s "$sig" -k 20 "$secs" "$@" >"$work/logs/$name.log" 2>&1 || rc=$?
    local dt status=ok
    dt=$(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 2))")
    if ((rc == 124)) && [[ "$sig" == TERM ]]; then status=timeout; elif ((rc != 0)); then status=failed; fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$dt" "$note" >>"$steps"
    echo "[gpu_run] $name: $status (rc $rc, ${dt}s)${note:+ - $note}" >&2
}

# fail NAME NOTE: record a check that failed after its step ran.
fail() { printf '%s\tfailed\t\t0\t%s\n' "$1" "$2" >>"$steps"; echo "[gpu_run] $1: failed - $2" >&2; }

# last_json LOG OUT: the last JSON object of LOG (one line, or pretty-printed from a line `{` to
# the last line `}`), into OUT; nothing when there is none.
last_json() {
    python3 - "$1" "$2" <<'PY'
import json, sys
try:
    lines = open(sys.argv[1], errors="replace").read().splitlines()
except OSError:
    sys.exit(0)
for i in reversed([i for i, l in enumerate(lines) if l.startswith("{")]):
    rest = "\n".join(lines[i:])
    for text in (lines[i], rest[: rest.rfind("}") + 1]):
        try:
            value = json.loads(text)
        except ValueError:
            continue
        with open(sys.argv[2], "w") as f:
            json.dump(value, f)
        sys.exit(0)
PY
}

if ((dry)); then
    device=cpu
    lstm_shape=(--layers 1 --hidden 16 --embed 8)
    tf_shape=(--layers 1 --dim 16 --heads 2 --ff 32)
    train_size=(--batch 2 --window 16)
    lstm_steps=(--steps 3)
    tf_steps=(--steps 3)
    train_secs=60
    bench=(--device cpu --embed 8 --hidden 16 --layers 1 --dim 16 --heads 2 --ff 32 --batch 2
        --window 16 --steps 3 --sample-tokens 8 --sample-batches "1,64,256" --threads 1)
    tbench=(--device cpu --layers 1 --dim 16 --heads 2 --ff 32 --context-tokens 32 --cached 8 --recomputed 2)
    bench_secs=120
    py="${CADENZA_PYTHON:-.pyenv/bin/python}"
    ddp=(--steps 3 --layers 1 --dim 16 --heads 2 --ff 32 --batch 2 --window 16)
    base_secs=60
    base_run=(--steps 3 --layers 1 --dim 16 --heads 2 --ff 32 --batch 2 --window 16 --warmup 1)
    tune_secs=60
    tune_run=(--steps 3 --batch 2)
else
    device=cuda
    read -r -a lstm_shape <<<"${GPU_LSTM_SHAPE:-}"
    read -r -a tf_shape <<<"${GPU_TRANSFORMER_SHAPE:-}"
    read -r -a train_size <<<"${GPU_TRAIN_ARGS:-}"
    lstm_steps=(--steps "${GPU_LSTM_STEPS:-1500}")
    tf_steps=(--steps "${GPU_TRANSFORMER_STEPS:-800}")
    train_secs="${GPU_TRAIN_SECS:-60}"
    # The GPU default shapes at the training default batch 64 x 256: LSTM 3 x 512 with embedding
    # 256 (--layers 3 for both; the Transformer's 6 is set in the loop), Transformer 6 x 512.
    bench=(--device cuda --embed 256 --hidden 512 --layers 3 --dim 512 --heads 8 --ff 2048
        --batch 64 --window 256 --steps 50 --sample-tokens 128 --sample-batches "1,64,256")
    tbench=(--device cuda --layers 6 --dim 512 --heads 8 --ff 2048 --threads 0)
    bench_secs="${GPU_BENCH_SECS:-75}"
    py=python3
    read -r -a ddp_shape <<<"${GPU_DDP_SHAPE:---layers 6 --dim 512 --heads 8 --ff 2048}"
    ddp=(--steps "${GPU_DDP_STEPS:-300}" "${ddp_shape[@]}")
    base_secs="${GPU_BASE_SECS:-120}"
    read -r -a base_shape <<<"${GPU_BASE_SHAPE:---layers 5 --dim 256 --heads 4 --ff 1024}"
    # The CPU base's recipe (checkpoints/README.md) at the GPU's batch of 64 x 256 tokens.
    base_run=(--steps "${GPU_BASE_STEPS:-1500}" "${base_shape[@]}" --batch 64 --window 256 --warmup 200)
    tune_secs="${GPU_FINETUNE_SECS:-45}"
    tune_run=(--steps "${GPU_FINETUNE_STEPS:-600}" --batch 64 --lr 0.001 --patience 10)
fi

# 1. doctor and the CUDA tests.
step doctor 60 "$cadenza" doctor --json --corpora "$work/corpora"
last_json "$work/logs/doctor.log" "$work/results/doctor.json"
cuda=$(python3 -c 'import json,sys; print(str(json.load(open(sys.argv[1]))["cuda_available"]).lower())' \
    "$work/results/doctor.json" 2>/dev/null || echo unknown)
if ((!dry)) && [[ "$cuda" != true ]]; then
    fail cuda_available "cadenza doctor reports cuda_available=$cuda (LD_LIBRARY_PATH=$LD_LIBRARY_PATH)"
fi
step cuda_tests 240 "$pack/bin/cadenza-lib-tests" cuda --test-threads=1 --nocapture
if [[ -e "$work/logs/cuda_tests.log" ]]; then
    ran=$(sed -n 's/^running \([0-9]*\) tests\{0,1\}$/\1/p' "$work/logs/cuda_tests.log" | head -n 1)
    if [[ -z "$ran" || "$ran" -lt 2 ]]; then
        fail cuda_tests_count "expected at least the LSTM and Transformer CUDA tests, ran ${ran:-none}"
    fi
    if ((!dry)) && grep -q 'skipping.*no CUDA' "$work/logs/cuda_tests.log"; then
        fail cuda_tests_skipped "a CUDA test skipped itself: libtorch sees no CUDA device"
    fi
fi

# 2. The LSTM and the Transformer against PyTorch, f32 and bf16; the Transformer's KV cache.
for model in lstm transformer; do
    layers=()
    [[ "$model" == transformer ]] && ((!dry)) && layers=(--layers 6)
    for precision in f32 bf16; do
        name="bench_${model}_$precision"
        flags=()
        [[ "$precision" == bf16 ]] && flags=(--bf16)
        step "$name" "$bench_secs" python3 "$pack/bench_torch.py" --cadenza-bin "$pack/bin/net_bench" \
            --model "$model" "${bench[@]}" "${layers[@]}" "${flags[@]}" --json
        last_json "$work/logs/$name.log" "$work/results/$name.json"
    done
done
step bench_kv_cache 60 "$pack/bin/transformer_bench" "${tbench[@]}"
last_json "$work/logs/bench_kv_cache.log" "$work/results/bench_kv_cache.json"

# 3. The Python trainer under torchrun (one process: NCCL on the GPU), from a token store.
step store_bach 90 "$cadenza" corpus build "$work/corpora/bach" --out "$work/store-bach" --tokenizer midi-like
step ddp_transformer_bach 120 env PYTHONPATH="$pack/py" "$py" -m torch.distributed.run --standalone \
    --nproc_per_node 1 -m cadenza.train --model transformer --store "$work/store-bach" \
    --out "$work/ckpt/bach-ddp.transformer" --device "$device" "${ddp[@]}"
step eval_ddp_transformer_bach 90 "$cadenza" eval "$work/ckpt/bach-ddp.transformer" \
    --store "$work/store-bach" --split test --device "$device" --json
last_json "$work/logs/eval_ddp_transformer_bach.log" "$work/results/eval_ddp_transformer_bach.json"

# 4. The base model at GPU size, scored as it is on both test splits (it never saw their valid
# and test pieces: build_corpora.py removed them; `eval` splits by the checkpoint's key, here
# file-bytes, that of the committed checkpoints), then fine-tuned on Bach as in
# checkpoints/README.md (bach-tuned.transformer) and scored again.
base="$work/ckpt/base.transformer"
tuned="$work/ckpt/bach-tuned.transformer"
if ((has_base)); then
    step pretrain_base "$base_secs" --int "$cadenza" train --model transformer --corpus "$work/corpora/base" \
        --tokenizer midi-like --out "$base" --dropout 0.1 --lr 0.002 --patience 10 --rng-seed 1 \
        --split-key file-bytes --device "$device" "${base_run[@]}"
    for corpus in bach folk; do
        step "eval_base_$corpus" 90 "$cadenza" eval "$base" --corpus "$work/corpora/$corpus" \
            --split test --device "$device" --json
        last_json "$work/logs/eval_base_$corpus.log" "$work/results/eval_base_$corpus.json"
    done
    step finetune_base_bach "$tune_secs" --int "$cadenza" finetune "$work/corpora/bach" --base "$base" \
        --split-key file-bytes --rng-seed 1 --device "$device" --out "$tuned" "${tune_run[@]}"
    step eval_finetune_bach 90 "$cadenza" eval "$tuned" --corpus "$work/corpora/bach" --split test \
        --device "$device" --json
    last_json "$work/logs/eval_finetune_bach.log" "$work/results/eval_finetune_bach.json"
else
    for name in pretrain_base eval_base_bach eval_base_folk finetune_base_bach eval_finetune_bach; do
        printf '%s\tnot_packed\t\t0\tthe pack holds no base corpus (scripts/build_corpora.py --which base, then scripts/gpu_pack.sh)\n' \
            "$name" >>"$steps"
    done
    echo "[gpu_run] the base model's steps: not run, the pack holds no base corpus" >&2
fi

# 5. Train the default models on both corpora, each scored on the test split right after (a run
# cut short by the budget loses whole pairs, not the evaluations).
for corpus in bach folk; do
    for model in lstm transformer; do
        if [[ "$model" == lstm ]]; then
            args=("${lstm_steps[@]}" "${lstm_shape[@]}")
        else
            args=("${tf_steps[@]}" "${tf_shape[@]}")
        fi
        ckpt="$work/ckpt/$corpus.$model"
        step "train_${model}_$corpus" "$train_secs" --int "$cadenza" train --model "$model" \
            --corpus "$work/corpora/$corpus" --out "$ckpt" --device "$device" "${args[@]}" "${train_size[@]}"
        step "eval_${model}_$corpus" 90 "$cadenza" eval "$ckpt" --corpus "$work/corpora/$corpus" \
            --split test --device "$device" --json
        last_json "$work/logs/eval_${model}_$corpus.log" "$work/results/eval_${model}_$corpus.json"
    done
done

# 6. Results: summary.json, logs.tar.gz, and the checkpoints that fit (8 files, 16 MiB each).
tar -czf "$out/logs.tar.gz" -C "$work" logs steps.tsv
python3 - "$work" "$out" "$pack" "$dry" "$start" "$budget" <<'EOF'
import hashlib, json, os, shutil, sys, time

work, out, pack, dry, start, budget = sys.argv[1:7]
dry = dry == "1"
max_files, max_bytes = 8, 16 * 2**20

def load(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return json.loads(text) if text else None
    except (OSError, ValueError) as e:
        return {"unreadable": f"{path}: {e}"}

steps = []
for line in open(os.path.join(work, "steps.tsv")):
    name, status, rc, secs, note = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
    steps.append({"name": name, "status": status, "rc": int(rc) if rc else None,
                  "seconds": float(secs or 0), "note": note})

def log_tail(name, n=3):
    try:
        with open(os.path.join(work, "logs", name + ".log"), errors="replace") as f:
            return [l.rstrip() for l in f.readlines()[-n:]]
    except OSError:
        return None

results = {}
for f in sorted(os.listdir(os.path.join(work, "results"))):
    results[f.removesuffix(".json")] = load(os.path.join(work, "results", f))
train = {s["name"]: log_tail(s["name"], 2) for s in steps if s["name"].startswith("train_")}

files = ["summary.json", "logs.tar.gz"]
checkpoints = {}
# The base model and its fine-tune first: the run's new models (the default shapes of the others
# are over 16 MiB on the GPU).
first = ["base.transformer", "bach-tuned.transformer"]
names = sorted(os.listdir(os.path.join(work, "ckpt")), key=lambda f: (f not in first, first.index(f) if f in first else 0, f))
for f in names:
    path = os.path.join(work, "ckpt", f)
    if not os.path.isfile(path) or f.endswith(".last"):
        continue
    size = os.path.getsize(path)
    info = {"bytes": size, "sha256": hashlib.sha256(open(path, "rb").read()).hexdigest()}
    if size > max_bytes:
        info["returned"] = False
        info["why"] = f"over {max_bytes} bytes"
    elif len(files) >= max_files:
        info["returned"] = False
        info["why"] = f"already {max_files} files"
    else:
        shutil.copy(path, os.path.join(out, f))
        files.append(f)
        info["returned"] = True
    checkpoints[f] = info

failed = [s["name"] for s in steps if s["status"] not in ("ok", "not_selected", "not_packed")]
summary = {
    "dry_run": dry,
    "ok": not failed,
    "failed_steps": failed,
    "seconds": round(time.time() - int(start), 1),
    "budget_seconds": int(budget),
    "not_packed": [s["name"] for s in steps if s["status"] == "not_packed"],
    "needs_cuda_not_run": ["cuda_available check", "CUDA tests beyond their skip",
                           "bf16 (ignored on the CPU)", "peak GPU memory"] if dry else [],
    "steps": steps,
    "results": results,
    "train_outcome": train,
    "checkpoints": checkpoints,
    "pack_manifest": load(os.path.join(pack, "manifest.json")),
    "files": files,
}
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
print(json.dumps({"ok": summary["ok"], "failed_steps": failed, "seconds": summary["seconds"],
                  "out": out, "files": files}))
sys.exit(0 if summary["ok"] else 1)
EOF
