#!/usr/bin/env python3
"""A synthetic corpus at scale, built the way issue #17 measured one: copies of every file of the
given corpus folders, each copy made distinct by one extra unknown chunk (`XCPY`, which MIDI
readers must skip), until `--files` files are written.

Copy k of `corpora/bach/bwv1.6.mid` is `OUT/c{k:04}/bach/bwv1.6-k{k}.mid`: one folder per
copy, so no folder holds more files than a source does. The music of all
copies of one file is the same, so `--split-key music` puts them in one split and `--dedup`
keeps one of each.

    scripts/make_synthetic_corpus.py --out /tmp/synth --files 500000 corpora/bach corpora/folk
"""

import argparse
import os
import struct
import sys


def midi_files(root):
    out = []
    for d, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        for f in sorted(files):
            if not f.startswith(".") and f.lower().endswith((".mid", ".midi")):
                out.append(os.path.join(d, f))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sources", nargs="+", help="corpus folders to copy")
    ap.add_argument("--out", required=True)
    ap.add_argument("--files", type=int, default=500_000, help="how many files to write")
    a = ap.parse_args()
    sources = []
    for s in a.sources:
        name = os.path.basename(os.path.normpath(s))
        sources += [(name, os.path.relpath(p, s), open(p, "rb").read()) for p in midi_files(s)]
    if not sources:
        sys.exit("no MIDI files in " + " ".join(a.sources))
    written = 0
    k = 0
    while written < a.files:
        for name, rel, data in sources:
            if written >= a.files:
                break
            stem, ext = os.path.splitext(rel)
            path = os.path.join(a.out, f"c{k:04}", name, f"{stem}-k{k}{ext}")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            chunk = b"XCPY" + struct.pack(">I", 8) + struct.pack("<Q", k)
            with open(path, "wb") as f:
                f.write(data + chunk)
            written += 1
        k += 1
    print(f"{a.out}: {written} files ({k} copies of {len(sources)} files)")


if __name__ == "__main__":
    main()
