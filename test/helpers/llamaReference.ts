import { archDims, type ModelConfig } from '../../src/arch/config.js';
import type { LlamaConfig } from '../../src/arch/llama.js';
import { loraScale, type LoraSpec } from '../../src/arch/lora.js';
import type { LabeledBatch, NamedTensors, TokenBatch } from '../../src/backend/types.js';
import { Rng } from '../../src/util/rng.js';

// A float64 Llama-family forward written from the HF modeling code (fixtures/modern/README.md's gotchas), for the
// shapes the HF fixtures do not cover: head_dim != hidden / heads, other GQA group sizes, q/k/v and o biases. Its
// loss, differentiated by central differences, checks a core's gradients; its logits are the model layer's reference
// core (reference-llama.ts). Plain loops: fixture-sized models only.

type Weights = Map<string, Float64Array>;

/** LoRA adapters (`<module>.lora_A.weight` [r, in], `.lora_B.weight` [out, r]), applied unmerged as PEFT does. */
export interface ReferenceAdapters {
  spec: LoraSpec;
  weights: Weights;
}

export function toFloat64(weights: NamedTensors): Weights {
  return new Map([...weights].map(([k, t]) => [k, Float64Array.from(t.data)]));
}

/**
 * Weights that make every piece visible (as the fixtures' are): norm weights 1 + 0.2N, embeddings and the head 0.1N,
 * biases 0.1N, other matrices 0.15N, from `seed`.
 */
export function visibleWeights(shapes: ReadonlyArray<{ name: string; shape: readonly number[] }>, seed: number): NamedTensors {
  const rng = new Rng(seed);
  const out: NamedTensors = new Map();
  for (const { name, shape } of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const norm = /norm\.weight$/.test(name);
    const std = norm ? 0.2 : /embed_tokens|lm_head|\.bias$/.test(name) ? 0.1 : 0.15;
    out.set(name, { shape: [...shape], data: Float32Array.from({ length: n }, () => (norm ? 1 : 0) + std * rng.normal()) });
  }
  return out;
}

/** out[r, :] = x[r, :] @ W^T + b for W [N, K] (nn.Linear), x [R, K]. */
function linear(x: Float64Array, R: number, K: number, W: Float64Array, N: number, b?: Float64Array): Float64Array {
  const out = new Float64Array(R * N);
  for (let r = 0; r < R; r++)
    for (let n = 0; n < N; n++) {
      let s = b ? b[n]! : 0;
      for (let k = 0; k < K; k++) s += x[r * K + k]! * W[n * K + k]!;
      out[r * N + n] = s;
    }
  return out;
}

/** In place, rows of width `width` (every `stride` floats, starting at `off`): x * rsqrt(mean(x^2) + eps) * w. */
function rmsnorm(x: Float64Array, rows: number, width: number, w: Float64Array, eps: number, stride = width, off = 0): void {
  for (let r = 0; r < rows; r++) {
    const o = off + r * stride;
    let ss = 0;
    for (let i = 0; i < width; i++) ss += x[o + i]! ** 2;
    const rs = 1 / Math.sqrt(ss / width + eps);
    for (let i = 0; i < width; i++) x[o + i] = x[o + i]! * rs * w[i]!;
  }
}

export interface ReferenceResult {
  /** [B, T, V] */
  logits: Float64Array;
  /** HF shifted loss: mean over labels[:, 1:] != -100; NaN without targets. */
  loss: number;
}

/** The forward (and, with labels, the loss) of `batch`; with adapters, y = W x + b + (alpha / r) B (A x) per module. */
export function llamaReference(config: ModelConfig, w: Weights, batch: TokenBatch & { labels?: Int32Array }, adapters?: ReferenceAdapters): ReferenceResult {
  const d = archDims(config);
  if (d.arch !== 'llama') throw new Error('the reference runs the Llama family only');
  const { batchSize: B, seqLen: T } = batch;
  const { hidden: C, heads: NH, kvHeads: NKV, headDim: HD, inner: F, vocab: V, eps } = d;
  const Q = NH * HD;
  const KV = NKV * HD;
  const BT = B * T;
  const get = (name: string): Float64Array => {
    const t = w.get(name);
    if (!t) throw new Error(`reference: no ${name}`);
    return t;
  };
  const opt = (name: string): Float64Array | undefined => w.get(name);
  const project = (x: Float64Array, K: number, module: string, N: number): Float64Array => {
    const y = linear(x, BT, K, get(`${module}.weight`), N, opt(`${module}.bias`));
    const A = adapters?.weights.get(`${module}.lora_A.weight`);
    const Bw = adapters?.weights.get(`${module}.lora_B.weight`);
    if (!adapters || !A || !Bw) return y;
    const r = adapters.spec.r;
    const bax = linear(linear(x, BT, K, A, r), BT, r, Bw, N);
    const scale = loraScale(adapters.spec);
    return y.map((v, i) => v + scale * bax[i]!);
  };
  const pos = (i: number): number => batch.positionIds?.[i] ?? i % T;
  const allowed = (b: number, t: number, j: number): boolean => j <= t && (batch.attentionMask?.[b * T + j] ?? 1) !== 0;
  const emb = get('model.embed_tokens.weight');
  let x = new Float64Array(BT * C);
  for (let i = 0; i < BT; i++) x.set(emb.subarray(batch.inputIds[i]! * C, (batch.inputIds[i]! + 1) * C), i * C);
  const invFreq = Array.from({ length: HD / 2 }, (_, i) => 1 / d.ropeTheta ** ((2 * i) / HD));
  const rope = (v: Float64Array, heads: number): void => {
    for (let i = 0; i < BT; i++)
      for (let h = 0; h < heads; h++) {
        const o = (i * heads + h) * HD;
        for (let k = 0; k < HD / 2; k++) {
          const a = pos(i) * invFreq[k]!;
          const x1 = v[o + k]!;
          const x2 = v[o + k + HD / 2]!;
          v[o + k] = x1 * Math.cos(a) - x2 * Math.sin(a);
          v[o + k + HD / 2] = x2 * Math.cos(a) + x1 * Math.sin(a);
        }
      }
  };
  for (let l = 0; l < d.layers; l++) {
    const p = (role: string): string => `model.layers.${l}.${role}`;
    const h = Float64Array.from(x);
    rmsnorm(h, BT, C, get(p('input_layernorm.weight')), eps);
    const q = project(h, C, p('self_attn.q_proj'), Q);
    const k = project(h, C, p('self_attn.k_proj'), KV);
    const v = project(h, C, p('self_attn.v_proj'), KV);
    if (d.qkNorm) {
      rmsnorm(q, BT * NH, HD, get(p('self_attn.q_norm.weight')), eps);
      rmsnorm(k, BT * NKV, HD, get(p('self_attn.k_norm.weight')), eps);
    }
    rope(q, NH);
    rope(k, NKV);
    const y = new Float64Array(BT * Q);
    for (let b = 0; b < B; b++)
      for (let hh = 0; hh < NH; hh++) {
        const kvh = Math.floor(hh / (NH / NKV));
        for (let t = 0; t < T; t++) {
          const scores = new Float64Array(T);
          let any = false;
          for (let j = 0; j < T; j++) {
            if (!allowed(b, t, j)) continue;
            any = true;
            let s = 0;
            for (let e = 0; e < HD; e++) s += q[((b * T + t) * NH + hh) * HD + e]! * k[((b * T + j) * NKV + kvh) * HD + e]!;
            scores[j] = s / Math.sqrt(HD);
          }
          // HF eager adds finfo.min to disallowed scores: a query with no allowed key attends uniformly to all T.
          const keys = Array.from({ length: T }, (_, j) => j).filter((j) => !any || allowed(b, t, j));
          const mx = Math.max(...keys.map((j) => scores[j]!));
          const e = keys.map((j) => Math.exp(scores[j]! - mx));
          const sum = e.reduce((a, c) => a + c, 0);
          keys.forEach((j, n) => {
            for (let c = 0; c < HD; c++) y[(b * T + t) * Q + hh * HD + c] += (e[n]! / sum) * v[((b * T + j) * NKV + kvh) * HD + c]!;
          });
        }
      }
    const o = project(y, Q, p('self_attn.o_proj'), C);
    x = x.map((val, i) => val + o[i]!);
    const h2 = Float64Array.from(x);
    rmsnorm(h2, BT, C, get(p('post_attention_layernorm.weight')), eps);
    const g = project(h2, C, p('mlp.gate_proj'), F);
    const u = project(h2, C, p('mlp.up_proj'), F);
    const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]!);
    const down = project(act, F, p('mlp.down_proj'), C);
    x = x.map((val, i) => val + down[i]!);
  }
  rmsnorm(x, BT, C, get('model.norm.weight'), eps);
  const logits = linear(x, BT, C, d.tied ? emb : get('lm_head.weight'), V);
  let total = 0;
  let count = 0;
  if (batch.labels) {
    for (let b = 0; b < B; b++)
      for (let t = 0; t + 1 < T; t++) {
        const lab = batch.labels[b * T + t + 1]!;
        if (lab === -100) continue;
        const row = logits.subarray((b * T + t) * V, (b * T + t + 1) * V);
        const mx = Math.max(...row);
        const lse = mx + Math.log(row.reduce((a, c) => a + Math.exp(c - mx), 0));
        total += lse - row[lab]!;
        count++;
      }
  }
  return { logits, loss: count ? total / count : Number.NaN };
}

/** d loss / d w[name][i] by central differences in float64 (restores the element). */
export function referenceGradient(config: LlamaConfig, w: Weights, batch: LabeledBatch, name: string, i: number, h = 1e-5): number {
  const t = w.get(name)!;
  const x0 = t[i]!;
  t[i] = x0 + h;
  const up = llamaReference(config, w, batch).loss;
  t[i] = x0 - h;
  const down = llamaReference(config, w, batch).loss;
  t[i] = x0;
  return (up - down) / (2 * h);
}
