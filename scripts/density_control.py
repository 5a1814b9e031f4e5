#!/usr/bin/env python3
"""Whether `generate --density low|medium|high` orders the density of every model's pieces.

Usage: .pyenv/bin/python scripts/density_control.py [--cadenza target/release/cadenza]
           [--count 20] [--length 512] [--candidates 8] [--out out/density-control]
           [--json OUT] CHECKPOINT...

For every checkpoint and level, `cadenza generate CKPT --density LEVEL --count N` writes N
pieces from scratch (one rng seed for all levels); pretty_midi (an independent reader) counts
each piece's notes per beat: notes over the beats from 0 to the end of the last note. Prints,
per checkpoint, the mean and median notes per beat of each level, whether low < medium < high
holds on the means, and the sampling time; `--json` writes the same.
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time

import pretty_midi

LEVELS = ["low", "medium", "high"]


def notes_per_beat(path):
    pm = pretty_midi.PrettyMIDI(str(path))
    notes = sum(len(i.notes) for i in pm.instruments)
    end = pm.get_end_time()
    beats = pm.time_to_tick(end) / pm.resolution if end > 0 else 0.0
    return notes / max(beats, 1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+", type=pathlib.Path)
    ap.add_argument("--cadenza", default="target/release/cadenza")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--length", type=int, default=512)
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--rng-seed", type=int, default=1)
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("out/density-control"))
    ap.add_argument("--json", type=pathlib.Path)
    args = ap.parse_args()
    results = {}
    for ckpt in args.checkpoints:
        row = {}
        seconds = 0.0
        for level in LEVELS:
            out = args.out / ckpt.name / level
            t0 = time.time()
            done = subprocess.run(
                [args.cadenza, "generate", str(ckpt), "--density", level, "--count", str(args.count),
                 "--length", str(args.length), "--candidates", str(args.candidates),
                 "--rng-seed", str(args.rng_seed), "--out", str(out)],
                capture_output=True, text=True)
            seconds += time.time() - t0
            if done.returncode != 0:
                sys.exit(f"{ckpt}: {done.stderr.strip()}")
            values = [notes_per_beat(f) for f in sorted(out.glob("*.mid"))]
            row[level] = {"mean": statistics.fmean(values), "median": statistics.median(values),
                          "pieces": len(values)}
        means = [row[level]["mean"] for level in LEVELS]
        row["ordered"] = means[0] < means[1] < means[2]
        row["seconds"] = round(seconds, 1)
        results[str(ckpt)] = row
        print(f"{ckpt}: notes/beat low {means[0]:.2f}, medium {means[1]:.2f}, high {means[2]:.2f} "
              f"({'ordered' if row['ordered'] else 'NOT ordered'}; {seconds:.0f} s)", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if not all(r["ordered"] for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
