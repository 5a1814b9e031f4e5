"""Shared fixtures: the `cadenza` binary (CADENZA_BIN, else target/debug/cadenza; `tokens` runs
on the fast-start build, CADENZA_LITE_BIN, else target/debug/lite/cadenza, when there is one), the Bach
corpus, and one token store of it built by the command line."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cadenza_bin() -> str:
    path = os.environ.get("CADENZA_BIN") or str(ROOT / "target" / "debug" / "cadenza")
    if not Path(path).exists():
        # Not a skip: without the binary the parity checks cannot run, and that is a failure.
        raise RuntimeError(f"{path} does not exist: build cadenza first (cargo build) or set CADENZA_BIN")
    return path


def fast_bin() -> str:
    """The fast-start build without libtorch (scripts/build.sh), for the many `cadenza tokens`
    calls: the same tokenizer, without loading libtorch at every start. The full binary if
    there is none."""
    path = os.environ.get("CADENZA_LITE_BIN") or str(ROOT / "target" / "debug" / "lite" / "cadenza")
    return path if Path(path).exists() else cadenza_bin()


def run(*args, check=True):
    exe = fast_bin() if args and args[0] == "tokens" else cadenza_bin()
    r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"cadenza {' '.join(map(str, args))} failed ({r.returncode}): {r.stderr}")
    return r


@pytest.fixture(scope="session")
def bach() -> Path:
    d = ROOT / "corpora" / "bach"
    files = sorted(d.rglob("*.mid"))
    assert files, f"{d} holds no MIDI files: run scripts/setup.sh"
    return d


@pytest.fixture(scope="session")
def bach_store(tmp_path_factory, bach) -> Path:
    out = tmp_path_factory.mktemp("store") / "bach"
    run("corpus", "build", bach, "--out", out, "--shard-tokens", "20000")
    return out


@pytest.fixture(scope="session")
def bach_stats(bach) -> dict:
    return json.loads(run("corpus", "stats", bach, "--json").stdout)
