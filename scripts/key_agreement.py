#!/usr/bin/env python3
"""Agreement of cadenza's key finder with music21's `analyze('key')` on corpus files.

Usage: .pyenv/bin/python scripts/key_agreement.py [--cadenza target/release/cadenza]
           [--limit N] [--json OUT] DIR...

For every MIDI file under each DIR (the first N in path order with --limit), music21 parses the
file and names its key with `analyze('key')` (Aarden-Essen weights on durations, its default);
cadenza names it with `cadenza key --json` under each profile, with and without the file's key
signature. Prints, per folder and setting, the share of files where both name the same key
(tonic and mode), and where they agree up to the relative major/minor.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import warnings

warnings.filterwarnings("ignore")

import music21  # noqa: E402

SETTINGS = [
    ("aarden-essen", False),
    ("aarden-essen", True),
    ("krumhansl-kessler", False),
    ("krumhansl-kessler", True),
]


def music21_key(path):
    """(tonic pitch class, mode) of music21's analysis, or None."""
    try:
        score = music21.converter.parse(str(path), quantizePost=False)
        k = score.analyze("key")
    except Exception as e:  # a file music21 cannot read or analyse
        print(f"music21 failed on {path}: {e}", file=sys.stderr)
        return None
    return (k.tonic.pitchClass, k.mode)


def cadenza_keys(binary, files, profile, notes_only):
    args = [binary, "key", "--json", "--profile", profile] + (["--notes-only"] if notes_only else [])
    out = subprocess.run(args + [str(f) for f in files], capture_output=True, text=True, check=True)
    return {r["file"]: (r["tonic"], r["mode"]) if r["key"] else None for r in json.loads(out.stdout)}


def relative(key):
    tonic, mode = key
    return ((tonic + 9) % 12, "minor") if mode == "major" else ((tonic + 3) % 12, "major")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", type=pathlib.Path)
    ap.add_argument("--cadenza", default="target/release/cadenza")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", type=pathlib.Path)
    args = ap.parse_args()
    results = {}
    for d in args.dirs:
        files = sorted(p for p in d.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
        if args.limit:
            files = files[: args.limit]
        if not files:
            sys.exit(f"{d}: no MIDI files")
        reference = {str(f): music21_key(f) for f in files}
        for profile, notes_only in SETTINGS:
            ours = cadenza_keys(args.cadenza, files, profile, notes_only)
            both = [(reference[f], ours.get(f)) for f in reference if reference[f] and ours.get(f)]
            same = sum(a == b for a, b in both)
            near = sum(a == b or relative(a) == b for a, b in both)
            name = f"{profile}{' notes only' if notes_only else ' + signature'}"
            results[f"{d.name}: {name}"] = {
                "files": len(both),
                "same_key": same / len(both),
                "same_or_relative": near / len(both),
            }
            print(f"{d.name:8} {name:32} {len(both):5} files  same key {100 * same / len(both):5.1f}%"
                  f"  same or relative {100 * near / len(both):5.1f}%")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
