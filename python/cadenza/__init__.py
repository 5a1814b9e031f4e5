"""cadenza from Python: its tokenizers, its token store and its checkpoints.

- ``Tokenizer(scheme="tsd", ...)``: MIDI files to token ids (numpy ``uint16``) and back, the
  same ids as ``cadenza tokens --ids``; ``encode_many`` tokenizes on several threads with the GIL
  released.
- ``TokenStore(path)``: a store built by ``cadenza corpus build``: its pieces, splits and
  lengths, zero-copy numpy views of its mapped shards, and the training windows ``cadenza
  train`` draws at each step.
- ``read_checkpoint`` / ``write_checkpoint``: cadenza's checkpoint files, so that a network
  trained in PyTorch (``python -m cadenza.train``) is used by ``cadenza eval``, ``generate``,
  ``compare`` and the studio unchanged.
- ``cadenza.torch``: the PyTorch side (``WindowDataset``, the Transformer and the LSTM with
  cadenza's tensor names and math); imported on demand, so ``import cadenza`` needs no torch.

Every error from the library raises ``CadenzaError`` with the command line's one-line message.
"""

from ._native import (
    CadenzaError,
    Tokenizer,
    lr_at,
    model_config,
    read_checkpoint,
    sentinels,
    train_config,
    write_checkpoint,
)
from .store import Piece, TokenStore

PAD, BOS, EOS = 0, 1, 2

__all__ = [
    "CadenzaError",
    "Piece",
    "Tokenizer",
    "TokenStore",
    "lr_at",
    "model_config",
    "read_checkpoint",
    "sentinels",
    "train_config",
    "write_checkpoint",
    "PAD",
    "BOS",
    "EOS",
]
