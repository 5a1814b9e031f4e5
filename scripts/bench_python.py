#!/usr/bin/env python3
"""The Python package's speed (issue 28): cadenza's tokenizer from Python against miditok on the
same files (one thread, files read into memory first; cadenza also through `encode_many` from
paths on 1 and 2 threads), and DDP training steps/s of a small Transformer with 1 and 2
processes (gloo, CPU) from a token store. Prints markdown tables.

    .pyenv/bin/python scripts/bench_python.py corpora/bach corpora/folk --store STORE
"""
import argparse
import os
import platform
import re
import subprocess
import sys
import time

import cadenza
from bench_parse import SCHEMES, best_of, midi_files  # same files, schemes and timing rule



def tokenizers(files, repeats):
    import miditok
    import symusic

    blobs = [open(f, "rb").read() for f in files]
    rows = []
    for scheme, cls in SCHEMES:
        tok = cadenza.Tokenizer(scheme)

        def ours():
            for b in blobs:
                try:
                    tok.encode(b)
                except cadenza.CadenzaError:
                    pass

        config = miditok.TokenizerConfig(use_programs=True, use_time_signatures=cls == "REMI", beat_res={(0, 4): 12, (4, 12): 4})
        mt = getattr(miditok, cls)(config)

        def theirs():
            for b in blobs:
                try:
                    mt(symusic.Score.from_midi(b))
                except Exception:  # noqa: BLE001
                    pass

        a = best_of(repeats * 4, ours)
        many = {t: best_of(repeats, lambda t=t: tok.encode_many(files, threads=t)) for t in (1, 2)}
        m = best_of(1 if len(blobs) > 2000 else repeats, theirs)
        rows.append((scheme, cls, a, many, m))
    return rows


def ddp(store, steps):
    out = {}
    for procs in (1, 2):
        cmd = [sys.executable] + (["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)] if procs > 1 else [])
        cmd += ["-m", "cadenza.train", "--model", "transformer", "--store", store, "--out", f"/tmp/bench_ddp{procs}.transformer",
                "--steps", str(steps), "--batch", "16", "--window", "128", "--device", "cpu"]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        wall = time.perf_counter() - t
        rates = [float(x) for x in re.findall(r"([0-9.]+) tok/s", r.stdout)]
        out[procs] = (steps / wall, rates[-1] if rates else float("nan"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--store", help="a token store to time DDP training on")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--cli", help="a cadenza binary: check that every file's ids equal `cadenza tokens --ids` (each scheme)")
    args = ap.parse_args()
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores; date: {time.strftime('%Y-%m-%d %H:%M')}\n")
    print("| corpus | files | scheme | cadenza.encode, 1 thread | encode_many, 1 thread | encode_many, 2 threads | miditok | cadenza / miditok (1 thread) |")
    print("|---|---|---|---|---|---|---|---|")
    for d in args.dirs:
        files = midi_files(d)
        n = len(files)
        if args.cli:
            for scheme, _ in SCHEMES:
                ours = cadenza.Tokenizer(scheme).encode_many(files, threads=os.cpu_count())
                for f, ids in zip(files, ours):
                    out = subprocess.run([args.cli, "tokens", f, "--ids", "--tokenizer", scheme], capture_output=True, text=True, check=True)
                    if ids.tolist() != [int(x) for x in out.stdout.split()]:
                        sys.exit(f"{f}: ids differ from the command line's ({scheme})")
                print(f"{d}: ids identical to `cadenza tokens --ids` on all {n} files ({scheme})", file=sys.stderr)
        for scheme, cls, a, many, m in tokenizers(files, args.repeats):
            name = os.path.basename(os.path.normpath(d))
            print(f"| {name} | {n} | {scheme} / {cls} | {n / a:,.0f} | {n / many[1]:,.0f} | {n / many[2]:,.0f} | {n / m:,.0f} | {m / a:.0f}x |")
        sys.stdout.flush()
    if args.store:
        r = ddp(args.store, args.steps)
        print("\n| processes | steps/s (wall, start-up included) | tokens/s (last 10 steps) |")
        print("|---|---|---|")
        for procs, (sps, tps) in r.items():
            print(f"| {procs} | {sps:.2f} | {tps:,.0f} |")


if __name__ == "__main__":
    main()
