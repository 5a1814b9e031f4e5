"""Write the PyTorch side of the logit parity check that `tests/python_parity.rs` runs: small
networks with random weights saved as cadenza checkpoints, a token sequence, and PyTorch's
logits for it (raw little-endian f32), into the folder given.

    python python/tests/make_parity.py OUT_DIR MIDI_FILE
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

import cadenza
from cadenza import nets
from cadenza import torch as ctorch

SHAPES = {
    "transformer": ("transformer", {"layers": 2, "heads": 2, "dim": 16, "ff": 40, "dropout": 0.0, "context": 24}),
    "lstm": ("lstm", {"embed": 12, "hidden": 16, "layers": 2, "dropout": 0.0, "tie_weights": False}),
    "lstm-tied": ("lstm", {"embed": 12, "hidden": 16, "layers": 1, "dropout": 0.0, "tie_weights": True}),
}


def main(out: Path, midi: Path):
    out.mkdir(parents=True, exist_ok=True)
    tok = cadenza.Tokenizer()
    ids = tok.encode(midi)[:100].astype(np.int64)
    assert len(ids) == 100, "the piece is long enough to slide past the context"
    (out / "tokens.json").write_text(json.dumps(ids.tolist()))
    train = json.loads(cadenza.train_config(json.dumps({"window": 24, "device": "cpu"})))
    torch.manual_seed(11)
    for name, (kind, shape) in SHAPES.items():
        cfg = json.loads(cadenza.model_config(kind, json.dumps(shape), json.dumps(train)))
        net = nets.build(kind, cfg, len(tok))
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn_like(p) * 0.4)
        net.eval()
        ctorch.save(net, out / f"{name}.ckpt", tok, train)
        x = torch.from_numpy(ids)
        with torch.no_grad():
            full = net(x[None, :24])[0]  # one pass over a window that fits the context
            long = net.score_long(x)  # the whole sequence, as cadenza decodes it
        full.numpy().astype("<f4").tofile(out / f"{name}.full.f32")
        long.numpy().astype("<f4").tofile(out / f"{name}.long.f32")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
