import { beforeAll, describe, expect, it } from 'vitest';
import { archDims, type ModelConfig } from '../src/arch/config.js';
import { isNormWeight, numel, paramLayout } from '../src/arch/layout.js';
import { parseLlamaConfig } from '../src/arch/llama.js';
import type { LabeledBatch, NamedTensors, TransformerCore } from '../src/backend/types.js';
import { createTfjsCore, type TfjsBackendName } from '../src/backend/tfjs/index.js';
import { Rng } from '../src/util/rng.js';
import { maxAbs, maxAbsDiff } from './helpers/fixtures.js';
import { llamaReference, toFloat64 } from './helpers/llamaReference.js';
import { hasModernFixtures, loadModernFixture, MODERN_MODELS } from './helpers/modern.js';

// Shapes the HF fixtures lack: the forward against a naive float64 reference (test/helpers/llama-reference.ts),
// every gradient tensor against central finite differences of the core's own loss, and KV-cache decode against a
// full forward.
// - qwen2: 6 query heads over 2 KV heads, head_dim 12 != 48 / 6, q/k/v biases, untied head;
// - llama with attention_bias: q/k/v and o biases, plain multi-head attention (kv heads = heads), head_dim 16 != 32 / 4, tied;
// - qwen3: q/k norms with 6 heads over 3 KV heads, head_dim 10 != 36 / 6, untied.
const base = { vocab_size: 40, intermediate_size: 56, num_hidden_layers: 2, max_position_embeddings: 64, rms_norm_eps: 1e-5 };
const CONFIGS: Record<string, ModelConfig> = {
  qwen2: parseLlamaConfig({ ...base, model_type: 'qwen2', hidden_size: 48, num_attention_heads: 6, num_key_value_heads: 2, head_dim: 12, rope_theta: 1e4 }),
  'llama+bias': parseLlamaConfig({ ...base, model_type: 'llama', hidden_size: 32, num_attention_heads: 4, head_dim: 16, attention_bias: true, tie_word_embeddings: true, rope_theta: 5e5 }),
  qwen3: parseLlamaConfig({ ...base, model_type: 'qwen3', hidden_size: 36, num_attention_heads: 6, num_key_value_heads: 3, head_dim: 10, rope_parameters: { rope_theta: 1e6, rope_type: 'default' } }),
};

/** Fixture-style weights (norms 1 + 0.2N, matrices 0.15N, biases 0.1N) so that every path carries signal. */
function weightsFor(config: ModelConfig, seed: number): NamedTensors {
  const rng = new Rng(seed);
  const out: NamedTensors = new Map();
  for (const spec of paramLayout(config)) {
    const [mean, std] = isNormWeight(spec) ? [1, 0.2] : spec.shape.length >= 2 ? [0, 0.15] : [0, 0.1];
    out.set(spec.name, { shape: [...spec.shape], data: Float32Array.from({ length: numel(spec.shape) }, () => mean + std * rng.normal()) });
  }
  return out;
}

/**
 * Two rows of 10, the second left-padded by 3 (HF position ids: cumsum(mask) - 1, pads 0; pad labels -100). The
 * first real token of that row is not a target either: the last pad, whose query sees no key, would predict it, and
 * with finfo.min masks its attention is uniform whatever the scores, so its loss has a gradient by autograd (torch's
 * and ours) that a finite difference does not see.
 */
function paddedBatch(vocab: number, rng: Rng): LabeledBatch {
  const T = 10;
  const pad = 3;
  const inputIds = Int32Array.from({ length: 2 * T }, () => rng.int(vocab));
  const attentionMask = Uint8Array.from({ length: 2 * T }, (_, i) => (i >= T && i - T < pad ? 0 : 1));
  const positionIds = Int32Array.from({ length: 2 * T }, (_, i) => (i < T ? i : Math.max(0, i - T - pad)));
  const labels = Int32Array.from(inputIds, (x, i) => (attentionMask[i] && i !== T + pad ? x : -100));
  return { batchSize: 2, seqLen: T, inputIds, attentionMask, positionIds, labels };
}

const withEntry = (w: NamedTensors, name: string, i: number, delta: number): NamedTensors => {
  const t = w.get(name)!;
  const data = t.data.slice();
  data[i]! += delta;
  return new Map(w).set(name, { shape: t.shape, data });
};

describe.skipIf(!hasModernFixtures).each(MODERN_MODELS)('the float64 reference itself on the HF fixture %s', (name) => {
  it('reproduces HF logits at the last 4 real positions', async () => {
    const fx = await loadModernFixture(name);
    const ref = llamaReference(fx.config, toFloat64(fx.weights), fx.batch).logits;
    const V = fx.config.vocab_size;
    const T = fx.batch.seqLen;
    const hf = fx.outputs.get('logits_last4_real')!.data as Float32Array;
    const picked = new Float64Array(hf.length);
    fx.batchJson.last4_real_positions.forEach((positions, b) =>
      positions.forEach((t, k) => picked.set(ref.subarray((b * T + t) * V, (b * T + t + 1) * V), (b * 4 + k) * V)),
    );
    expect(maxAbsDiff(picked, hf)).toBeLessThan(5e-5);
  });
});

describe.each<TfjsBackendName>(['cpu', 'wasm'])('tfjs-%s Llama family on shapes the fixtures lack', (backend) => {
  describe.each(Object.keys(CONFIGS))('%s', (key) => {
    const config = CONFIGS[key]!;
    const weights = weightsFor(config, 11);
    let core: TransformerCore;
    beforeAll(async () => {
      core = await createTfjsCore(config, { backend, weights });
      return () => core.dispose();
    });

    it('forward logits match a naive float64 reference, left-padded', async () => {
      const batch = paddedBatch(config.vocab_size, new Rng(3));
      const { logits } = await core.forward(batch);
      const got = await logits.data();
      logits.dispose();
      const ref = llamaReference(config, toFloat64(weights), batch).logits;
      expect(maxAbs(ref)).toBeGreaterThan(1); // the reference carries signal at this scale
      expect(maxAbsDiff(got, ref)).toBeLessThan(5e-5);
    });

    it('every gradient matches central finite differences of the loss', async () => {
      const batch = paddedBatch(config.vocab_size, new Rng(3));
      core.zeroGradients();
      await core.accumulateGradients(batch);
      const grads = await core.getGradients();
      core.zeroGradients();
      expect([...grads.keys()]).toEqual(paramLayout(config).map((s) => s.name));
      // h = 1e-2: the float32 loss (about 4) rounds at ~5e-7, so the quotient's noise is ~5e-5; truncation is ~h^2.
      const h = 1e-2;
      const rng = new Rng(5);
      for (const [name, g] of grads) {
        const scale = maxAbs(g.data);
        expect(scale, `${name} carries a gradient`).toBeGreaterThan(1e-4);
        let argmax = 0;
        g.data.forEach((x, i) => Math.abs(x) > Math.abs(g.data[argmax]!) && (argmax = i));
        for (const i of [argmax, rng.int(g.data.length), rng.int(g.data.length)]) {
          await core.setWeights(withEntry(weights, name, i, h));
          const up = (await core.loss(batch)).loss;
          await core.setWeights(withEntry(weights, name, i, -h));
          const down = (await core.loss(batch)).loss;
          const fd = (up - down) / (2 * h);
          expect(Math.abs(fd - g.data[i]!), `${name}[${i}]: analytic ${g.data[i]}, finite difference ${fd}`).toBeLessThan(2e-4 + 0.01 * Math.abs(g.data[i]!));
        }
      }
      await core.setWeights(weights);
    });

    it('KV-cache decode gives the same last logits as a forward over the whole sequence, left-padded', async () => {
      const V = archDims(config).vocab;
      const rng = new Rng(9);
      const full = paddedBatch(V, rng); // prompt = first 6 columns, then 4 decoded columns
      const T = full.seqLen;
      const P = 6;
      const cols = (a: Int32Array | Uint8Array, from: number, to: number): number[] => [0, 1].flatMap((b) => Array.from(a.subarray(b * T + from, b * T + to)));
      const prompt = { batchSize: 2, seqLen: P, inputIds: Int32Array.from(cols(full.inputIds, 0, P)), attentionMask: Uint8Array.from(cols(full.attentionMask!, 0, P)), positionIds: Int32Array.from(cols(full.positionIds!, 0, P)) };
      const session = await core.startDecode(prompt, { maxLength: T });
      let last = session.lastLogits;
      for (let t = P; t <= T; t++) {
        const lengths = { batchSize: 2, seqLen: t, inputIds: Int32Array.from(cols(full.inputIds, 0, t)), attentionMask: Uint8Array.from(cols(full.attentionMask!, 0, t)), positionIds: Int32Array.from(cols(full.positionIds!, 0, t)) };
        const f = await core.forward(lengths);
        const all = await f.logits.data();
        f.logits.dispose();
        for (let b = 0; b < 2; b++) {
          const ref = all.subarray((b * t + t - 1) * V, (b * t + t) * V);
          const got = last.subarray(b * V, (b + 1) * V);
          let worst = 0;
          for (let j = 0; j < V; j++) worst = Math.max(worst, Math.abs(got[j]! - ref[j]!));
          expect(worst, `row ${b}, length ${t}`).toBeLessThan(5e-5);
        }
        if (t < T) last = await session.step(Int32Array.from(cols(full.inputIds, t, t + 1)), Int32Array.from(cols(full.positionIds!, t, t + 1)));
      }
      session.dispose();
    });
  });
});
