import { archDims, type ArchDims, type ModelConfig } from '../../src/arch/config.js';
import { initWeights } from '../../src/arch/init.js';
import { initLoraWeights, loraScale, type LoraSpec } from '../../src/arch/lora.js';
import type { BackendReport, CoreInfo, DecodeSession, ForwardResult, NamedTensors, TokenBatch, TransformerCore } from '../../src/backend/types.js';

/**
 * A plain float64 JS forward of the Llama family (RMSNorm, RoPE with rotate_half, GQA, optional q/k/v biases and
 * q/k norms, SwiGLU, tied or untied head), inference only, as HF computes it: the model layer's tests (loading,
 * generation, saving) run on it while no production core runs these models. Slow and simple on purpose; its logits
 * are checked against the HF fixture before anything else relies on it. Decoding re-runs the whole sequence.
 * With `lora` it runs PEFT's unmerged forward, y = W x + (alpha / r) B (A x), over a frozen base: getWeights /
 * setWeights then cover the adapter tensors, getBaseWeights the base (the model layer's adapter tests run on it).
 */
export class ReferenceLlamaCore implements TransformerCore {
  readonly info: CoreInfo = { implementation: 'tfjs', backend: 'reference-f64', device: 'cpu' };
  private readonly d: ArchDims;
  private weights: NamedTensors;
  private adapters: NamedTensors | undefined;
  readonly lora?: LoraSpec;

  constructor(
    readonly config: ModelConfig,
    weights: NamedTensors,
    lora?: { spec: LoraSpec; weights: NamedTensors },
  ) {
    this.d = archDims(config);
    if (this.d.arch !== 'llama') throw new Error('the reference core runs the Llama family only');
    this.weights = copy(weights);
    if (lora) {
      this.lora = lora.spec;
      this.adapters = copy(lora.weights);
    }
  }

  async forward(batch: TokenBatch): Promise<ForwardResult> {
    const { batchSize: B, seqLen: T } = batch;
    const V = this.d.vocab;
    const out = new Float32Array(B * T * V);
    for (let b = 0; b < B; b++) {
      const row = (a: ArrayLike<number> | undefined, fill: (t: number) => number): number[] => Array.from({ length: T }, (_, t) => (a ? a[b * T + t]! : fill(t)));
      const logits = this.rowLogits(row(batch.inputIds, () => 0), row(batch.positionIds, (t) => t), row(batch.attentionMask, () => 1));
      out.set(logits, b * T * V);
    }
    return { logits: { shape: [B, T, V], data: async () => out, dispose: () => {} } };
  }

  async startDecode(prompt: TokenBatch): Promise<DecodeSession> {
    const { batchSize: B, seqLen: T } = prompt;
    const V = this.d.vocab;
    const rows = (a: ArrayLike<number>): number[][] => Array.from({ length: B }, (_, b) => Array.from(a).slice(b * T, (b + 1) * T));
    const ids = rows(prompt.inputIds);
    const mask = prompt.attentionMask ? rows(prompt.attentionMask) : ids.map((r) => r.map(() => 1));
    const pos = prompt.positionIds ? rows(prompt.positionIds) : ids.map((r) => r.map((_, t) => t));
    const last = (): Float32Array => {
      const out = new Float32Array(B * V);
      for (let b = 0; b < B; b++) out.set(this.rowLogits(ids[b]!, pos[b]!, mask[b]!).subarray((ids[b]!.length - 1) * V), b * V);
      return out;
    };
    const session = {
      batchSize: B,
      length: T,
      lastLogits: last(),
      async step(tokens: Int32Array, positions: Int32Array): Promise<Float32Array> {
        for (let b = 0; b < B; b++) {
          ids[b]!.push(tokens[b]!);
          mask[b]!.push(1);
          pos[b]!.push(positions[b]!);
        }
        session.length++;
        session.lastLogits = last();
        return session.lastLogits;
      },
      dispose() {},
    };
    return session;
  }

  /** Logits [T * V] of one row. */
  private rowLogits(ids: number[], positions: number[], mask: number[]): Float32Array {
    const { hidden: C, heads: H, kvHeads: KV, headDim: hd, eps, layers, vocab: V } = this.d;
    const T = ids.length;
    const w = (name: string): Float32Array => this.weights.get(name)!.data;
    const has = (name: string): boolean => this.weights.has(name);
    const emb = w('model.embed_tokens.weight');
    let x = ids.map((id) => Float64Array.from(emb.subarray(id * C, (id + 1) * C)));
    for (let l = 0; l < layers; l++) {
      const p = `model.layers.${l}.`;
      const h = x.map((r) => rms(r, w(`${p}input_layernorm.weight`), eps));
      const proj = (name: string, rows: Float64Array[], out: number): Float64Array[] =>
        rows.map((r) => this.withLora(`${p}${name}`, r, linear(r, w(`${p}${name}.weight`), out, has(`${p}${name}.bias`) ? w(`${p}${name}.bias`) : undefined)));
      const q = proj('self_attn.q_proj', h, H * hd);
      const k = proj('self_attn.k_proj', h, KV * hd);
      const v = proj('self_attn.v_proj', h, KV * hd);
      for (let t = 0; t < T; t++) {
        for (let hh = 0; hh < H; hh++) this.rotate(q[t]!, hh * hd, positions[t]!, has(`${p}self_attn.q_norm.weight`) ? w(`${p}self_attn.q_norm.weight`) : undefined);
        for (let hh = 0; hh < KV; hh++) this.rotate(k[t]!, hh * hd, positions[t]!, has(`${p}self_attn.k_norm.weight`) ? w(`${p}self_attn.k_norm.weight`) : undefined);
      }
      const attn = Array.from({ length: T }, () => new Float64Array(H * hd));
      for (let t = 0; t < T; t++) {
        for (let hh = 0; hh < H; hh++) {
          const kv = Math.floor(hh / (H / KV));
          const scores: number[] = [];
          for (let j = 0; j <= t; j++) {
            if (mask[j] !== 1) continue;
            let s = 0;
            for (let i = 0; i < hd; i++) s += q[t]![hh * hd + i]! * k[j]![kv * hd + i]!;
            scores.push(j, s / Math.sqrt(hd));
          }
          let mx = -Infinity;
          for (let n = 1; n < scores.length; n += 2) mx = Math.max(mx, scores[n]!);
          let sum = 0;
          for (let n = 1; n < scores.length; n += 2) sum += (scores[n] = Math.exp(scores[n]! - mx));
          for (let n = 0; n < scores.length; n += 2) {
            const j = scores[n]!;
            const a = scores[n + 1]! / sum;
            for (let i = 0; i < hd; i++) attn[t]![hh * hd + i] += a * v[j]![kv * hd + i]!;
          }
        }
      }
      const o = proj('self_attn.o_proj', attn, C);
      x = x.map((r, t) => r.map((val, i) => val + o[t]![i]!));
      const h2 = x.map((r) => rms(r, w(`${p}post_attention_layernorm.weight`), eps));
      const gate = proj('mlp.gate_proj', h2, this.d.inner);
      const up = proj('mlp.up_proj', h2, this.d.inner);
      const act = gate.map((g, t) => g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[t]![i]!));
      const down = proj('mlp.down_proj', act, C);
      x = x.map((r, t) => r.map((val, i) => val + down[t]![i]!));
    }
    const head = has('lm_head.weight') ? w('lm_head.weight') : emb;
    const out = new Float32Array(T * V);
    x.forEach((r, t) => out.set(linear(rms(r, w('model.norm.weight'), eps), head, V), t * V));
    return out;
  }

  /** y + (alpha / r) B (A x) when `module` carries an adapter (computed unmerged, as PEFT does). */
  private withLora(module: string, x: Float64Array, y: Float64Array): Float64Array {
    const A = this.adapters?.get(`${module}.lora_A.weight`);
    const B = this.adapters?.get(`${module}.lora_B.weight`);
    if (!A || !B || !this.lora) return y;
    const r = this.lora.r;
    const ax = linear(x, A.data, r);
    const bax = linear(ax, B.data, y.length);
    const scale = loraScale(this.lora);
    return y.map((v, i) => v + scale * bax[i]!);
  }

  /** q/k norm (Qwen3) then RoPE, in place, for one head starting at `at`. */
  private rotate(vec: Float64Array, at: number, position: number, norm: Float32Array | undefined): void {
    const hd = this.d.headDim;
    if (norm) vec.set(rms(vec.subarray(at, at + hd), norm, this.d.eps), at);
    const half = hd / 2;
    for (let i = 0; i < half; i++) {
      const angle = position * this.d.ropeTheta ** (-(2 * i) / hd);
      const a = vec[at + i]!;
      const b = vec[at + i + half]!;
      vec[at + i] = a * Math.cos(angle) - b * Math.sin(angle);
      vec[at + i + half] = b * Math.cos(angle) + a * Math.sin(angle);
    }
  }

  async getWeights(): Promise<NamedTensors> {
    return copy(this.adapters ?? this.weights);
  }
  async getBaseWeights(): Promise<NamedTensors> {
    return copy(this.weights);
  }
  async setWeights(weights: NamedTensors): Promise<void> {
    if (this.adapters) this.adapters = copy(weights);
    else this.weights = copy(weights);
  }
  memory() {
    return { bytes: [...this.weights.values()].reduce((n, t) => n + t.data.byteLength, 0) };
  }
  dispose(): void {}

  loss(): never {
    return inferenceOnly();
  }
  accumulateGradients(): never {
    return inferenceOnly();
  }
  getGradients(): never {
    return inferenceOnly();
  }
  zeroGradients(): never {
    return inferenceOnly();
  }
  applyOptimizer(): never {
    return inferenceOnly();
  }
  trainStep(): never {
    return inferenceOnly();
  }
  getOptimizerState(): never {
    return inferenceOnly();
  }
  setOptimizerState(): never {
    return inferenceOnly();
  }
}

function inferenceOnly(): never {
  throw new Error('the reference Llama core is inference only');
}

function copy(weights: NamedTensors): NamedTensors {
  return new Map([...weights].map(([k, t]) => [k, { shape: [...t.shape], data: Float32Array.from(t.data) }]));
}

function rms(x: Float64Array, weight: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const scale = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * scale * weight[i]!);
}

/** y = W x (+ b) with W [out, in], as nn.Linear stores it. */
function linear(x: Float64Array, weight: Float32Array, out: number, bias?: Float32Array): Float64Array {
  const n = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = bias ? bias[o]! : 0;
    for (let i = 0; i < n; i++) s += weight[o * n + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

/** A BackendReport whose cores are reference cores (weights given, or the seeded init). */
export const referenceBackend: BackendReport = {
  backend: 'reference-f64',
  implementation: 'tfjs',
  device: 'cpu',
  versions: {},
  skipped: [],
  summary: 'float64 JS reference of the Llama family (tests only)',
  createCore: async (config, init) =>
    new ReferenceLlamaCore(
      config,
      init?.weights ?? initWeights(config, init?.seed ?? 0),
      init?.lora ? { spec: init.lora.spec, weights: init.lora.weights ?? initLoraWeights(config, init.lora.spec, init.seed ?? 0) } : undefined,
    ),
};
