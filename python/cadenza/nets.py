"""cadenza's two networks declared in PyTorch, with cadenza's tensor names and math, so that
weights move between the two unchanged (``src/models/transformer/net.rs``,
``src/models/lstm/model.rs``).

- ``Transformer``: token embedding, pre-norm blocks (``x + attn(ln1(x))``, ``x + mlp(ln2(x))``)
  of causal multi-head attention with rotary positions (RoPE, half-split, base 10000) on queries
  and keys and an MLP ``proj(gelu(fc(x)))``, a final LayerNorm (eps 1e-5), logits through the
  embedding matrix (tied, no bias). Reads at most ``context`` tokens at once: longer sequences
  are scored as cadenza decodes them (``score_long``).
- ``LSTM``: embedding, stacked ``nn.LSTM`` (dropout between layers), dropout, an optional
  projection (tied weights with ``embed != hidden``), output layer (tied to the embedding or
  not). Parameter names ``embed.weight``, ``lstm.weight_ih_l0`` ... as cadenza's.
"""

from __future__ import annotations

import math
from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn

ROPE_BASE = 10_000.0
LN_EPS = 1e-5


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x, cos, sin):
        b, t, d = x.shape
        h = self.heads
        qkv = self.qkv(x).view(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = rotate(qkv[0], cos, sin), rotate(qkv[1], cos, sin), qkv[2]
        p = self.dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=t > 1)
        return self.out(a.transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, ff: int):
        super().__init__()
        self.fc = nn.Linear(dim, ff)
        self.proj = nn.Linear(ff, dim)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, ff: int, dropout: float):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, heads, dropout)
        self.ln2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, ff)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, cos, sin):
        x = x + self.drop(self.attn(self.ln1(x), cos, sin))
        return x + self.drop(self.mlp(self.ln2(x)))


def rotate(x, cos, sin):
    """``x`` (``[b, h, t, hd]``) rotated by the angles ``cos``/``sin`` (``[t, hd / 2]``)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Transformer(nn.Module):
    """cadenza's Transformer. ``cfg``: its ``hyperparameters.model`` (layers, heads, dim, ff,
    dropout, context)."""

    def __init__(self, cfg: Dict, vocab: int):
        super().__init__()
        self.cfg, self.vocab = dict(cfg), vocab
        d, h = cfg["dim"], cfg["heads"]
        self.context = cfg.get("context") or 512
        self.embed = nn.Embedding(vocab, d)
        self.drop = nn.Dropout(cfg["dropout"])
        self.blocks = nn.ModuleList(Block(d, h, cfg["ff"], cfg["dropout"]) for _ in range(cfg["layers"]))
        self.ln_f = nn.LayerNorm(d, eps=LN_EPS)
        half = d // h // 2
        inv = torch.exp(torch.arange(half, dtype=torch.float32) * (-2.0 * math.log(ROPE_BASE) / (2 * half)))
        self.register_buffer("inv_freq", inv, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        """GPT-2's initialisation, as cadenza's: N(0, 0.02), residual projections scaled by
        1/sqrt(2 layers), biases 0, norms 1."""
        resid = 0.02 / math.sqrt(2 * len(self.blocks))
        nn.init.normal_(self.embed.weight, 0.0, 0.02)
        for b in self.blocks:
            for lin, std in ((b.attn.qkv, 0.02), (b.attn.out, resid), (b.mlp.fc, 0.02), (b.mlp.proj, resid)):
                nn.init.normal_(lin.weight, 0.0, std)
                nn.init.zeros_(lin.bias)

    def forward(self, tokens):
        """Logits ``[batch, time, vocab]`` for windows ``tokens`` (``[batch, time]``), each read
        from its start."""
        t = tokens.shape[1]
        angles = torch.arange(t, device=tokens.device, dtype=torch.float32)[:, None] * self.inv_freq[None, :]
        x = self.drop(self.embed(tokens))
        cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
        for b in self.blocks:
            x = b(x, cos, sin)
        return F.linear(self.ln_f(x), self.embed.weight)

    @torch.no_grad()
    def score_long(self, tokens):
        """Logits after each token of one sequence (``[time]``) of any length, as cadenza's
        decoder computes them: at most ``context`` tokens at once; when full, the context is
        rebuilt from the last ``context // 2`` tokens alone."""
        c, keep = self.context, self.context // 2
        out, start, past = [], 0, 0  # past: tokens in the current context
        n = tokens.shape[0]
        while start < n:
            if past >= c:
                past = keep
            take = min(n - start, c - past)
            window = tokens[start - past : start + take][None]
            out.append(self.forward(window)[0, past:])
            start, past = start + take, past + take
        return torch.cat(out) if out else torch.zeros(0, self.vocab)


class LSTM(nn.Module):
    """cadenza's LSTM. ``cfg``: its ``hyperparameters.model`` (embed, hidden, layers, dropout,
    tie_weights)."""

    def __init__(self, cfg: Dict, vocab: int):
        super().__init__()
        self.cfg, self.vocab = dict(cfg), vocab
        e, h, layers = cfg["embed"], cfg["hidden"], cfg["layers"]
        self.embed = nn.Embedding(vocab, e)
        self.lstm = nn.LSTM(e, h, layers, batch_first=True, dropout=cfg["dropout"] if layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg["dropout"])
        tie = cfg.get("tie_weights", False)
        self.proj = nn.Linear(h, e, bias=False) if tie and e != h else None
        self.out = nn.Linear(e if tie else h, vocab)
        if tie:
            del self.out.weight
            self.out.weight = self.embed.weight
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)

    def named_weights(self):
        """The tensors a cadenza checkpoint holds, by cadenza's names (a tied output weight is
        the embedding's, not saved twice)."""
        out = {"embed.weight": self.embed.weight}
        for name, p in self.lstm.named_parameters():
            out[f"lstm.{name}"] = p
        if self.proj is not None:
            out["proj.weight"] = self.proj.weight
        if not self.cfg.get("tie_weights", False):
            out["out.weight"] = self.out.weight
        out["out.bias"] = self.out.bias
        return out

    def forward(self, tokens, state=None):
        y, _ = self.lstm(self.embed(tokens), state)
        y = self.drop(y)
        if self.proj is not None:
            y = self.proj(y)
        return self.out(y)

    @torch.no_grad()
    def score_long(self, tokens):
        return self.forward(tokens[None])[0]


def build(kind: str, cfg: Dict, vocab: int) -> nn.Module:
    """The network of ``kind`` (``transformer`` or ``lstm``)."""
    if kind == "transformer":
        return Transformer(cfg, vocab)
    if kind == "lstm":
        return LSTM(cfg, vocab)
    raise ValueError(f"model {kind!r}: expected transformer or lstm")


def named_weights(net: nn.Module) -> Dict[str, torch.Tensor]:
    """The network's tensors by their cadenza names."""
    if isinstance(net, LSTM):
        return net.named_weights()
    return dict(net.named_parameters())
