"""`python -m cadenza.train` under `torchrun` (gloo, 2 processes, CPU): the loss falls, the
checkpoint is a cadenza checkpoint `cadenza eval` scores, and 2 processes reach the weights
1 process reaches on the same global batch. A committed cadenza checkpoint scores the same
bits/token in PyTorch as in `cadenza eval`, and a Python-written one round-trips."""

import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import cadenza
from cadenza import torch as ctorch

from conftest import ROOT, run

TINY = ["--layers", "1", "--heads", "2", "--dim", "16", "--ff", "32", "--dropout", "0", "--window", "32"]
TRAIN = ["--batch", "4", "--lr", "0.003", "--warmup", "2", "--rng-seed", "3", "--device", "cpu"]


def train(store, out, procs, steps, *extra):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    args = ["-m", "cadenza.train", "--model", "transformer", "--store", str(store), "--out", str(out), "--steps", str(steps)]
    args += TINY + TRAIN + list(extra)
    if procs > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)] + args
    else:
        cmd = [sys.executable] + args
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def losses(stdout):
    return [float(x) for x in re.findall(r"loss ([0-9.]+) nats/token", stdout)]


@pytest.fixture(scope="module")
def runs(bach_store, tmp_path_factory):
    d = tmp_path_factory.mktemp("ddp")
    two = train(bach_store, d / "two.transformer", 2, 20)
    one = train(bach_store, d / "one.transformer", 1, 20)
    return d, one, two


def test_two_processes_reach_one_process_weights(runs):
    d, _, _ = runs
    h1, w1 = cadenza.read_checkpoint(str(d / "one.transformer"))
    h2, w2 = cadenza.read_checkpoint(str(d / "two.transformer"))
    assert sorted(w1) == sorted(w2) and len(w1) > 10
    worst = max(float(np.abs(w1[k] - w2[k]).max()) for k in w1)
    moved = max(float(np.abs(w1[k]).max()) for k in w1)
    assert worst <= 1e-5, f"2 processes differ from 1 by {worst}"
    assert moved > 0.05
    assert json.loads(h2)["extra"]["step"] == 20


def test_the_loss_falls_and_cadenza_scores_the_checkpoint(runs, bach_store):
    d, one, two = runs
    curve = losses(two)
    assert len(curve) == 2 and curve[-1] < curve[0], two
    longer = train(bach_store, d / "long.transformer", 2, 60, "--lr", "0.01")
    curve = losses(longer)
    assert curve[-1] < 0.8 * math.log(len(cadenza.TokenStore(bach_store).tokenizer)), longer
    ev = json.loads(run("eval", d / "long.transformer", "--store", bach_store, "--split", "valid", "--json").stdout)
    fresh = json.loads(run("eval", d / "one.transformer", "--store", bach_store, "--split", "valid", "--json").stdout)
    assert ev["bits_per_token"] < fresh["bits_per_token"] < math.log2(len(cadenza.TokenStore(bach_store).tokenizer))
    gen = run("generate", d / "long.transformer", "--length", "64", "--rng-seed", "1", "--out", d / "gen")
    assert list((d / "gen").glob("*.mid")), gen.stderr


def test_resume_continues_exactly(runs, bach_store):
    d, _, _ = runs
    whole = d / "whole.transformer"
    train(bach_store, whole, 1, 12)
    part = d / "part.transformer"
    train(bach_store, part, 1, 12, "--stop-after", "5")
    train(bach_store, part, 1, 12, "--resume", str(part) + ".last")
    _, a = cadenza.read_checkpoint(str(whole))
    _, b = cadenza.read_checkpoint(str(part))
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) <= 1e-6


def bits_per_token(net, store, split, vocab):
    """cadenza eval's bits/token: every token but each piece's first, scored after its past."""
    total, count = 0.0, 0
    for i in store.split(split):
        ids = torch.from_numpy(store.tokens(i).astype(np.int64))
        if len(ids) < 2:
            continue
        logp = torch.log_softmax(net.score_long(ids[:-1])[:, :vocab].double(), -1)
        picked = logp.gather(1, ids[1:, None])[:, 0].clamp(min=-1e4)
        total += float(picked.sum())
        count += len(ids) - 1
    return -total / count / math.log(2)


@pytest.mark.parametrize("name,scheme", [("bach.transformer", "midi-like"), ("bach.lstm", "midi-like")])
def test_a_committed_checkpoint_scores_the_same_bits_in_pytorch(name, scheme, tmp_path):
    ckpt = ROOT / "checkpoints" / name
    net, header = ctorch.load(ckpt)
    net.eval()
    store = tmp_path / "store"
    flags = ["--tokenizer", header["tokenizer"].get("scheme", "midi-like")]
    flags += ["--split-key", (header.get("corpus") or {}).get("split_key", "file-bytes")]
    run("corpus", "build", ROOT / "corpora" / "bach", "--out", store, *flags)
    s = cadenza.TokenStore(store)
    assert s.tokenizer.digest == cadenza.Tokenizer.from_checkpoint(ckpt).digest
    ours = bits_per_token(net, s, "test", len(header["vocab"]))
    theirs = json.loads(run("eval", ckpt, "--store", store, "--split", "test", "--json").stdout)["bits_per_token"]
    assert abs(ours - theirs) <= 1e-4, (ours, theirs)


def test_checkpoints_round_trip_and_wrong_kinds_raise(tmp_path):
    net, header = ctorch.load(ROOT / "checkpoints" / "bach.transformer")
    tok = cadenza.Tokenizer.from_checkpoint(ROOT / "checkpoints" / "bach.transformer")
    out = tmp_path / "again.transformer"
    ctorch.save(net, out, tok, header["hyperparameters"]["train"])
    again, h2 = ctorch.load(out)
    for (n, a), (m, b) in zip(net.named_parameters(), again.named_parameters()):
        assert n == m and torch.equal(a, b)
    assert h2["vocab"] == header["vocab"]
    with pytest.raises(cadenza.CadenzaError, match="hmm"):
        cadenza.read_checkpoint(str(ROOT / "checkpoints" / "bach-key.hmm"))
    with pytest.raises(cadenza.CadenzaError, match="classifier"):
        ctorch.load(ROOT / "checkpoints" / "styles.classifier")
    broken = tmp_path / "broken.transformer"
    broken.write_bytes((ROOT / "checkpoints" / "bach.transformer").read_bytes()[:-9])
    with pytest.raises(cadenza.CadenzaError, match="broken.transformer"):
        ctorch.load(broken)
    with pytest.raises(ValueError, match="transformer sizes must be positive"):
        cadenza.write_checkpoint(str(tmp_path / "x"), "transformer", tok, '{"layers": 0}', json.dumps(header["hyperparameters"]["train"]), [])


def test_python_cadenza_python_continues_one_run(runs, bach_store):
    """Python trains 10 steps, `cadenza train --resume` its OUT.last to 20, Python reads the
    result: the weights Python alone reaches in 20 steps (same windows, AdamW and schedule)."""
    d, _, _ = runs
    half = d / "half.transformer"
    train(bach_store, half, 1, 20, "--stop-after", "10")
    run("train", "--model", "transformer", "--store", bach_store, "--out", d / "cz.transformer", "--resume", str(half) + ".last")
    whole = d / "whole20.transformer"
    train(bach_store, whole, 1, 20)
    ha, a = cadenza.read_checkpoint(str(whole))
    hb, b = cadenza.read_checkpoint(str(d / "cz.transformer"))
    assert json.loads(hb)["extra"]["step"] == 20
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) <= 1e-5
    _, c = cadenza.read_checkpoint(str(half))
    assert max(float(np.abs(a[k] - c[k]).max()) for k in a) > 1e-3, "the second half moved the weights"


def test_an_lstm_trains_under_torchrun_and_cadenza_scores_it(bach_store, tmp_path):
    out = tmp_path / "ddp.lstm"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "cadenza.train",
           "--model", "lstm", "--store", str(bach_store), "--out", str(out), "--steps", "12", "--embed", "8", "--hidden", "16",
           "--layers", "2", "--window", "32", "--batch", "4", "--device", "cpu", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    ev = json.loads(run("eval", out, "--store", bach_store, "--split", "valid", "--json").stdout)
    assert math.isfinite(ev["bits_per_token"]) and ev["pieces"] > 0
    net, header = ctorch.load(out)
    assert header["kind"] == "lstm" and header["corpus"]["tokens"]["train"] > 0


def test_fsdp_over_two_processes_reaches_one_process_weights(runs, bach_store):
    d, _, _ = runs
    train(bach_store, d / "fsdp.transformer", 2, 20, "--fsdp")
    _, a = cadenza.read_checkpoint(str(d / "one.transformer"))
    _, b = cadenza.read_checkpoint(str(d / "fsdp.transformer"))
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) <= 1e-5
    _, last = cadenza.read_checkpoint(str(d / "fsdp.transformer") + ".last")
    assert all(f"adamw.m.{k}" in last and last[f"adamw.v.{k}"].shape == a[k].shape for k in a), "gathered moments"


def test_a_fim_run_in_suffix_first_order_is_read_so_by_cadenza(bach, bach_store, tmp_path):
    out = tmp_path / "spm.transformer"
    train(bach_store, out, 1, 6, "--fim-rate", "0.5", "--fim-order", "spm")
    header, weights = cadenza.read_checkpoint(str(out))
    header = json.loads(header)
    settings = header["hyperparameters"]["train"]
    assert settings["fim_order"] == "spm" and settings["fim_rate"] == 0.5
    # Four sentinels beyond the tokenizer's vocabulary: the embedding has their rows.
    embed = next(w for k, w in weights.items() if k.endswith("embed.weight"))
    assert embed.shape[0] == len(header["vocab"]) + 4
    piece = sorted(bach.glob("*.mid"))[0]
    r = run("infill", out, "--piece", piece, "--beats", "4-8", "--fim", "--rng-seed", "1", "--out", tmp_path / "fills")
    assert list((tmp_path / "fills").glob("*.mid")), r.stderr
