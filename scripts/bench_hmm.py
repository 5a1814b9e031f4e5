#!/usr/bin/env python3
"""Benchmark cadenza's HMM Baum-Welch against hmmlearn's CategoricalHMM from the same start.

Both run the same number of EM iterations from identical initial parameters (pi, A, B drawn
here), with plain maximum likelihood on both sides: hmmlearn's default Dirichlet priors of 1.0
add nothing to the expected counts, and `examples/hmm_em.rs` runs with pseudo-count 0; neither
stops early (hmmlearn tol=-inf). The script prints a table of seconds per EM iteration and the
training log-likelihoods (per iteration, of the parameters entering it, as hmmlearn's monitor
reports them, and of the final parameters), plus the largest relative difference between the
two log-likelihood histories.

Data: synthetic tokens sampled from a random sparse HMM (default ~200 sequences of ~300 tokens
over V=300), or real token sequences with --corpus-tokens FILE (a JSON list of token lists that
start with BOS; the BOS is dropped since cadenza treats it as context only).

Usage: scripts/bench_hmm.py [--states 64] [--iters 10] [--corpus-tokens FILE]
       [--implementation scaling|log|both] [--json-out FILE]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import hmmlearn
import numpy as np
from hmmlearn import hmm
from hmmlearn.base import ConvergenceMonitor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def synthetic(rng, n_seq, length, vocab, true_states=16):
    """Sequences sampled from a random HMM with sparse (Dirichlet(0.1)) emissions."""
    pi = rng.dirichlet(np.ones(true_states))
    a = rng.dirichlet(np.full(true_states, 0.3), size=true_states)
    b = rng.dirichlet(np.full(vocab, 0.1), size=true_states)
    seqs = []
    for _ in range(n_seq):
        t = int(rng.integers(length // 2, length * 3 // 2 + 1))
        s = rng.choice(true_states, p=pi)
        out = []
        for _ in range(t):
            out.append(int(rng.choice(vocab, p=b[s])))
            s = rng.choice(true_states, p=a[s])
        seqs.append(out)
    return seqs


class Recorder(ConvergenceMonitor):
    """A convergence monitor that keeps every reported log-likelihood."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.all = []

    def _reset(self):
        super()._reset()
        self.all = []

    def report(self, log_prob):
        self.all.append(float(log_prob))
        super().report(log_prob)


def run_hmmlearn(seqs, k, v, pi, a, b, iters, implementation):
    x = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs]).reshape(-1, 1)
    lengths = [len(s) for s in seqs]
    model = hmm.CategoricalHMM(
        n_components=k,
        n_features=v,
        init_params="",
        params="ste",
        n_iter=iters,
        tol=-np.inf,
        implementation=implementation,
    )
    model.startprob_ = pi.copy()
    model.transmat_ = a.copy()
    model.emissionprob_ = b.copy()
    model.monitor_ = Recorder(-np.inf, iters, False)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(x, lengths)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "seconds_per_iter": total / iters,
        "cpu_seconds_per_iter": cpu / iters,
        "log_likelihood": model.monitor_.all,
        "final_log_likelihood": float(model.score(x, lengths)),
    }


def run_ours(input_path, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    cmd = ["cargo", "run", "--quiet", "--release", "--no-default-features", "--example", "hmm_em", "--", input_path]
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def rel_diff(xs, ys):
    return max(abs(x - y) / abs(y) for x, y in zip(xs, ys))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--states", type=int, default=64)
    p.add_argument("--vocab", type=int, default=None, help="vocabulary size (default 300, or max token + 1 of the corpus)")
    p.add_argument("--sequences", type=int, default=200)
    p.add_argument("--length", type=int, default=300, help="mean synthetic sequence length")
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--corpus-tokens", help="JSON list of token lists (each starting with BOS)")
    p.add_argument("--implementation", choices=["scaling", "log", "both"], default="both")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for cadenza (also runs 1)")
    p.add_argument("--json-out", help="write all results here as JSON")
    args = p.parse_args()

    rng = np.random.default_rng(args.seed)
    if args.corpus_tokens:
        with open(args.corpus_tokens) as f:
            seqs = [s[1:] for s in json.load(f) if len(s) > 1]
        v = args.vocab or (max(max(s) for s in seqs) + 1)
        source = f"corpus {args.corpus_tokens}"
    else:
        v = args.vocab or 300
        seqs = synthetic(rng, args.sequences, args.length, v)
        source = "synthetic"
    k = args.states
    n_tokens = sum(len(s) for s in seqs)
    pi = rng.dirichlet(np.ones(k))
    a = rng.dirichlet(np.ones(k), size=k)
    b = rng.dirichlet(np.ones(v), size=k)

    print(f"# {source}: {len(seqs)} sequences, {n_tokens} tokens, V={v}, K={k}, {args.iters} EM iterations", flush=True)
    print(f"# machine: {cpu_name()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}", flush=True)
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--no-default-features", "--example", "hmm_em"], cwd=ROOT, check=True
    )

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "input.json")
        with open(path, "w") as f:
            json.dump(
                {"states": k, "vocab": v, "pi": pi.tolist(), "A": a.tolist(), "B": b.tolist(), "iters": args.iters, "sequences": seqs},
                f,
            )
        for threads in sorted({1, args.threads}):
            results[f"cadenza ({threads} thread{'s' if threads > 1 else ''})"] = run_ours(path, threads)
    impls = ["scaling", "log"] if args.implementation == "both" else [args.implementation]
    for impl in impls:
        results[f"hmmlearn {hmmlearn.__version__} ({impl})"] = run_hmmlearn(seqs, k, v, pi, a, b, args.iters, impl)

    ref_name = next(n for n in results if n.startswith("hmmlearn"))
    ref = results[ref_name]
    print(
        f"\n{'implementation':<28} {'wall s/iter':>11} {'speedup':>8} {'CPU s/iter':>11} {'speedup':>8}"
        f" {'final log-lik':>18} {'max rel diff LL':>16}"
    )
    for name, r in results.items():
        speed = ref["seconds_per_iter"] / r["seconds_per_iter"]
        cpu = r.get("cpu_seconds_per_iter")
        cpu_s = f"{cpu:>11.4f} {ref['cpu_seconds_per_iter'] / cpu:>7.1f}x" if cpu else f"{'n/a':>11} {'':>8}"
        diff = rel_diff(r["log_likelihood"] + [r["final_log_likelihood"]], ref["log_likelihood"] + [ref["final_log_likelihood"]])
        print(
            f"{name:<28} {r['seconds_per_iter']:>11.4f} {speed:>7.1f}x {cpu_s}"
            f" {r['final_log_likelihood']:>18.6f} {diff:>16.2e}"
        )
    print(f"\n(speedups and log-likelihood differences relative to {ref_name};")
    print(" CPU time counts every thread, so it is the fairer figure on a busy machine)")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"source": source, "tokens": n_tokens, "states": k, "vocab": v, "iters": args.iters, "results": results}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
