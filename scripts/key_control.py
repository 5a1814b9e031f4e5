#!/usr/bin/env python3
"""How well checkpoints with key control write in the key they are asked for.

Usage: .pyenv/bin/python scripts/key_control.py [--cadenza target/release/cadenza]
           [--count 20] [--keys "E minor,Bb major,F# minor,D major"] [--out out/key-control]
           [--candidates K] [--json OUT] CHECKPOINT...

For every checkpoint (trained with `cadenza train ... --transpose-to-key` or `--controls key`)
and every key,
`cadenza generate CKPT --key KEY --count N` writes N pieces from scratch; each piece's key is
found by cadenza's key finder (`cadenza key --notes-only`) and by music21's `analyze('key')`.
Prints, per checkpoint, the share of pieces each finder puts in the asked key (tonic and mode)
and the sampling time.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time
import warnings

warnings.filterwarnings("ignore")

import music21  # noqa: E402

PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def parse_key(text):
    tonic, mode = text.split()
    pc = PITCH[tonic[0].upper()] + sum({"#": 1, "b": -1}[c] for c in tonic[1:])
    return pc % 12, mode.lower()


def music21_key(path):
    """music21's key of a file; None when it finds none (a piece without notes)."""
    try:
        k = music21.converter.parse(str(path)).analyze("key")
    except music21.analysis.discrete.DiscreteAnalysisException:
        return None
    return k.tonic.pitchClass, k.mode


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+", type=pathlib.Path)
    ap.add_argument("--cadenza", default="target/release/cadenza")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--length", type=int, default=512)
    ap.add_argument("--keys", default="E minor,Bb major,F# minor,D major")
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("out/key-control"))
    ap.add_argument("--json", type=pathlib.Path)
    ap.add_argument("--candidates", type=int,
                    help="candidates per piece (generate's default, 8, when not given; 1 shows the model alone)")
    args = ap.parse_args()
    keys = [k.strip() for k in args.keys.split(",")]
    results = {}
    for ckpt in args.checkpoints:
        ours = theirs = total = 0
        seconds = 0.0
        for key in keys:
            out = args.out / ckpt.name / key.replace(" ", "_")
            t0 = time.time()
            subprocess.run(
                [args.cadenza, "generate", str(ckpt), "--key", key, "--count", str(args.count),
                 "--length", str(args.length), "--rng-seed", "1", "--out", str(out)]
                + (["--candidates", str(args.candidates)] if args.candidates else []),
                check=True, capture_output=True,
            )
            seconds += time.time() - t0
            asked = parse_key(key)
            found = json.loads(subprocess.run(
                [args.cadenza, "key", "--notes-only", "--json", str(out)],
                check=True, capture_output=True, text=True,
            ).stdout)
            for r in found:
                total += 1
                ours += (r["tonic"], r["mode"]) == asked
                theirs += music21_key(r["file"]) == asked
        results[str(ckpt)] = {
            "pieces": total,
            "in_key_cadenza": ours / total,
            "in_key_music21": theirs / total,
            "seconds": seconds,
        }
        print(f"{ckpt}: {total} pieces in {len(keys)} keys; in the asked key: cadenza's finder "
              f"{100 * ours / total:.1f}%, music21 {100 * theirs / total:.1f}%; {seconds:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if not results:
        sys.exit("no checkpoints")


if __name__ == "__main__":
    main()
