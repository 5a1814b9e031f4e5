#!/usr/bin/env python3
"""Export the corpora cadenza trains on from the PyPI package music21 into MIDI files.

    corpora/bach  the Bach chorales shipped with music21 (~400 files)
    corpora/folk  the Essen folk-song collection shipped with music21 (several thousand tunes;
                  licence: non-commercial use only)
    corpora/styles  a labelled corpus for `cadenza classify`: one subfolder per style, each
                  capped at --cap pieces (default 150) chosen by a hash of the source name:
                  bach (chorales), palestrina (mass movements), monteverdi (madrigals),
                  trecento (14th-century Italian pieces), essen (Essen folk songs), ryans (Ryan's
                  Mammoth Collection fiddle tunes). Built only with --which styles.
    corpora/base  everything music21 ships (about 3,200 source files: Palestrina, Ryan's Mammoth
                  and O'Neill's fiddle tunes, the Essen folk songs one tune a file, Bach,
                  Monteverdi, the trecento, the quartets and the rest), for pretraining a base
                  model, with every valid and test piece of corpora/bach and corpora/folk under
                  either split key (music, file bytes) removed by `cadenza corpus held-out`
                  (which needs a built cadenza: --cadenza, default target/release/cadenza or
                  target/debug/cadenza). Built only with --which base (after bach and folk).
    corpora/quartets  the string quartets and other chamber scores music21 ships (Haydn,
                  Beethoven, Mozart: parts that share a General MIDI program, like two violins),
                  the multitrack test set of `scripts/track_round_trip.sh`. Built only with
                  --which quartets.

Nothing is downloaded from elsewhere. Each corpus is written once: files already exported are
kept, and a `.complete` marker makes later runs return at once. Files are written to a temporary
name and renamed, so an interrupted export never leaves a half-written MIDI file.

Known snags handled here:
  - music21's ABC import shares one TimeSignature object between measures of tunes that change
    meter; its MIDI export then fails, so every measure gets its own copy first.
  - A few chorales exist in several formats (.mxl, .krn, .xml): one file per work, preferring
    .mxl; .rntxt (roman-numeral analyses, not scores) are skipped.
"""
import argparse
import copy
import multiprocessing as mp
import os
import sys
import time
import warnings


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def bach_sources():
    from music21 import corpus

    prefer = {".mxl": 0, ".xml": 1, ".musicxml": 1, ".krn": 2}
    best = {}
    for p in corpus.getComposer("bach"):
        p = str(p)
        stem, ext = os.path.splitext(os.path.basename(p))
        if ext not in prefer:
            continue
        if stem not in best or prefer[ext] < prefer[os.path.splitext(best[stem])[1]]:
            best[stem] = p
    return [(p, None, f"{stem}.mid") for stem, p in sorted(best.items())]


def folk_sources():
    from music21 import corpus

    files = sorted(str(p) for p in corpus.getCorePaths() if "essenFolksong" in str(p))
    return [(p, None, None) for p in files]


STYLES = {
    # label: (corpus folder, extensions kept)
    "bach": ("bach", (".mxl", ".xml", ".krn")),
    "palestrina": ("palestrina", (".krn",)),
    "monteverdi": ("monteverdi", (".mxl",)),
    "trecento": ("trecento", (".mxl", ".xml")),
    "essen": ("essenFolksong", (".abc",)),
    "ryans": ("ryansMammoth", (".abc",)),
}


def spread_key(name):
    """A stable pseudo-random order, so a cap takes pieces from all over a collection (the
    Palestrina folder sorted by name would give only Agnus Dei movements)."""
    import hashlib

    return hashlib.blake2b(name.encode(), digest_size=8).hexdigest()


def style_sources(cap):
    """`(source, tune number or None, label/file.mid)` jobs, at most `cap` per label."""
    import re

    from music21 import corpus

    paths = [str(p) for p in corpus.getCorePaths()]
    jobs = []
    for label, (folder, exts) in STYLES.items():
        mine = sorted(p for p in paths if f"/corpus/{folder}/" in p and os.path.splitext(p)[1] in exts)
        if label == "bach":
            mine = [p for p, _, _ in bach_sources()]
        if label == "essen":
            # Each file is a collection of hundreds of tunes: one job per tune (X: number),
            # leaving out the test files that come with music21.
            tunes = []
            for p in mine:
                base = os.path.splitext(os.path.basename(p))[0]
                if base.startswith("test"):
                    continue
                with open(p, encoding="latin-1") as f:
                    for m in re.finditer(r"^X:\s*(\d+)", f.read(), re.M):
                        tunes.append((p, int(m.group(1)), f"{base}_{int(m.group(1)):04d}.mid"))
            tunes.sort(key=lambda t: spread_key(t[2]))
            picked = tunes[:cap]
        else:
            # One file per work where a folder has it in two formats (a trecento Kyrie is
            # there as .mxl and .xml): the first extension listed for the label wins.
            best = {}
            for p in sorted(mine, key=lambda p: exts.index(os.path.splitext(p)[1])):
                best.setdefault(os.path.splitext(os.path.basename(p))[0], p)
            named = [(p, None, f"{stem}.mid") for stem, p in best.items()]
            named.sort(key=lambda t: spread_key(t[2]))
            picked = named[:cap]
        jobs.extend((src, num, os.path.join(label, name)) for src, num, name in sorted(picked))
    return jobs


QUARTET_COMPOSERS = ("haydn", "beethoven", "mozart")


def quartet_sources():
    """`(source, None, composer_work.mid)` jobs: every score of the chamber composers, one
    format per work (.mxl preferred over .krn)."""
    from music21 import corpus

    best = {}
    exts = [".mxl", ".xml", ".krn"]
    for p in sorted(str(p) for p in corpus.getCorePaths()):
        rel = p.split("/corpus/", 1)[-1]
        stem, ext = os.path.splitext(rel)
        if rel.split("/")[0] not in QUARTET_COMPOSERS or ext not in exts:
            continue
        if stem not in best or exts.index(ext) < exts.index(os.path.splitext(best[stem])[1]):
            best[stem] = p
    return [(p, None, stem.replace("/", "_") + ".mid") for stem, p in sorted(best.items())]


def base_sources(limit=None):
    """`(source, None, name.mid)` jobs for every score music21 ships, one format per work
    (.mxl, then .xml/.musicxml, .krn, .abc), roman-numeral analyses (.rntxt, not scores) left out;
    an .abc collection of several tunes is one job `(source, "all", name)` that writes each tune
    as `name_NNNN.mid` (parsed once). With `limit`, the first `limit` jobs in a stable
    pseudo-random order (for quick checks)."""
    import re

    from music21 import corpus

    prefer = {".mxl": 0, ".xml": 1, ".musicxml": 1, ".krn": 2, ".abc": 3}
    best = {}
    for p in sorted(str(p) for p in corpus.getCorePaths()):
        rel = p.split("/corpus/", 1)[-1]
        stem, ext = os.path.splitext(rel)
        if ext not in prefer:
            continue
        if stem not in best or prefer[ext] < prefer[os.path.splitext(best[stem])[1]]:
            best[stem] = p
    jobs = []
    for stem, p in sorted(best.items()):
        name = stem.replace("/", "_")
        if p.endswith(".abc"):
            with open(p, encoding="latin-1") as f:
                numbers = [int(m.group(1)) for m in re.finditer(r"^X:\s*(\d+)", f.read(), re.M)]
            if len(numbers) > 1:
                jobs.append((p, "all", name))
                continue
        jobs.append((p, None, f"{name}.mid"))
    if limit is not None:
        jobs = sorted(jobs, key=lambda j: spread_key(j[2]))[:limit]
    return jobs


def export_base(job):
    """One base job: a score (as export_style), or every tune of an .abc collection."""
    src, number, name = job
    return export_collection(src, name) if number == "all" else export_style(job)


def remove_held_out(out_root, cadenza):
    """Delete from corpora/base every valid or test piece of corpora/bach and corpora/folk."""
    import subprocess

    base = os.path.join(out_root, "base")
    cmd = [cadenza, "corpus", "held-out", base, "--remove"]
    for name in ("bach", "folk"):
        held = os.path.join(out_root, name)
        if not os.path.isdir(held):
            sys.exit(f"{held}: missing; build it first (--which all)")
        cmd += ["--from", held]
    log("corpora/base: removing the held-out pieces of corpora/bach and corpora/folk...")
    subprocess.run(cmd, check=True)


def find_cadenza(given):
    if given:
        return given
    here = os.path.join(os.path.dirname(__file__), "..", "target")
    for build in ("release", "debug"):
        path = os.path.join(here, build, "cadenza")
        if os.path.exists(path):
            return path
    sys.exit("no cadenza binary: build it (cargo build --release) or pass --cadenza")


def export_style(job):
    src, number, name = job
    out = os.path.join(OUT_DIR, name)
    if os.path.exists(out):
        return (1, 0, None)
    try:
        from music21 import converter, stream

        score = converter.parse(src, number=number) if number is not None else converter.parse(src)
        if isinstance(score, stream.Opus):
            score = score.scores[0]
        fix_time_signatures(score)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        write_midi(score, out)
        return (1, 0, None)
    except Exception as e:  # noqa: BLE001 - report and go on
        return (0, 1, f"{name}: {e}")


def fix_time_signatures(score):
    """Give every measure its own TimeSignature object (see module doc)."""
    from music21 import meter, stream

    for measure in score.recurse().getElementsByClass(stream.Measure):
        for ts in list(measure.getElementsByClass(meter.TimeSignature)):
            measure.replace(ts, copy.deepcopy(ts))
    for part in score.recurse().getElementsByClass(stream.Part):
        for ts in list(part.getElementsByClass(meter.TimeSignature)):
            part.replace(ts, copy.deepcopy(ts))


def write_midi(score, out_path):
    from music21 import midi

    mf = midi.translate.streamToMidiFile(score)
    tmp = out_path + ".tmp"
    mf.open(tmp, "wb")
    try:
        mf.write()
    finally:
        mf.close()
    os.replace(tmp, out_path)


def export_bach(job):
    src, _, name = job
    out = os.path.join(OUT_DIR, name)
    if os.path.exists(out):
        return (1, 0, None)
    try:
        from music21 import converter

        score = converter.parse(src)
        write_midi(score, out)
        return (1, 0, None)
    except Exception as e:  # noqa: BLE001 - report and go on
        return (0, 1, f"{os.path.basename(src)}: {e}")


def export_collection(src, name):
    """Every tune of the collection file `src` (parsed once) as `name_NNNN.mid`; a `.name.done`
    marker records the failures, so a collection without any is not parsed again."""
    from music21 import converter, stream

    done_marker = os.path.join(OUT_DIR, f".{name}.done")
    if os.path.exists(done_marker) and open(done_marker).read().strip() == "0":
        return (len([f for f in os.listdir(OUT_DIR) if f.startswith(name + "_")]), 0, None)
    ok, bad, errors = 0, 0, []
    try:
        opus = converter.parse(src)
    except Exception as e:  # noqa: BLE001
        return (0, 1, f"{name}: {e}")
    scores = list(opus.scores) if isinstance(opus, stream.Opus) else [opus]
    for i, score in enumerate(scores):
        num = score.metadata.number if score.metadata and score.metadata.number else str(i + 1)
        out = os.path.join(OUT_DIR, f"{name}_{str(num).zfill(4)}.mid")
        if os.path.exists(out):
            ok += 1
            continue
        try:
            fix_time_signatures(score)
            write_midi(score, out)
            ok += 1
        except Exception as e:  # noqa: BLE001
            bad += 1
            errors.append(f"{name} #{num}: {e}")
    with open(done_marker, "w") as f:
        f.write(f"{bad}\n")  # collections with failures are retried on the next run
    return (ok, bad, "; ".join(errors[:3]) if errors else None)


def export_folk(job):
    src, _, _ = job
    return export_collection(src, os.path.splitext(os.path.basename(src))[0])


OUT_DIR = ""


def init(out_dir):
    global OUT_DIR
    OUT_DIR = out_dir
    warnings.filterwarnings("ignore")


def build(name, sources, worker, out_root, jobs):
    out_dir = os.path.join(out_root, name)
    marker = os.path.join(out_dir, ".complete")
    if os.path.exists(marker):
        n = sum(f.endswith(".mid") for _, _, fs in os.walk(out_dir) for f in fs)
        log(f"corpora/{name}: already built ({n} files)")
        return
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.time()
    log(f"corpora/{name}: exporting {len(sources)} sources with music21 on {jobs} processes...")
    ok = bad = 0
    with mp.Pool(jobs, initializer=init, initargs=(out_dir,)) as pool:
        for i, (o, b, err) in enumerate(pool.imap_unordered(worker, sources, chunksize=1)):
            ok += o
            bad += b
            if err:
                log(f"  skipped {err}")
            if (i + 1) % 50 == 0 or name == "folk":
                log(f"  {i + 1}/{len(sources)} sources, {ok} files written")
    with open(marker, "w") as f:
        f.write(f"{ok} files, {bad} failed, {time.time() - t0:.0f} s\n")
    log(f"corpora/{name}: {ok} files written, {bad} failed, {time.time() - t0:.0f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--which", choices=["bach", "folk", "styles", "quartets", "base", "all"], default="all",
                    help="all = bach and folk (styles, quartets and base are built only when asked for)")
    ap.add_argument("--cadenza", help="base: the cadenza binary that removes held-out pieces")
    ap.add_argument("--limit", type=int, help="base: export only this many pieces (quick checks)")
    ap.add_argument("--cap", type=int, default=150, help="styles: pieces per label at most")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "corpora"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    if args.which in ("bach", "all"):
        build("bach", bach_sources(), export_bach, args.out, args.jobs)
    if args.which in ("folk", "all"):
        build("folk", folk_sources(), export_folk, args.out, args.jobs)
    if args.which == "styles":
        build("styles", style_sources(args.cap), export_style, args.out, args.jobs)
    if args.which == "quartets":
        build("quartets", quartet_sources(), export_style, args.out, args.jobs)
    if args.which == "base":
        cadenza = find_cadenza(args.cadenza)
        marker = os.path.join(args.out, "base", ".complete")
        fresh = not os.path.exists(marker)
        build("base", base_sources(args.limit), export_base, args.out, args.jobs)
        if fresh:
            # Also after a partial earlier run: the removal is idempotent.
            remove_held_out(args.out, cadenza)


if __name__ == "__main__":
    main()
