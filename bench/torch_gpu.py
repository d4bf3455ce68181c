#!/usr/bin/env python3
"""PyTorch baseline on the same GPU for bench/cuda.ts (same configs, same batch shapes, medians).

Usage: python3 bench/torch_gpu.py [--json] [--steps 10] [--small-batch 8] [--small-seq 1024]
Prints one JSON object per figure with --json: {metric, config, backend: "torch", precision, batch, seq, value, device}.
fp32 = TF32 off (torch default for matmul), tf32 = allow_tf32, bf16 = torch.autocast(bfloat16) with fp32 master weights.
"""
import argparse, json, statistics, time

import torch
from transformers import GPT2Config, GPT2LMHeadModel, GenerationConfig

ap = argparse.ArgumentParser()
ap.add_argument("--json", action="store_true")
ap.add_argument("--steps", type=int, default=10)
ap.add_argument("--small-batch", type=int, default=8)
ap.add_argument("--small-seq", type=int, default=1024)
a = ap.parse_args()
assert torch.cuda.is_available(), "no CUDA device visible to torch"
dev = torch.device("cuda")
DEVICE = torch.cuda.get_device_name(0)
PRESETS = {"tiny": dict(n_layer=4, n_head=4, n_embd=256, n_positions=256), "gpt2-small": dict(n_layer=12, n_head=12, n_embd=768, n_positions=1024)}


def emit(metric, config, precision, batch, seq, value):
    rec = dict(metric=metric, config=config, backend="torch", precision=precision, batch=batch, seq=seq, value=value, device=DEVICE,
               torch=torch.__version__)
    print(json.dumps(rec) if a.json else f"torch {config} {precision} {metric} b{batch}x{seq}: {value:.0f}", flush=True)


def model_for(name):
    cfg = GPT2Config(vocab_size=50257, activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     tie_word_embeddings=True, **PRESETS[name])
    torch.manual_seed(0)
    return GPT2LMHeadModel(cfg).to(dev).float()


def train(name, precision, B, T):
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    model = model_for(name).train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    nod = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": nod, "weight_decay": 0.0}], lr=1e-4)
    x = torch.randint(0, 50257, (B, T), device=dev)
    times = []
    for i in range(2 + a.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()  # the native core also reads the loss back every step
        torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    emit("train_tokens_per_s", name, precision, B, T, B * T / statistics.median(times))
    del model, opt
    torch.cuda.empty_cache()


def decode(prompt_len=64, new_tokens=128):
    torch.backends.cuda.matmul.allow_tf32 = False
    model = model_for("gpt2-small").eval()
    gc = GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, use_cache=True, pad_token_id=50256,
                          eos_token_id=None)
    times = []
    with torch.no_grad():
        for i in range(4):
            prompt = torch.randint(0, 50256, (1, prompt_len), device=dev)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), generation_config=gc)
            torch.cuda.synchronize()
            assert out.shape[1] == prompt_len + new_tokens
            if i > 0:
                times.append(time.perf_counter() - t0)
    emit("decode_tokens_per_s", "gpt2-small", "fp32", 1, prompt_len + new_tokens, new_tokens / statistics.median(times))


train("tiny", "fp32", 8, 256)
train("tiny", "tf32", 8, 256)
train("gpt2-small", "bf16", a.small_batch, a.small_seq)
train("gpt2-small", "fp32", a.small_batch, a.small_seq)
decode()
