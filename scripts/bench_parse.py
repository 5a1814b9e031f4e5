#!/usr/bin/env python3
"""Parse + tokenize throughput: cadenza vs miditok (MIDILike) vs symusic (parse only).

Same files, same machine, one run. Every file is read into memory first; each tool is timed on
one thread (best of --repeats; cadenza, being fast, best of 4x --repeats), cadenza also on
all threads. Prints a markdown table.

    .pyenv/bin/python scripts/bench_parse.py corpora/bach corpora/folk
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time


def midi_files(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        out += [os.path.join(d, f) for f in files if f.lower().endswith((".mid", ".midi")) and not f.startswith(".")]
    return sorted(out)


def best_of(n, f):
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def bench_python(files, repeats):
    import symusic
    from miditok import MIDILike, TokenizerConfig

    blobs = [open(f, "rb").read() for f in files]
    scores = []
    for b in blobs:
        try:
            scores.append(symusic.Score.from_midi(b))
        except Exception:  # noqa: BLE001
            scores.append(None)
    notes = sum(sum(len(t.notes) for t in s.tracks) for s in scores if s is not None)

    def sym():
        for b in blobs:
            try:
                symusic.Score.from_midi(b)
            except Exception:  # noqa: BLE001
                pass

    tok = MIDILike(TokenizerConfig(use_programs=True, beat_res={(0, 4): 12, (4, 12): 4}))

    def mtok():
        for b in blobs:
            try:
                tok(symusic.Score.from_midi(b))
            except Exception:  # noqa: BLE001
                pass

    # miditok is slow: time it on one pass only when the corpus is large.
    return {
        "notes": notes,
        "symusic_s": best_of(repeats, sym),
        "miditok_s": best_of(1 if len(blobs) > 2000 else repeats, mtok),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    subprocess.run(["cargo", "build", "--release", "--no-default-features", "--example", "parse_bench"], cwd=root, check=True,
                   stdout=subprocess.DEVNULL)
    exe = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "examples", "parse_bench")
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores; "
          f"date: {time.strftime('%Y-%m-%d')}\n")
    print("| corpus | files | notes | tool | files/s | notes/s | cadenza (1 thread) speed-up |")
    print("|---|---|---|---|---|---|---|")
    for d in args.dirs:
        files = midi_files(d)
        ours = json.loads(subprocess.run([exe, d, str(args.repeats * 4)], check=True, capture_output=True, text=True).stdout)
        py = bench_python(files, args.repeats)
        n = len(files)
        name = os.path.basename(os.path.normpath(d))
        rows = [
            ("cadenza parse+tokenize, 1 thread", ours["parse_tokenize_s"]),
            (f"cadenza parse+tokenize, {ours['threads']} threads", ours["parallel_parse_tokenize_s"]),
            ("cadenza parse only, 1 thread", ours["parse_s"]),
            ("symusic parse only", py["symusic_s"]),
            ("miditok MIDILike (symusic parse + tokenize)", py["miditok_s"]),
        ]
        for tool, s in rows:
            ratio = ""
            if tool.startswith("symusic"):
                ratio = f"{s / ours['parse_s']:.1f}x (parse vs parse)"
            elif tool.startswith("miditok"):
                ratio = f"{s / ours['parse_tokenize_s']:.0f}x"
            print(f"| {name} | {n} | {ours['notes']} | {tool} | {n / s:,.0f} | {ours['notes'] / s:,.0f} | {ratio} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
