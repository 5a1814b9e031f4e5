"""A token store from Python: its figures are `cadenza corpus stats`'s, its views the tokens,
its windows `cadenza train`'s, and a broken store raises one line."""

import json
import shutil

import numpy as np
import pytest

import cadenza
from cadenza.torch import WindowDataset

from conftest import run


def test_views_and_splits_equal_the_command_lines_figures(bach, bach_store, bach_stats):
    store = cadenza.TokenStore(bach_store)
    assert len(store) == bach_stats["total"]["pieces"]
    assert len(store.shards) > 1, "the test means several shards"
    for split, figures in bach_stats["splits"].items():
        lengths = store.lengths(split)
        assert len(lengths) == figures["pieces"], split
        assert int(lengths.sum()) == figures["tokens"], split
        assert sum(int(store.tokens(i).shape[0]) for i in store.split(split)) == figures["tokens"]
    summary = store.summary
    assert summary["tokens"]["train"] == bach_stats["splits"]["train"]["tokens"]
    # A view is the piece's tokens, without a copy.
    for i in [0, len(store) // 2, len(store) - 1]:
        view = store.tokens(i)
        assert isinstance(view.base, np.memmap) or isinstance(view, np.memmap)
        path = store.pieces[i].path
        ids = np.array(run("tokens", bach / path, "--ids").stdout.split(), dtype=np.uint16)
        np.testing.assert_array_equal(view, ids, err_msg=path)


def test_each_rank_takes_every_wth_row_of_the_global_batch(bach_store):
    store = cadenza.TokenStore(bach_store)
    full = WindowDataset(store, "train", window=32, seed=5, batch=6, steps=4)
    parts = [WindowDataset(store, "train", window=32, seed=5, batch=6, steps=4, rank=r, world_size=2) for r in (0, 1)]
    for step in range(4):
        g = full[step].numpy()
        assert g.shape == (6, 33)
        np.testing.assert_array_equal(parts[0][step].numpy(), g[0::2])
        np.testing.assert_array_equal(parts[1][step].numpy(), g[1::2])
    assert not np.array_equal(full[0].numpy(), full[1].numpy())
    np.testing.assert_array_equal(full[3].numpy(), WindowDataset(store, "train", window=32, seed=5, batch=6)[3].numpy())
    # Windows are cut from the train split's tokens.
    train_tokens = set(np.concatenate([store.tokens(i) for i in store.split("train")]).tolist())
    assert set(full[0].numpy().ravel().tolist()) <= train_tokens | {0}


def test_a_broken_store_raises_one_line(bach_store, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bach_store, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["complete"] = False
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(cadenza.CadenzaError, match="manifest.json"):
        cadenza.TokenStore(copy)
    shutil.rmtree(copy)
    shutil.copytree(bach_store, copy)
    shard = sorted(copy.glob("*.bin")) or sorted(p for p in copy.iterdir() if p.name != "manifest.json")
    with open(shard[0], "r+b") as f:
        f.seek(100)
        f.write(b"\xff\xff")
    with pytest.raises(cadenza.CadenzaError) as e:
        cadenza.TokenStore(copy)
    assert "\n" not in str(e.value) and str(copy) in str(e.value)
    with pytest.raises(cadenza.CadenzaError, match="nowhere"):
        cadenza.TokenStore(tmp_path / "nowhere")


def test_fim_windows_come_in_either_order_with_the_same_cuts(bach_store):
    store = cadenza.TokenStore(bach_store)
    vocab = len(store.tokenizer)
    prefix, suffix, middle, gap = vocab, vocab + 1, vocab + 2, vocab + 3
    psm = store.windows("train", 7, 3, 8, 64, 0, 1.0, "psm")
    spm = WindowDataset(store, "train", window=64, seed=7, batch=8, steps=4, fim_rate=1.0, fim_order="spm")[3].numpy()
    plain = store.windows("train", 7, 3, 8, 64)
    assert not (plain >= vocab).any()
    for a, b in zip(psm, spm):
        a, b = a.tolist(), b.tolist()
        # PREFIX prefix SUFFIX suffix GAP gap MIDDLE middle; SUFFIX suffix GAP gap PREFIX prefix MIDDLE middle.
        ia = [a.index(t) for t in (prefix, suffix, gap, middle)]
        ib = [b.index(t) for t in (suffix, gap, prefix, middle)]
        assert ia == sorted(ia) and ia[0] == 0, a
        assert ib == sorted(ib) and ib[0] == 0, b
        # The same cut: the same prefix, suffix, gap and middle in both.
        assert a[1 : ia[1]] == b[ib[2] + 1 : ib[3]]
        assert a[ia[1] + 1 : ia[2]] == b[1 : ib[1]]
        assert a[ia[2] + 1 : ia[3]] == b[ib[1] + 1 : ib[2]]
        assert a[ia[3] + 1 :] == b[ib[3] + 1 :]
    with pytest.raises(ValueError, match="psm or spm"):
        store.windows("train", 7, 3, 8, 64, 0, 1.0, "mps")
