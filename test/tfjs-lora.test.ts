import { describe, expect, it } from 'vitest';
import { isGPT2Config, type ModelConfig, parseGPT2Config } from '../src/arch/config.js';
import { initWeights } from '../src/arch/init.js';
import { parseLlamaConfig } from '../src/arch/llama.js';
import { initLoraWeights, loraLayout, type LoraSpec, loraScale, mergeLoraWeights, resolveLora } from '../src/arch/lora.js';
import { paramLayout } from '../src/arch/layout.js';
import { ModelConfigError, ShapeError } from '../src/errors.js';
import type { LabeledBatch, NamedTensors, TransformerCore } from '../src/backend/types.js';
import { createTfjsCore, type TfjsBackendName } from '../src/backend/tfjs/index.js';
import { tf } from '../src/backend/tfjs/runtime.js';
import { Rng } from '../src/util/rng.js';
import { maxAbs, maxAbsDiff } from './helpers/fixtures.js';

// LoRA on the tfjs core beyond the PEFT fixture (tfjs-lora-parity.test.ts covers llama against PEFT): GPT-2's Conv1D
// adapters (no PEFT fixture exists for them) by finite differences and by the chain rule through a merged plain
// core, Qwen2 (biases) and Qwen3 (q/k norms, untied head) the same way; the frozen base; B = 0; decoding; and that
// no weight gradient of a frozen matrix is ever computed.

// N = B*T = 22 tokens, head_dim 8 or 12: no activation or attention matmul has the shape of a weight (see the
// kernel test below).
const ARCHS: Record<string, ModelConfig> = {
  gpt2: parseGPT2Config({ vocab_size: 80, n_positions: 32, n_embd: 32, n_layer: 2, n_head: 4 }),
  qwen2: parseLlamaConfig({ model_type: 'qwen2', vocab_size: 80, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32, tie_word_embeddings: true }),
  qwen3: parseLlamaConfig({ model_type: 'qwen3', vocab_size: 96, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 12, max_position_embeddings: 32 }),
};
const BACKENDS: TfjsBackendName[] = ['cpu', 'wasm'];
const CASES = BACKENDS.flatMap((backend) => Object.keys(ARCHS).map((arch) => [backend, arch] as const));

function batchFrom(config: ModelConfig, seed: number, B = 2, T = 11): LabeledBatch {
  const rng = new Rng(seed);
  const inputIds = Int32Array.from({ length: B * T }, () => rng.int(config.vocab_size));
  return { batchSize: B, seqLen: T, inputIds, labels: Int32Array.from(inputIds, (x, i) => (i % T === 3 ? -100 : x)) };
}

/** PEFT's init with B = 0.1 N instead of zeros (as in the fixture), so that the A gradients are not zero. */
function liveAdapter(config: ModelConfig, spec: LoraSpec, seed: number): NamedTensors {
  const rng = new Rng(seed + 100);
  const w = initLoraWeights(config, spec, seed);
  for (const t of loraLayout(config, spec)) if (t.kind === 'B') w.get(t.name)!.data.forEach((_, i, d) => (d[i] = 0.1 * rng.normal()));
  return w;
}

const sameBits = (a: Float32Array, b: Float32Array): boolean => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

async function logitsOf(core: TransformerCore, batch: LabeledBatch): Promise<Float32Array> {
  const { logits } = await core.forward(batch);
  const data = (await logits.data()).slice();
  logits.dispose();
  return data;
}

/** a [m, k] x b [k, n], row-major, in float64. */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) out[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
  return out;
}
function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

/**
 * The adapter gradients implied by the full gradient G of the merged weight W' (chain rule): with G as [out, in]
 * (GPT-2's Conv1D gradient [in, out] transposed), dA = s B^T G and dB = s G A^T.
 */
function chainRuleGrads(config: ModelConfig, spec: LoraSpec, adapter: NamedTensors, full: NamedTensors): NamedTensors {
  const s = loraScale(spec);
  const out: NamedTensors = new Map();
  const layout = loraLayout(config, spec);
  for (let i = 0; i < layout.length; i += 2) {
    const [aSpec, bSpec] = [layout[i]!, layout[i + 1]!];
    const [r, inDim] = aSpec.shape as [number, number];
    const outDim = bSpec.shape[0]!;
    const g = isGPT2Config(config) ? transpose(full.get(aSpec.base)!.data, inDim, outDim) : full.get(aSpec.base)!.data;
    const A = adapter.get(aSpec.name)!.data;
    const B = adapter.get(bSpec.name)!.data;
    const dA = matmul(transpose(B, outDim, r), g, r, outDim, inDim).map((x) => x * s);
    const dB = matmul(g, transpose(A, r, inDim), outDim, inDim, r).map((x) => x * s);
    out.set(aSpec.name, { shape: [r, inDim], data: Float32Array.from(dA) });
    out.set(bSpec.name, { shape: [outDim, r], data: Float32Array.from(dB) });
  }
  return out;
}

describe.each(CASES)('tfjs-%s LoRA core (%s)', (backend, arch) => {
  const config = ARCHS[arch]!;
  const spec = resolveLora(config, { r: 4, alpha: 8 });
  const base = initWeights(config, 11);
  const adapter = liveAdapter(config, spec, 12);
  const batch = batchFrom(config, 13);
  const loraCore = (a: NamedTensors = adapter, b: NamedTensors = base): Promise<TransformerCore> => createTfjsCore(config, { backend, weights: b, lora: { spec, weights: a } });

  it('adapter gradients follow the chain rule through the merged model, and only the adapters get any', async () => {
    const core = await loraCore();
    const merged = await createTfjsCore(config, { backend, weights: mergeLoraWeights(config, spec, base, adapter) });
    try {
      const lossL = await core.accumulateGradients(batch);
      const lossM = await merged.accumulateGradients(batch);
      expect(Math.abs(lossL.loss - lossM.loss)).toBeLessThan(3e-5);
      const grads = await core.getGradients();
      expect([...grads.keys()]).toEqual(loraLayout(config, spec).map((t) => t.name));
      const want = chainRuleGrads(config, spec, adapter, await merged.getGradients());
      for (const [name, g] of grads) {
        const ref = want.get(name)!;
        expect(g.shape, name).toEqual(ref.shape);
        expect(maxAbs(ref.data), name).toBeGreaterThan(1e-4);
        expect(maxAbsDiff(g.data, ref.data), name).toBeLessThanOrEqual(2e-5 * maxAbs(ref.data) + 1e-9);
      }
    } finally {
      core.dispose();
      merged.dispose();
    }
  });

  it('merged weights give the adapter logits, in a forward pass and in KV-cache decoding', async () => {
    const core = await loraCore();
    const merged = await createTfjsCore(config, { backend, weights: mergeLoraWeights(config, spec, base, adapter) });
    try {
      const full = await logitsOf(core, batch);
      expect(maxAbsDiff(full, await logitsOf(merged, batch))).toBeLessThan(5e-5);
      // Decode row 0's first 6 tokens, then feed the rest one at a time: each step's logits are the forward's.
      const T = batch.seqLen;
      const V = config.vocab_size;
      const prompt = { batchSize: 1, seqLen: 6, inputIds: batch.inputIds.slice(0, 6) };
      const [sL, sM] = [await core.startDecode(prompt, { maxLength: T }), await merged.startDecode(prompt, { maxLength: T })];
      expect(maxAbsDiff(sL.lastLogits, full.subarray(5 * V, 6 * V))).toBeLessThan(5e-5);
      for (let t = 6; t < T; t++) {
        const [ids, pos] = [Int32Array.of(batch.inputIds[t]!), Int32Array.of(t)];
        const l = (await sL.step(ids, pos)).slice();
        expect(maxAbsDiff(l, full.subarray(t * V, (t + 1) * V)), `step ${t}`).toBeLessThan(5e-5);
        expect(maxAbsDiff(l, await sM.step(ids, pos)), `step ${t}`).toBeLessThan(5e-5);
      }
      sL.dispose();
      sM.dispose();
    } finally {
      core.dispose();
      merged.dispose();
    }
  });

  it('a fresh adapter (B = 0) gives exactly the base model: logits and decoding', async () => {
    const fresh = await createTfjsCore(config, { backend, weights: base, seed: 5, lora: { spec } });
    const plain = await createTfjsCore(config, { backend, weights: base });
    try {
      const w = await fresh.getWeights();
      for (const t of loraLayout(config, spec)) expect(maxAbs(w.get(t.name)!.data), t.name).toSatisfy((m: number) => (t.kind === 'B' ? m === 0 : m > 0));
      expect(sameBits(await logitsOf(fresh, batch), await logitsOf(plain, batch))).toBe(true);
      const prompt = { batchSize: 1, seqLen: 4, inputIds: batch.inputIds.slice(0, 4) };
      const [a, b] = [await fresh.startDecode(prompt, { maxLength: 6 }), await plain.startDecode(prompt, { maxLength: 6 })];
      expect(sameBits(a.lastLogits, b.lastLogits)).toBe(true);
      expect(sameBits((await a.step(Int32Array.of(3), Int32Array.of(4))).slice(), await b.step(Int32Array.of(3), Int32Array.of(4)))).toBe(true);
      a.dispose();
      b.dispose();
    } finally {
      fresh.dispose();
      plain.dispose();
    }
  });

  it('several train steps move the adapters only: the base stays bit-identical, the caller’s arrays untouched', async () => {
    const copy = new Map([...base].map(([k, t]) => [k, { shape: [...t.shape], data: t.data.slice() }]));
    const core = await loraCore(adapter, copy);
    try {
      for (let i = 0; i < 4; i++) await core.trainStep(batchFrom(config, 20 + i), { lr: 1e-2, weightDecay: 0.1 });
      const after = await core.getBaseWeights!();
      expect([...after.keys()]).toEqual(paramLayout(config).map((s) => s.name));
      for (const [name, t] of base) {
        expect(sameBits(after.get(name)!.data, t.data), name).toBe(true);
        expect(sameBits(copy.get(name)!.data, t.data), name).toBe(true);
      }
      const moved = await core.getWeights();
      expect([...moved.keys()]).toEqual([...adapter.keys()]);
      for (const [name, t] of adapter) expect(maxAbsDiff(moved.get(name)!.data, t.data), name).toBeGreaterThan(1e-4);
      const state = await core.getOptimizerState();
      expect(state.step).toBe(4);
      expect([...state.m.keys()]).toEqual([...adapter.keys()]);
      expect([...state.v.keys()]).toEqual([...adapter.keys()]);
      // The state round-trips through a fresh LoRA core: the next step is the same on both.
      const twin = await loraCore(moved);
      await twin.setOptimizerState(state);
      const next = batchFrom(config, 30);
      const [r1, r2] = [await core.trainStep(next, { lr: 1e-2 }), await twin.trainStep(next, { lr: 1e-2 })];
      expect(r2.step).toBe(5);
      expect(r2.gradNorm).toBeCloseTo(r1.gradNorm, 6);
      const [w1, w2] = [await core.getWeights(), await twin.getWeights()];
      for (const [name, t] of w1) expect(maxAbsDiff(t.data, w2.get(name)!.data), name).toBeLessThan(1e-6);
      twin.dispose();
    } finally {
      core.dispose();
    }
  });

  it('runs no weight-gradient matmul, embedding scatter or bias/norm reduction for the frozen base', async () => {
    const layout = paramLayout(config);
    const matrices = layout.filter((s) => s.shape.length === 2);
    const weightShaped = new Set([...matrices.map((s) => s.shape.join('x')), ...matrices.map((s) => [...s.shape].reverse().join('x'))]);
    const vectorSizes = new Set(layout.filter((s) => s.shape.length === 1).map((s) => s.shape[0]!));
    /** Kernels that would compute a base gradient: a matmul or scatter shaped like a weight, a sum shaped like a bias or norm weight. */
    const baseGradKernels = async (core: TransformerCore): Promise<string[]> => {
      await core.loss(batch); // caches the transposed head outside the profile
      const info = await tf.profile(async () => {
        await core.accumulateGradients(batch);
        return [];
      });
      core.zeroGradients();
      return info.kernels
        .filter((k) => {
          const out = k.outputShapes[0] ?? [];
          if (/MatMul/.test(k.name)) return weightShaped.has(out.slice(-2).join('x'));
          if (k.name === 'ScatterNd') return weightShaped.has(out.join('x'));
          return k.name === 'Sum' && out.length === 1 && vectorSizes.has(out[0]!);
        })
        .map((k) => `${k.name}[${k.outputShapes[0]}]`);
    };
    const core = await loraCore();
    const plain = await createTfjsCore(config, { backend, weights: base });
    try {
      expect(await baseGradKernels(core)).toEqual([]);
      // The same filter finds the base gradients of a plain core: the check above can fail.
      const found = await baseGradKernels(plain);
      expect(found.filter((k) => k.startsWith('ScatterNd')).length).toBeGreaterThan(0);
      expect(found.filter((k) => /MatMul/.test(k)).length).toBeGreaterThanOrEqual(loraLayout(config, spec).length / 2);
      expect(found.filter((k) => k.startsWith('Sum')).length).toBeGreaterThan(0);
    } finally {
      core.dispose();
      plain.dispose();
    }
  });
});

describe('tfjs LoRA core (GPT-2): central finite differences on the Conv1D adapters', () => {
  const config = ARCHS.gpt2!;
  const spec = resolveLora(config, { r: 4, alpha: 8 });
  const base = initWeights(config, 21);
  const adapter = liveAdapter(config, spec, 22);
  const batch = batchFrom(config, 23);

  it('matches the backward pass on the largest and a random entry of every adapter tensor', async () => {
    const core = await createTfjsCore(config, { backend: 'cpu', weights: base, lora: { spec, weights: adapter } });
    try {
      await core.accumulateGradients(batch);
      const grads = await core.getGradients();
      const rng = new Rng(3);
      const h = 1e-2;
      for (const t of loraLayout(config, spec)) {
        const g = grads.get(t.name)!.data;
        let top = 0;
        for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[top]!)) top = i;
        for (const i of [top, rng.int(g.length)]) {
          const probe = async (delta: number): Promise<number> => {
            const w = new Map([...adapter].map(([k, v]) => [k, { shape: v.shape, data: v.data.slice() }]));
            w.get(t.name)!.data[i]! += delta;
            await core.setWeights(w);
            return (await core.loss(batch)).loss;
          };
          const fd = ((await probe(h)) - (await probe(-h))) / (2 * h);
          // The float32 loss (~4.4) rounds to ~3e-7, over 2h: ~2e-5; measured worst |fd - g| 6.5e-5 at |g| = 6.8e-2
          // (h = 3e-3 gives no better: round-off dominates). A wrong scale or a dropped term is off by ~|g|.
          expect(Math.abs(fd - g[i]!), `${t.name}[${i}]: fd ${fd} vs ${g[i]}`).toBeLessThan(6e-5 + 3e-3 * Math.abs(g[i]!));
        }
      }
    } finally {
      core.dispose();
    }
  });
});

describe('tfjs LoRA core: bad input', () => {
  const config = ARCHS.qwen2!;
  const spec = resolveLora(config, { r: 2, alpha: 4, targets: ['q_proj', 'v_proj'] });
  it('refuses an unknown target, a missing adapter tensor and a wrongly shaped one, naming it', async () => {
    await expect(createTfjsCore(config, { backend: 'cpu', seed: 1, lora: { spec: { ...spec, targets: ['c_attn'] } } })).rejects.toThrow(ModelConfigError);
    const adapter = initLoraWeights(config, spec, 1);
    const name = 'model.layers.1.self_attn.v_proj.lora_B.weight';
    const missing = new Map(adapter);
    missing.delete(name);
    await expect(createTfjsCore(config, { backend: 'cpu', seed: 1, lora: { spec, weights: missing } })).rejects.toThrow(new RegExp(`${name} is missing`));
    const wrong = new Map(adapter).set(name, { shape: [2, 16], data: new Float32Array(32) });
    await expect(createTfjsCore(config, { backend: 'cpu', seed: 1, lora: { spec, weights: wrong } })).rejects.toThrow(ShapeError);
  });

  it('targets only the named projections: q and v adapters, nothing else trains', async () => {
    const core = await createTfjsCore(config, { backend: 'cpu', seed: 1, lora: { spec } });
    try {
      expect(core.lora).toEqual(spec);
      await core.accumulateGradients(batchFrom(config, 1));
      expect([...(await core.getGradients()).keys()].every((k) => /\.(q|v)_proj\.lora_[AB]\.weight$/.test(k))).toBe(true);
      expect((await core.getGradients()).size).toBe(2 * 2 * 2);
    } finally {
      core.dispose();
    }
  });
});
