#!/usr/bin/env python3
"""Same-run PyTorch CPU baseline for bench/run.ts (TORCH_PY=python3 npm run bench).

Plain PyTorch, no transformers: a minimal GPT-2 (pre-LN blocks, gelu tanh, tied head, causal
attention written as matmul + mask + softmax so it runs on torch 1.13 without SDPA) with the bench's
shapes and protocol. It is "PyTorch", not "HF transformers": the re-measured baseline file
(torch 2.13 + HF, SDPA attention, HF generate) is a different program and stays the reference for
the ratios; these figures show how far this machine's state moved since then.

Usage: python3 bench/torch_cpu.py [--quick] [--config tiny,gpt2-small]
Prints one JSON object per figure: {metric, config, batch, value, samples, torch, threads}.
"""
import argparse, json, math, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true")
ap.add_argument("--config", default="tiny,gpt2-small")
a = ap.parse_args()
torch.set_num_threads(2)
PRESETS = {"tiny": dict(L=4, H=4, C=256, T=256), "gpt2-small": dict(L=12, H=12, C=768, T=512)}
TRAIN = {"tiny": (8, 256), "gpt2-small": (4, 512)}
V, PROMPT, NEW = 50257, 64, 128


def emit(metric, config, batch, value, samples):
    print(json.dumps(dict(metric=metric, config=config, batch=batch, value=value, samples=samples, torch=torch.__version__,
                          threads=torch.get_num_threads())), flush=True)


class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.attn, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.fc, self.fproj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x, cache=None):
        B, T, C = x.shape
        q, k, v = self.attn(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))
        if cache is not None:  # KV cache: (k, v) of the earlier positions
            if cache[0] is not None:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[0], cache[1] = k, v
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.shape[-1])
        Tk = k.shape[2]
        mask = torch.ones(T, Tk, dtype=torch.bool).tril(Tk - T)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(y)
        return x + self.fproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, L, H, C, T):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T + NEW + PROMPT, C)
        self.blocks = nn.ModuleList(Block(C, H) for _ in range(L))
        self.lnf = nn.LayerNorm(C)

    def forward(self, ids, past=0, caches=None, last_only=False):
        x = self.wte(ids) + self.wpe(torch.arange(past, past + ids.shape[1]))
        for i, b in enumerate(self.blocks):
            x = b(x, caches[i] if caches else None)
        x = self.lnf(x[:, -1:] if last_only else x)
        return x @ self.wte.weight.t()  # tied head


def train(name):
    B, T = TRAIN[name]
    torch.manual_seed(0)
    model = GPT2(**PRESETS[name]).train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    nod = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": nod, "weight_decay": 0.0}], lr=1e-4)
    x = torch.randint(0, V, (B, T))
    warm, reps = (1, 3) if a.quick or name == "gpt2-small" else (2, 5)
    times = []
    for i in range(warm + reps):
        t0 = time.perf_counter()
        logits = model(x)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), x[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        if i >= warm:
            times.append(time.perf_counter() - t0)
    emit("train_tokens_per_s", name, B, B * T / statistics.median(times), len(times))


@torch.no_grad()
def decode(name, B):
    torch.manual_seed(0)
    model = GPT2(**PRESETS[name]).eval()
    L = PRESETS[name]["L"]
    prompt = torch.randint(0, V, (B, PROMPT))

    def run():
        caches = [[None, None] for _ in range(L)]
        tok = model(prompt, 0, caches, last_only=True)[:, -1].argmax(-1, keepdim=True)
        for s in range(NEW - 1):
            tok = model(tok, PROMPT + s, caches, last_only=True)[:, -1].argmax(-1, keepdim=True)

    run()
    times = []
    for _ in range(2 if a.quick else 3):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    emit("decode_tokens_per_s", name, B, B * NEW / statistics.median(times), len(times))


n = 1024
x, y = torch.rand(n, n), torch.rand(n, n)
for _ in range(3):
    torch.mm(x, y)
ts = []
for _ in range(5 if a.quick else 15):
    t0 = time.perf_counter()
    torch.mm(x, y)
    ts.append(time.perf_counter() - t0)
emit("gemm_gflops", f"{n}^3", 1, 2 * n**3 / statistics.median(ts) / 1e9, len(ts))
for name in a.config.split(","):
    train(name)
    for b in (1, 16):
        decode(name, b)
