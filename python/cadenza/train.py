"""Train a cadenza network with PyTorch, on one process or many (``torchrun``), from a token
store, writing cadenza checkpoints.

    python -m cadenza.train --model transformer --store STORE --out OUT.transformer --steps 2000
    torchrun --nproc_per_node 8 -m cadenza.train --model transformer --store STORE --out OUT ...
    torchrun --nnodes N --node_rank R --nproc_per_node G --rdzv_backend c10d \\
        --rdzv_endpoint HOST:29500 -m cadenza.train ...      # N nodes of G GPUs (NCCL)

The flags shared with ``cadenza train`` mean the same and default the same (the training
configuration and network shape come from the library). Each step's global batch is the one
``cadenza train`` draws (``WindowDataset``); with DistributedDataParallel each of W processes
takes every W-th row and the gradients are averaged, each process's loss scaled so that the
step equals one process's mean over the global batch's (non-PAD) targets. AdamW and the
warm-up + cosine schedule are cadenza's; bf16 autocast on CUDA unless ``--no-bf16``;
``--fsdp`` shards parameters, gradients and optimizer state (FSDP2, ``fully_shard``) for a model
that no longer fits one device. Rank 0 writes OUT (the weights, the training state, the store's corpus
summary) and OUT.last (with AdamW's moments) every ``--checkpoint-every`` steps and at the end;
``--resume OUT.last`` continues exactly.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from . import _native, nets
from . import torch as ctorch
from .store import TokenStore

PAD = 0


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m cadenza.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["transformer", "lstm"], default="transformer")
    p.add_argument("--store", required=True, help="a token store built by `cadenza corpus build`")
    p.add_argument("--out", required=True, help="the checkpoint to write (OUT.last holds the resume state)")
    p.add_argument("--resume", help="continue from this checkpoint's state (OUT.last of an earlier run)")
    # The network's shape (the library's defaults when not given).
    p.add_argument("--layers", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--dim", type=int)
    p.add_argument("--ff", type=int)
    p.add_argument("--embed", type=int)
    p.add_argument("--hidden", type=int)
    p.add_argument("--dropout", type=float)
    # Training.
    p.add_argument("--window", type=int)
    p.add_argument("--batch", type=int, help="global batch: windows per step over all processes")
    p.add_argument("--steps", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--warmup", type=int)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--clip", type=float)
    p.add_argument("--transpose", type=int)
    p.add_argument("--fim-rate", type=float)
    p.add_argument("--fim-order", choices=["psm", "spm"], help="FIM windows prefix first (psm) or suffix first (spm)")
    p.add_argument("--rng-seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda (each process takes its LOCAL_RANK's GPU)")
    p.add_argument("--checkpoint-every", type=int, default=0)
    p.add_argument("--stop-after", type=int, help="stop after this many steps of this run (saving OUT.last to resume)")
    p.add_argument("--no-bf16", action="store_true", help="f32 on CUDA too")
    p.add_argument("--fsdp", action="store_true", help="shard the model over the processes (FSDP2)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def given(args, names):
    return {k: getattr(args, k) for k in names if getattr(args, k) is not None}


def lr_schedule(train, total):
    return [_native.lr_at(json.dumps(train), s, total) for s in range(total)]


def main(argv=None):
    args = parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = args.device.startswith("cuda") or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")

    try:
        store = TokenStore(args.store)
    except _native.CadenzaError as e:
        sys.exit(f"error: {e}")
    tokenizer = store.tokenizer
    overrides = given(args, ["window", "batch", "steps", "epochs", "lr", "warmup", "weight_decay", "clip", "transpose"])
    if args.fim_rate is not None:
        overrides["fim_rate"] = args.fim_rate
    if args.fim_order is not None:
        overrides["fim_order"] = args.fim_order
    overrides["seed"] = args.rng_seed
    overrides["device"] = "cuda" if cuda else "cpu"
    overrides["bf16"] = cuda and not args.no_bf16
    train = json.loads(_native.train_config(json.dumps(overrides)))
    shape = given(args, ["layers", "heads", "dim", "ff", "dropout"] if args.model == "transformer" else ["embed", "hidden", "layers", "dropout"])
    model_cfg = json.loads(_native.model_config(args.model, json.dumps(shape), json.dumps(train)))
    vocab = len(tokenizer) + _native.sentinels(json.dumps(train))

    data = ctorch.WindowDataset(
        store, "train", train["window"], train["seed"], train["batch"], None, train["transpose"], train["fim_rate"], rank, world,
        fim_order=train["fim_order"],
    )
    per_epoch = len(data)
    total = train["steps"] if train["steps"] is not None else train["epochs"] * per_epoch
    data.steps = total

    torch.manual_seed(train["seed"])
    net = nets.build(args.model, model_cfg, vocab).to(device)
    start, moments = 0, None
    if args.resume:
        start, moments = resume(args.resume, net, device)
    if world > 1 and args.fsdp:
        # FSDP2: each Transformer block (or the whole LSTM) and the root sharded over the ranks;
        # gradients are averaged as DDP's are.
        from torch.distributed.fsdp import fully_shard

        for block in getattr(net, "blocks", []):
            fully_shard(block)
        fully_shard(net)
        model = net
    elif world > 1:
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[local] if cuda else None)
    else:
        model = net
    params = list(nets.named_weights(net).values())
    opt = torch.optim.AdamW(
        params, lr=train["lr"], betas=(train["beta1"], train["beta2"]), eps=train["eps"], weight_decay=train["weight_decay"]
    )
    if moments is not None:
        load_moments(opt, net, moments, start)
    schedule = lr_schedule(train, total)
    bf16 = cuda and train["bf16"]
    log_every = 10
    loss_sum, loss_n, clock, tokens = 0.0, 0, time.time(), 0
    train_loss = None
    model.train()
    end = total if args.stop_after is None else min(total, start + args.stop_after)
    for step in range(start, end):
        rows_all = data.global_batch(step)
        targets_all = int((rows_all[:, 1:] != PAD).sum())
        rows = torch.from_numpy(np.ascontiguousarray(rows_all[rank::world])).to(device)
        inp, tgt = rows[:, :-1], rows[:, 1:]
        for g in opt.param_groups:
            g["lr"] = schedule[step]
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=bf16):
            logits = model(inp)
        loss_local = F.cross_entropy(logits.float().reshape(-1, vocab), tgt.reshape(-1), ignore_index=PAD, reduction="sum")
        # DDP averages gradients over the W processes: scaled by W / (the global batch's targets),
        # the step is one process's mean over the whole batch.
        loss = loss_local * (world / max(targets_all, 1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if train["clip"] > 0:
            torch.nn.utils.clip_grad_norm_(params, train["clip"])
        opt.step()
        mean = loss.detach() / world
        if world > 1:
            dist.all_reduce(mean)
        loss_sum += float(mean)
        loss_n += 1
        tokens += train["batch"] * train["window"]
        done = step + 1
        if loss_n >= log_every or done == end:
            train_loss = loss_sum / loss_n
            if not math.isfinite(train_loss):
                sys.exit(f"error: training diverged at step {done} (loss {train_loss})")
            secs = time.time() - clock
            if rank == 0 and not args.quiet:
                print(f"step {done}/{total} loss {train_loss:.4f} nats/token {tokens / max(secs, 1e-9):.0f} tok/s", flush=True)
            loss_sum, loss_n, clock, tokens = 0.0, 0, time.time(), 0
        if args.checkpoint_every and done % args.checkpoint_every == 0 and done < total:
            checkpoint(args, net, opt, tokenizer, train, store, done, per_epoch, total, train_loss, rank)
    checkpoint(args, net, opt, tokenizer, train, store, end, per_epoch, total, train_loss, rank)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


def state(step, per_epoch, total, train_loss):
    """cadenza's ``TrainState`` (the header's ``extra``), so that ``cadenza train --resume``
    reads it too."""
    return {
        "step": step,
        "epoch": step // max(per_epoch, 1),
        "steps_per_epoch": per_epoch,
        "total_steps": total,
        "best_valid_bits": None,
        "bad_epochs": 0,
        "train_loss": train_loss,
        "last_valid_bits": None,
    }


def checkpoint(args, net, opt, tokenizer, train, store, step, per_epoch, total, train_loss, rank):
    """Write OUT (weights) and OUT.last (with AdamW's moments) on rank 0; every rank gathers its
    shards first under FSDP (once: OUT's weights are OUT.last's less the moments)."""
    full = ctorch.tensors(net, opt)
    weights = [(n, a) for n, a in full if not n.startswith("adamw.")]
    if rank != 0:
        return
    extra = state(step, per_epoch, total, train_loss)
    metrics = {"steps": float(step)}
    if train_loss is not None:
        metrics["train_bits_per_token"] = train_loss / math.log(2)
    ctorch.save(net, args.out, tokenizer, train, store, metrics, extra, arrays=weights)
    ctorch.save(net, args.out + ".last", tokenizer, train, store, metrics, extra, arrays=full)


def resume(path, net, device):
    """Load the weights of ``path`` into ``net``; returns the step and the arrays (for the
    moments, loaded once the optimizer exists)."""
    header_json, arrays = _native.read_checkpoint(str(path))
    header = json.loads(header_json)
    step = int((header.get("extra") or {}).get("step", 0))
    named = nets.named_weights(net)
    with torch.no_grad():
        for name, p in named.items():
            if name not in arrays:
                sys.exit(f"error: {path}: the checkpoint lacks the tensor {name}")
            p.copy_(torch.from_numpy(np.asarray(arrays[name])).to(device))
    if not all(f"adamw.m.{n}" in arrays and f"adamw.v.{n}" in arrays for n in named):
        sys.exit(f"error: {path}: it holds the model but not the optimizer state; resume from its .last")
    return step, arrays


def load_moments(opt, net, arrays, step):
    """AdamW's moments from a checkpoint's arrays, sharded like their parameters under FSDP."""
    for name, p in nets.named_weights(net).items():
        m, v = (torch.from_numpy(np.asarray(arrays[f"adamw.{k}.{name}"])) for k in "mv")
        if hasattr(p, "device_mesh"):
            from torch.distributed.tensor import distribute_tensor

            m, v = (distribute_tensor(t.to(p.device), p.device_mesh, p.placements) for t in (m, v))
        else:
            m, v = m.to(p.device), v.to(p.device)
        opt.state[p] = {"step": torch.tensor(float(step)), "exp_avg": m, "exp_avg_sq": v}


if __name__ == "__main__":
    main()
