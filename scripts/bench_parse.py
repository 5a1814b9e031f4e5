#!/usr/bin/env python3
"""Parse + tokenize throughput: cadenza vs miditok (MIDILike, TSD, REMI) vs symusic (parse only).

Same files, same machine, one run. Every file is read into memory first; each tool is timed on
one thread (best of --repeats; cadenza, being fast, best of 4x --repeats), cadenza also on
all threads. Each cadenza scheme is set against miditok's tokenizer of the same name, with the
same grid (12 steps per quarter note over the first 4 beats, programs on). Prints a markdown
table.

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


SCHEMES = [("midi-like", "MIDILike"), ("tsd", "TSD"), ("remi", "REMI")]


def bench_python(files, repeats):
    import miditok
    import symusic
    from miditok import TokenizerConfig

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

    out = {"notes": notes, "symusic_s": best_of(repeats, sym)}
    for scheme, cls in SCHEMES:
        config = TokenizerConfig(use_programs=True, use_time_signatures=cls == "REMI",
                                 beat_res={(0, 4): 12, (4, 12): 4})
        tok = getattr(miditok, cls)(config)

        def mtok(tok=tok):
            for b in blobs:
                try:
                    tok(symusic.Score.from_midi(b))
                except Exception:  # noqa: BLE001
                    pass

        # miditok is slow: time it on one pass only when the corpus is large.
        out[f"miditok_{scheme}_s"] = best_of(1 if len(blobs) > 2000 else repeats, mtok)
    return out


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
        run = lambda scheme: json.loads(subprocess.run(  # noqa: E731
            [exe, d, str(args.repeats * 4), scheme], check=True, capture_output=True, text=True).stdout)
        ours = {scheme: run(scheme) for scheme, _ in SCHEMES}
        py = bench_python(files, args.repeats)
        n = len(files)
        name = os.path.basename(os.path.normpath(d))
        base = ours["midi-like"]
        notes = base["notes"]
        rows = [("cadenza parse only, 1 thread", base["parse_s"], ""),
                ("symusic parse only", py["symusic_s"], f"{py['symusic_s'] / base['parse_s']:.1f}x (parse vs parse)")]
        for scheme, cls in SCHEMES:
            o = ours[scheme]
            m = py[f"miditok_{scheme}_s"]
            rows += [
                (f"cadenza {scheme} parse+tokenize, 1 thread", o["parse_tokenize_s"], ""),
                (f"cadenza {scheme} parse+tokenize, {o['threads']} threads", o["parallel_parse_tokenize_s"], ""),
                (f"miditok {cls} (symusic parse + tokenize)", m, f"{m / o['parse_tokenize_s']:.0f}x"),
            ]
        for tool, s, ratio in rows:
            print(f"| {name} | {n} | {notes} | {tool} | {n / s:,.0f} | {notes / s:,.0f} | {ratio} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
