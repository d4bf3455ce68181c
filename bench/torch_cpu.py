#!/usr/bin/env python3
"""Same-run PyTorch CPU baseline for bench/run.ts (TORCH_PY=python3 npm run bench).

Plain PyTorch, no transformers: a minimal GPT-2 (pre-LN blocks, gelu tanh, tied head, causal
attention written as matmul + mask + softmax so it runs on torch 1.13 without SDPA) with the bench's
shapes and protocol, and for smollm2-135m a minimal Llama of SmolLM2-135M's shape written the same way
(RMSNorm, rotate_half RoPE, 9 query heads over 3 KV heads by repeat_interleave, SwiGLU, tied head). It is "PyTorch", not "HF transformers": the re-measured baseline file
(torch 2.13 + HF, SDPA attention, HF generate) is a different program and stays the reference for
the ratios; these figures show how far this machine's state moved since then.

Usage: python3 bench/torch_cpu.py [--quick] [--config tiny,gpt2-small,smollm2-135m]
Prints one JSON object per figure: {metric, config, batch, value, samples, torch, threads}.

Fine-tuning section (bench/finetune.ts; one case per process, so ru_maxrss is the case's peak):
  python3 bench/torch_cpu.py --finetune --config qwen3-0.6b --mode full|lora --batch 4 --seq 512 [--warmup 1] [--reps 3]
  [--max-seconds 300] prints {metric: "finetune", tokens_per_s, peak_rss_bytes, samples, ...}. The LoRA is plain torch
written as PEFT's LoraLayer computes it (lora_dropout 0: base(x) + lora_B(lora_A(x)) * alpha / r, A kaiming-uniform,
B zero), every base parameter frozen, requires_grad on A and B only, AdamW and clipping over those: PEFT itself is not
installed with Debian's torch.
"""
import argparse, json, math, resource, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true")
ap.add_argument("--config", default="tiny,gpt2-small")
ap.add_argument("--finetune", action="store_true")
ap.add_argument("--mode", choices=["full", "lora"], default="full")
ap.add_argument("--batch", type=int, default=1)
ap.add_argument("--seq", type=int, default=512)
ap.add_argument("--warmup", type=int, default=1)
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--max-seconds", type=float, default=300)
a = ap.parse_args()
torch.set_num_threads(2)
PRESETS = {"tiny": dict(L=4, H=4, C=256, T=256), "gpt2-small": dict(L=12, H=12, C=768, T=512)}
# bench/configs.ts: a random-init Llama of SmolLM2-135M's shape.
LLAMA = {
    "smollm2-135m": dict(V=49152, C=576, L=30, H=9, KV=3, HD=64, F=1536, theta=1e5, eps=1e-5),
    # Qwen3-0.6B's shape: q/k RMSNorm over each head before RoPE.
    "qwen3-0.6b": dict(V=151936, C=1024, L=28, H=16, KV=8, HD=128, F=3072, theta=1e6, eps=1e-6, qk_norm=True),
}
LORA = dict(r=16, alpha=32)  # bench/configs.ts LORA_BENCH
TRAIN = {"tiny": (8, 256), "gpt2-small": (4, 512), "smollm2-135m": (4, 512)}
GPT2_V, PROMPT, NEW = 50257, 64, 128


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
        self.wte, self.wpe = nn.Embedding(GPT2_V, C), nn.Embedding(T + NEW + PROMPT, C)
        self.blocks = nn.ModuleList(Block(C, H) for _ in range(L))
        self.lnf = nn.LayerNorm(C)

    def forward(self, ids, past=0, caches=None, last_only=False):
        x = self.wte(ids) + self.wpe(torch.arange(past, past + ids.shape[1]))
        for i, b in enumerate(self.blocks):
            x = b(x, caches[i] if caches else None)
        x = self.lnf(x[:, -1:] if last_only else x)
        return x @ self.wte.weight.t()  # tied head


class RMSNorm(nn.Module):
    def __init__(self, C, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(C)), eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rope(x, cos, sin):  # HF rotate_half: dimension i pairs with i + head_dim / 2
    h = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., h:], x[..., :h]), -1) * sin


class LlamaBlock(nn.Module):
    def __init__(self, C, H, KV, HD, F, eps, qk_norm=False, **_):
        super().__init__()
        self.H, self.KV, self.HD = H, KV, HD
        self.ln1, self.ln2 = RMSNorm(C, eps), RMSNorm(C, eps)
        self.qn, self.kn = (RMSNorm(HD, eps), RMSNorm(HD, eps)) if qk_norm else (nn.Identity(), nn.Identity())
        self.q, self.k, self.v = nn.Linear(C, H * HD, bias=False), nn.Linear(C, KV * HD, bias=False), nn.Linear(C, KV * HD, bias=False)
        self.o = nn.Linear(H * HD, C, bias=False)
        self.gate, self.up, self.down = nn.Linear(C, F, bias=False), nn.Linear(C, F, bias=False), nn.Linear(F, C, bias=False)

    def forward(self, x, cos, sin, cache=None):
        B, T, _ = x.shape
        h = self.ln1(x)
        q = rope(self.qn(self.q(h).view(B, T, self.H, self.HD)).transpose(1, 2), cos, sin)
        k = rope(self.kn(self.k(h).view(B, T, self.KV, self.HD)).transpose(1, 2), cos, sin)
        v = self.v(h).view(B, T, self.KV, self.HD).transpose(1, 2)
        if cache is not None:  # KV cache (keys after RoPE)
            if cache[0] is not None:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[0], cache[1] = k, v
        g = self.H // self.KV
        k, v = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.HD)
        Tk = k.shape[2]
        mask = torch.ones(T, Tk, dtype=torch.bool).tril(Tk - T)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        x = x + self.o((att @ v).transpose(1, 2).reshape(B, T, self.H * self.HD))
        h = self.ln2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self, V, C, L, HD, theta, eps, **kw):
        super().__init__()
        self.embed = nn.Embedding(V, C)
        self.blocks = nn.ModuleList(LlamaBlock(C=C, HD=HD, eps=eps, **kw) for _ in range(L))
        self.norm = RMSNorm(C, eps)
        self.register_buffer("inv_freq", 1.0 / theta ** (torch.arange(0, HD, 2).float() / HD), persistent=False)

    def forward(self, ids, past=0, caches=None, last_only=False):
        freqs = torch.arange(past, past + ids.shape[1]).float()[:, None] * self.inv_freq[None]
        emb = torch.cat((freqs, freqs), -1)
        cos, sin = emb.cos(), emb.sin()
        x = self.embed(ids)
        for i, b in enumerate(self.blocks):
            x = b(x, cos, sin, caches[i] if caches else None)
        x = self.norm(x[:, -1:] if last_only else x)
        return x @ self.embed.weight.t()  # tied head


def make(name):
    """The model, its vocabulary and its layer count."""
    if name in LLAMA:
        c = LLAMA[name]
        return Llama(**c), c["V"], c["L"]
    return GPT2(**PRESETS[name]), GPT2_V, PRESETS[name]["L"]


def train(name):
    B, T = TRAIN[name]
    torch.manual_seed(0)
    model, V, _ = make(name)
    model.train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    nod = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": nod, "weight_decay": 0.0}], lr=1e-4)
    x = torch.randint(0, V, (B, T))
    warm, reps = (1, 3) if a.quick or name != "tiny" else (2, 5)
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
    model, V, L = make(name)
    model.eval()
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


class LoraLinear(nn.Module):
    """PEFT's LoRA on an nn.Linear, lora_dropout 0: base(x) + lora_B(lora_A(x)) * alpha / r; the base stays frozen."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base, self.scaling = base, alpha / r
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


def finetune():
    """One case of the fine-tuning section: full fine-tuning or LoRA on every projection, tokens/s and peak RSS."""
    name, B, T = a.config, a.batch, a.seq
    torch.manual_seed(0)
    model, V, _ = make(name)
    model.train()
    if a.mode == "lora":
        for p in model.parameters():
            p.requires_grad_(False)
        for blk in model.blocks:
            for proj in ("q", "k", "v", "o", "gate", "up", "down"):
                setattr(blk, proj, LoraLinear(getattr(blk, proj), **LORA))
        trained = [p for p in model.parameters() if p.requires_grad]
        groups = [{"params": trained, "weight_decay": 0.01}]  # A and B are 2-D: decayed, as in the PEFT fixture
    else:
        trained = list(model.parameters())
        groups = [{"params": [p for p in trained if p.dim() >= 2], "weight_decay": 0.01},
                  {"params": [p for p in trained if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-4)
    x = torch.randint(0, V, (B, T))
    times, cpu, start = [], 0.0, time.perf_counter()
    for i in range(a.warmup + a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        logits = model(x)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), x[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        del logits, loss
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
            cpu += time.process_time() - c0
            if time.perf_counter() - start > a.max_seconds:
                break
    print(json.dumps(dict(metric="finetune", config=name, mode=a.mode, batch=B, seq=T, tokens_per_s=B * T / statistics.median(times),
                          samples=len(times), step_seconds=times, cpu_seconds_per_step=cpu / len(times), peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                          torch=torch.__version__, threads=torch.get_num_threads())), flush=True)


if a.finetune:
    finetune()
    raise SystemExit(0)

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
for name in filter(None, a.config.split(",")):
    train(name)
    for b in (1, 16):
        decode(name, b)
