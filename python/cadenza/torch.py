"""The PyTorch side of cadenza: training windows from a token store, and cadenza checkpoints to
and from PyTorch networks (``cadenza.nets``).

``WindowDataset(store, split, window, seed, batch=...)``: item ``s`` is this rank's part of the
global batch that ``cadenza train`` draws at step ``s`` (the library's own ``Windows::batch``:
the same rows, transpositions and fill-in-the-middle cuts). Rank ``r`` of ``W`` takes rows
``r, r + W, ...``, so the windows a step sees do not depend on the number of processes, and a
resumed run draws what an uninterrupted one would have.
"""

from __future__ import annotations

import json
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from . import _native, nets
from .store import TokenStore


class WindowDataset(torch.utils.data.Dataset):
    """Training windows of one split, by step. Use with ``DataLoader(ds, batch_size=None)``
    or index it directly."""

    def __init__(
        self,
        store: TokenStore,
        split: str = "train",
        window: int = 256,
        seed: int = 0,
        batch: int = 64,
        steps: Optional[int] = None,
        transpose: int = 0,
        fim_rate: float = 0.0,
        rank: int = 0,
        world_size: int = 1,
        fim_order: str = "psm",
    ):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} of {world_size} processes")
        if batch < world_size:
            raise ValueError(f"a global batch of {batch} rows cannot feed {world_size} processes")
        self.store, self.split, self.window, self.seed, self.batch = store, split, window, seed, batch
        self.transpose, self.fim_rate, self.rank, self.world_size = transpose, fim_rate, rank, world_size
        self.fim_order = fim_order
        per_epoch = max(1, -(-store.targets(split) // (batch * window)))
        self.steps = per_epoch if steps is None else steps

    def __len__(self) -> int:
        return self.steps

    def global_batch(self, step: int) -> np.ndarray:
        """The whole ``[batch, window + 1]`` batch of ``step``."""
        return self.store.windows(
            self.split, self.seed, step, self.batch, self.window, self.transpose, self.fim_rate, self.fim_order
        )

    def __getitem__(self, step: int) -> torch.Tensor:
        """This rank's rows of step ``step``'s batch (``int64``)."""
        if not 0 <= step < self.steps:
            raise IndexError(step)
        return torch.from_numpy(np.ascontiguousarray(self.global_batch(step)[self.rank :: self.world_size]))


def load(path, device="cpu") -> Tuple[torch.nn.Module, Dict]:
    """The network in the cadenza checkpoint ``path`` and its header (a dict)."""
    header_json, arrays = _native.read_checkpoint(str(path))
    header = json.loads(header_json)
    hyper = header["hyperparameters"]
    train = hyper.get("train") or {}
    vocab = len(header["vocab"]) + (_native.sentinels(json.dumps(train)) if train else 0)
    net = nets.build(header["kind"], hyper["model"], vocab)
    own = nets.named_weights(net)
    missing = sorted(set(own) - set(arrays))
    if missing:
        raise _native.CadenzaError(f"{path}: the checkpoint lacks the tensor {missing[0]}")
    with torch.no_grad():
        for name, p in own.items():
            src = torch.from_numpy(np.asarray(arrays[name]))
            if tuple(src.shape) != tuple(p.shape):
                raise _native.CadenzaError(
                    f"{path}: tensor {name} has shape {tuple(src.shape)}, the network {tuple(p.shape)}"
                )
            p.copy_(src)
    return net.to(device), header


def _full(t: torch.Tensor) -> np.ndarray:
    """A tensor's whole value as f32 numpy (a sharded DTensor gathered: every rank must call)."""
    if hasattr(t, "full_tensor"):
        t = t.full_tensor()
    return t.detach().float().cpu().contiguous().numpy()


def tensors(net: torch.nn.Module, optimizer: Optional[torch.optim.Optimizer] = None):
    """``(name, array)`` of every tensor a cadenza checkpoint of ``net`` holds, with AdamW's
    moments under cadenza's names (``adamw.m.<name>``, ``adamw.v.<name>``) when ``optimizer``
    is given. With FSDP every rank must call it (the shards are gathered)."""
    named = nets.named_weights(net)
    out = [(n, _full(p)) for n, p in named.items()]
    if optimizer is not None:
        for n, p in named.items():
            st = optimizer.state.get(p, {})
            if "exp_avg" in st:
                out.append((f"adamw.m.{n}", _full(st["exp_avg"])))
                out.append((f"adamw.v.{n}", _full(st["exp_avg_sq"])))
    return out


def save(
    net: torch.nn.Module,
    path,
    tokenizer,
    train: Dict,
    store: Optional[TokenStore] = None,
    metrics: Optional[Dict] = None,
    extra=None,
    optimizer: Optional[torch.optim.Optimizer] = None,
    arrays=None,
):
    """Write ``net`` as a cadenza checkpoint (atomically): its weights, or ``arrays`` as
    ``tensors`` gave them, with AdamW's moments when ``optimizer`` is given."""
    kind = "lstm" if isinstance(net, nets.LSTM) else "transformer"
    if arrays is None:
        arrays = tensors(net, optimizer)
    _native.write_checkpoint(
        str(path),
        kind,
        tokenizer,
        json.dumps(net.cfg),
        json.dumps(train),
        arrays,
        store._native if store is not None else None,
        json.dumps(metrics or {}),
        json.dumps(extra),
    )
