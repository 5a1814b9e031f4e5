"""A token store (``cadenza corpus build``) read from Python: the library opens and checks it
(manifest complete, every shard's length and CRC32), then numpy maps the shards itself, so a
piece's tokens are a zero-copy view of the page cache."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from . import _native

#: Where a shard's tokens start (``src/store/format.rs``).
SHARD_HEADER_BYTES = 64


@dataclass(frozen=True)
class Piece:
    """One piece of the store: where its tokens are, its split and its source file."""

    shard: int
    offset: int
    length: int
    split: str
    path: str


class TokenStore:
    """A complete token store, opened and checked, its shards mapped read-only."""

    def __init__(self, path):
        self._native = _native.TokenStore(str(path))
        self.path = Path(path)
        self.tokenizer: _native.Tokenizer = self._native.tokenizer
        self.manifest: dict = json.loads(self._native.manifest)
        self.shards: List[np.ndarray] = [
            np.memmap(file, dtype="<u2", mode="r", offset=SHARD_HEADER_BYTES, shape=(n,))
            if n
            else np.empty(0, dtype="<u2")
            for file, n in self._native.shards()
        ]
        self.pieces: List[Piece] = [Piece(s, o, n, split, str(p)) for s, o, n, split, p in self._native.pieces()]

    def __len__(self) -> int:
        return len(self.pieces)

    def tokens(self, i: int) -> np.ndarray:
        """The tokens of piece ``i``: a read-only view of its shard (no copy)."""
        p = self.pieces[i]
        return self.shards[p.shard][p.offset : p.offset + p.length]

    def split(self, name: str) -> List[int]:
        """The indices of the pieces of split ``name`` (``train``, ``valid`` or ``test``)."""
        if name not in ("train", "valid", "test"):
            raise ValueError(f"split {name!r}: expected train, valid or test")
        return [i for i, p in enumerate(self.pieces) if p.split == name]

    def lengths(self, split: Optional[str] = None) -> np.ndarray:
        """Tokens per piece (of one split, or all), as ``int64``."""
        idx = range(len(self.pieces)) if split is None else self.split(split)
        return np.array([self.pieces[i].length for i in idx], dtype=np.int64)

    @property
    def summary(self) -> Dict:
        """What a checkpoint records about the store: pieces and tokens per split, content hash."""
        return json.loads(self._native.summary)

    def targets(self, split: str = "train") -> int:
        """Training targets of ``split``'s windows (an epoch is enough steps to cover them)."""
        return self._native.targets(split)

    def windows(self, split, seed, step, batch, window, transpose=0, fim_rate=0.0, fim_order="psm") -> np.ndarray:
        """The ``[batch, window + 1]`` windows ``cadenza train`` draws at ``step`` (``int64``);
        a share ``fim_rate`` of them reordered for fill in the middle in ``fim_order`` (``psm``:
        prefix, suffix, middle; ``spm``: suffix, prefix, middle, as ``--fim-order``)."""
        return self._native.windows(split, seed, step, batch, window, transpose, fim_rate, fim_order)
