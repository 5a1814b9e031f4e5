#!/usr/bin/env python3
"""Train and sample the same network in PyTorch and in cadenza on one device; print a table.

--model lstm (default): embedding -> N-layer nn.LSTM -> linear over the vocabulary.
--model transformer: cadenza's decoder (pre-norm blocks, rotary positions, fused QKV with bias,
scaled_dot_product_attention, exact GELU MLP, final LayerNorm, output tied to the embedding),
sampled through a KV cache as cadenza does. Both are trained with AdamW (lr 2e-3, weight decay
0.01), gradient clipping at 1.0, on random windows of random tokens, dropout 0.
cadenza runs through `examples/net_bench.rs` (release build) and reports JSON; PyTorch runs
here. Sampling feeds one token per step with the state kept, at batch 1 and 64 (or the
batches of --sample-batches). --cadenza-bin runs a prebuilt example binary instead of cargo
(what scripts/gpu_run.sh does on a machine without Rust).

    scripts/bench_torch.py --device cpu --hidden 256 --layers 2 --batch 16 --window 64 --steps 20
    scripts/bench_torch.py --model transformer --dim 144 --heads 4 --ff 576 --layers 4

Differences that remain: cadenza samples on the CPU with its shared sampler (probabilities
copied to the host each step, rows stop at EOS); PyTorch uses torch.multinomial on the device.
cadenza's timed training includes writing its two checkpoints at the end of the run.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time

DEFAULT_PYTHON = "/root/.cache/cadenza/torch-2.11.0/bin/python"


def run_cadenza(args, repo):
    if args.cadenza_bin:
        cmd = [args.cadenza_bin]
    else:
        cmd = ["cargo", "run", "--release", "--quiet", "--example", "net_bench", "--"]
    cmd += ["--model", args.model, "--device", args.device, "--embed", str(args.embed),
            "--hidden", str(args.hidden), "--dim", str(args.dim), "--heads", str(args.heads),
            "--ff", str(args.ff), "--layers", str(args.layers), "--batch", str(args.batch), "--window", str(args.window),
           "--steps", str(args.steps), "--sample-tokens", str(args.sample_tokens),
            "--sample-batches", ",".join(map(str, args.sample_batches))]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.bf16:
        cmd.append("--bf16")
    out = subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_torch(args, vocab):
    import torch
    from torch import nn

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device.startswith("cuda") else "cpu")
    torch.manual_seed(0)

    class Lstm(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, args.embed)
            self.lstm = nn.LSTM(args.embed, args.hidden, args.layers, batch_first=True)
            self.out = nn.Linear(args.hidden, vocab)

        def forward(self, x, state=None):
            y, state = self.lstm(self.embed(x), state)
            return self.out(y), state

    net = (Lstm() if args.model == "lstm" else transformer(vocab, args)).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.01)
    data = torch.randint(3, vocab, ((args.steps + 8) * args.batch * args.window + 1,))
    peak = PeakMemory(device)

    def step():
        starts = torch.randint(0, len(data) - args.window - 1, (args.batch,))
        rows = torch.stack([data[s:s + args.window + 1] for s in starts.tolist()]).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16 and device.type == "cuda"):
            logits, _ = net(rows[:, :-1])
            loss = nn.functional.cross_entropy(logits.reshape(-1, vocab).float(), rows[:, 1:].reshape(-1), ignore_index=0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        return loss

    net.train()
    for _ in range(3):
        step()
    sync(device)
    peak.start()
    t = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    loss.item()
    sync(device)
    secs = time.perf_counter() - t
    peak_train = peak.stop()

    net.eval()
    sample = {}
    peak_sample = None
    with torch.no_grad():
        for batch in args.sample_batches:
            def generate(n):
                tok = torch.full((batch, 1), 1, dtype=torch.long, device=device)
                state = None
                count = 0
                for _ in range(n):
                    logits, state = net(tok, state)
                    probs = torch.softmax(logits[:, -1].float(), -1)
                    tok = torch.multinomial(probs, 1)
                    count += batch
                sync(device)
                return count
            generate(4)
            peak.start()
            t = time.perf_counter()
            n = generate(args.sample_tokens)
            sample[batch] = n / (time.perf_counter() - t)
            p = peak.stop()
            peak_sample = p if peak_sample is None else max(peak_sample, p or 0)
    res = {
        "impl": "pytorch",
        "device": str(device),
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in net.parameters()),
        "train_tokens_per_s": args.steps * args.batch * args.window / secs,
        "train_seconds": secs,
        **{f"sample_tokens_per_s_batch{b}": v for b, v in sample.items()},
        "peak_gpu_bytes_train": peak_train,
        "peak_gpu_bytes_sample": peak_sample,
    }
    if device.type == "cuda":
        res["max_memory_allocated"] = torch.cuda.max_memory_allocated()
    return res


def transformer(vocab, args):
    """cadenza's Transformer (src/models/transformer/net.rs) in PyTorch; forward(x, state) with
    state a KV cache: a list of (k, v) per block and the number of positions held."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    d, h = args.dim, args.heads
    hd = d // h

    def rope(start, n, device):
        inv = torch.exp(torch.arange(hd // 2, device=device, dtype=torch.float32) * (-2.0 * math.log(10_000.0) / hd))
        ang = torch.arange(start, start + n, device=device, dtype=torch.float32)[:, None] * inv[None]
        return ang.cos(), ang.sin()

    def rotate(x, cos, sin):
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc, self.proj = nn.Linear(d, args.ff), nn.Linear(args.ff, d)

        def forward(self, x, cos, sin, kv):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, h, hd).permute(2, 0, 3, 1, 4)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            if kv is not None:
                k, v = torch.cat([kv[0], k], 2), torch.cat([kv[1], v], 2)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=kv is None and t > 1)
            x = x + self.out(a.transpose(1, 2).reshape(b, t, d))
            x = x + self.proj(F.gelu(self.fc(self.ln2(x))))
            return x, (k, v)

    class Transformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, d)
            self.blocks = nn.ModuleList(Block() for _ in range(args.layers))
            self.ln_f = nn.LayerNorm(d)

        def forward(self, x, state=None):
            past = state[1] if state else 0
            x = self.embed(x)
            cos, sin = rope(past, x.shape[1], x.device)
            kvs = []
            for i, blk in enumerate(self.blocks):
                x, kv = blk(x, cos, sin, state[0][i] if state else None)
                kvs.append(kv)
            return F.linear(self.ln_f(x), self.embed.weight), (kvs, past + x.shape[1])

    return Transformer()


def sync(device):
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize()


class PeakMemory:
    """Device-wide memory in use (torch.cuda.mem_get_info), polled every millisecond, as
    cadenza's example measures it."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def start(self):
        if not self.cuda:
            return
        import torch
        self.peak, self.done = 0, False

        def poll():
            while not self.done:
                free, total = torch.cuda.mem_get_info()
                self.peak = max(self.peak, total - free)
                time.sleep(0.001)
        self.thread = threading.Thread(target=poll, daemon=True)
        self.thread.start()

    def stop(self):
        if not self.cuda:
            return None
        self.done = True
        self.thread.join()
        return self.peak


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.0f}" if v >= 100 else f"{v:.3f}"
    if isinstance(v, int) and v > 10_000_000:
        return f"{v / 2**20:,.0f} MiB"
    return str(v)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--model", choices=["lstm", "transformer"], default="lstm")
    p.add_argument("--embed", type=int, default=256, help="LSTM embedding width")
    p.add_argument("--hidden", type=int, default=256, help="LSTM hidden width")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dim", type=int, default=144, help="Transformer width")
    p.add_argument("--heads", type=int, default=4, help="Transformer heads")
    p.add_argument("--ff", type=int, default=576, help="Transformer MLP width")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--sample-tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=0, help="intra-op threads for both (0 = default)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast on CUDA")
    p.add_argument("--sample-batches", type=lambda v: [int(b) for b in v.split(",")], default=[1, 64],
                   help="comma-separated sampling batch sizes (default 1,64)")
    p.add_argument("--cadenza-bin", default=os.environ.get("CADENZA_NET_BENCH"),
                   help="a built examples/net_bench binary (default: cargo run --release)")
    p.add_argument("--json", action="store_true", help="print both results as JSON too")
    args = p.parse_args()

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if "torch" not in sys.modules:
        try:
            import torch  # noqa: F401
        except ImportError:
            python = os.environ.get("CADENZA_TORCH_PYTHON", DEFAULT_PYTHON)
            os.execv(python, [python] + sys.argv)

    ours = run_cadenza(args, repo)
    theirs = run_torch(args, ours["vocab"])
    shape = (f"LSTM {args.layers} x {args.hidden}, embed {args.embed}" if args.model == "lstm"
             else f"Transformer {args.layers} x {args.dim}, {args.heads} heads, MLP {args.ff}")
    print(f"{shape}, vocab {ours['vocab']}, "
          f"batch {args.batch} x window {args.window}, {args.steps} steps, device {args.device}"
          f"{' (bf16)' if args.bf16 else ''}")
    rows = ["parameters", "threads", "train_tokens_per_s",
            *[f"sample_tokens_per_s_batch{b}" for b in args.sample_batches],
            "peak_gpu_bytes_train", "peak_gpu_bytes_sample"]
    print(f"{'':30} {'cadenza':>16} {'pytorch':>16} {'cadenza/pytorch':>16}")
    for r in rows:
        a, b = ours.get(r), theirs.get(r)
        ratio = f"{a / b:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "-"
        print(f"{r:30} {fmt(a):>16} {fmt(b):>16} {ratio:>16}")
    if args.json:
        print(json.dumps({"cadenza": ours, "pytorch": theirs}))


if __name__ == "__main__":
    main()
