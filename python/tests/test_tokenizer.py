"""The Python tokenizer gives the command line's ids (`cadenza tokens --ids`) on every file."""

import random
from pathlib import Path

import numpy as np
import pytest

import cadenza

from conftest import run


def cli_ids(path, *flags):
    return np.array(run("tokens", path, "--ids", *flags).stdout.split(), dtype=np.uint16)


def test_every_bach_file_encodes_as_the_command_line_does(bach):
    files = sorted(bach.rglob("*.mid"))
    tok = cadenza.Tokenizer()
    ours = tok.encode_many(files, threads=2)
    assert len(ours) == len(files)
    for f, ids in zip(files, ours):
        assert ids.dtype == np.uint16
        np.testing.assert_array_equal(ids, cli_ids(f), err_msg=str(f))


@pytest.mark.parametrize(
    "kwargs,flags",
    [
        ({"scheme": "remi"}, ["--tokenizer", "remi"]),
        ({"scheme": "midi-like", "velocity_bins": 8}, ["--tokenizer", "midi-like", "--velocity-bins", "8"]),
        ({"scheme": "tsd", "grid": "seconds", "merge_piano": True}, ["--grid", "seconds", "--merge-piano"]),
        ({"scheme": "tsd", "controls": "all", "steps_per_beat": 4}, ["--controls", "all", "--steps-per-beat", "4"]),
    ],
)
def test_settings_mean_what_the_flags_mean(bach, kwargs, flags):
    files = sorted(bach.rglob("*.mid"))
    sample = random.Random(7).sample(files, 12)
    tok = cadenza.Tokenizer(**kwargs)
    for f in sample:
        np.testing.assert_array_equal(tok.encode(f), cli_ids(f, *flags), err_msg=f"{f} {kwargs}")


def test_bytes_paths_and_threads_agree_and_decode_round_trips(bach, tmp_path):
    files = sorted(bach.rglob("*.mid"))[:20]
    tok = cadenza.Tokenizer()
    one = tok.encode_many(files, threads=1)
    many = tok.encode_many([str(f) for f in files], threads=4)
    for f, a, b in zip(files, one, many):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, tok.encode(Path(f).read_bytes()))
    out = tmp_path / "back.mid"
    tok.decode(one[0].tolist(), out)
    # Lossless up to the canonical grid: the decoded file encodes to the same ids.
    np.testing.assert_array_equal(tok.encode(out), one[0])
    names = tok.vocab
    assert len(names) == len(tok) and names[0] == "PAD" and names[1] == "BOS"


def test_bad_input_raises_the_command_lines_one_line(tmp_path):
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x10\x00\x90")
    tok = cadenza.Tokenizer()
    with pytest.raises(cadenza.CadenzaError) as e:
        tok.encode(bad)
    cli = run("tokens", bad, "--ids", check=False)
    assert cli.returncode == 1
    assert cli.stderr.strip() == f"error: {e.value}", (cli.stderr, str(e.value))
    assert "broken.mid" in str(e.value)
    with pytest.raises(cadenza.CadenzaError, match="missing.mid"):
        tok.encode_many([tmp_path / "missing.mid"], threads=2)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.decode([1, 60000], tmp_path / "x.mid")
    assert not (tmp_path / "x.mid").exists()
    with pytest.raises(cadenza.CadenzaError):
        cadenza.Tokenizer(scheme="nope")
