import { beforeAll, describe, expect, it } from 'vitest';
import { archDims, type ModelConfig } from '../../src/arch/config.js';
import { paramLayout } from '../../src/arch/layout.js';
import { type LlamaConfig, parseLlamaConfig } from '../../src/arch/llama.js';
import type { NativePrecision } from '../../src/backend/native/rawCore.js';
import type { LabeledBatch, NamedTensors, TokenBatch, TransformerCore } from '../../src/backend/types.js';
import { Rng } from '../../src/util/rng.js';
import { maxAbs } from './fixtures.js';
import { llamaReference, referenceGradient, toFloat64, visibleWeights } from './llamaReference.js';
import { greedyDecode } from './parity.js';

// Llama-family shapes the HF fixtures do not have (they are 4 heads over 2, head_dim = hidden / heads, no biases),
// checked against the float64 reference of llamaReference.ts: forward, loss, gradients by central differences,
// KV-cache decoding, and the matmul precisions.

const base = { vocab_size: 96, hidden_size: 24, intermediate_size: 40, num_hidden_layers: 2, max_position_embeddings: 32 };
export const LLAMA_VARIANTS: ReadonlyArray<{ what: string; config: LlamaConfig }> = [
  {
    what: 'llama, 6 heads over 2 (G=3), head_dim 6 != 24/6, q/k/v/o biases, untied',
    config: parseLlamaConfig({ ...base, model_type: 'llama', num_attention_heads: 6, num_key_value_heads: 2, head_dim: 6, rope_theta: 1e4,
      attention_bias: true, tie_word_embeddings: false, rms_norm_eps: 1e-5 }),
  },
  {
    what: 'qwen2, 4 heads over 1 (MQA), head_dim 8 != 24/4, q/k/v biases, tied',
    config: parseLlamaConfig({ ...base, model_type: 'qwen2', num_attention_heads: 4, num_key_value_heads: 1, head_dim: 8,
      rope_parameters: { rope_theta: 1e6, rope_type: 'default' }, tie_word_embeddings: true, rms_norm_eps: 1e-6 }),
  },
  {
    what: 'qwen3, 6 heads over 3, head_dim 10 != 24/6, q/k norms, untied',
    config: parseLlamaConfig({ ...base, model_type: 'qwen3', num_attention_heads: 6, num_key_value_heads: 3, head_dim: 10, rope_theta: 1e6,
      tie_word_embeddings: false, rms_norm_eps: 1e-6 }),
  },
];

/** Row 0 unpadded (one label masked), row 1 left-padded by 3, positions cumsum(mask) - 1 with pads at 0. */
export function variantBatch(config: ModelConfig, seed: number, T = 9): LabeledBatch {
  const rng = new Rng(seed);
  const V = archDims(config).vocab;
  const ids = Int32Array.from({ length: 2 * T }, () => rng.int(V));
  const mask = Uint8Array.from({ length: 2 * T }, (_, i) => (i >= T && i - T < 3 ? 0 : 1));
  const pos = Int32Array.from({ length: 2 * T }, (_, i) => (i < T ? i : Math.max(0, i - T - 3)));
  const labels = Int32Array.from(ids, (id, i) => (!mask[i] || i === 4 ? -100 : id));
  return { batchSize: 2, seqLen: T, inputIds: ids, attentionMask: mask, positionIds: pos, labels };
}

export interface LlamaVariantSpec {
  makeCore(config: ModelConfig, weights: NamedTensors, precision?: NativePrecision): Promise<TransformerCore>;
  /** Check tf32 and bf16 too (cores that have them). */
  precisions?: boolean;
}

export function describeLlamaVariants(title: string, skip: boolean, spec: LlamaVariantSpec): void {
  describe.skipIf(skip).each(LLAMA_VARIANTS)(`${title}: $what`, ({ config }) => {
    let weights: NamedTensors;
    let batch: LabeledBatch;
    let core: TransformerCore;
    beforeAll(async () => {
      weights = visibleWeights(paramLayout(config), 5);
      batch = variantBatch(config, 9);
      core = await spec.makeCore(config, weights);
      return () => core.dispose();
    });

    it('forward logits and the loss match the float64 reference', async () => {
      const ref = llamaReference(config, toFloat64(weights), batch);
      const { logits } = await core.forward(batch);
      const data = await logits.data();
      logits.dispose();
      let worst = 0;
      data.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - ref.logits[i]!))));
      expect(worst).toBeLessThan(5e-5);
      expect(Math.abs((await core.loss(batch)).loss - ref.loss)).toBeLessThan(3e-5);
    });

    it('every gradient matches central differences of the reference loss (sampled elements)', async () => {
      core.zeroGradients();
      await core.accumulateGradients(batch);
      const grads = await core.getGradients();
      core.zeroGradients();
      const w64 = toFloat64(weights);
      const rng = new Rng(3);
      for (const [name, g] of grads) {
        const scale = maxAbs(g.data);
        expect(scale, `${name} has a zero gradient`).toBeGreaterThan(0);
        let top = 0;
        g.data.forEach((x, i) => (Math.abs(x) > Math.abs(g.data[top]!) ? (top = i) : 0));
        for (const i of [top, rng.int(g.data.length), rng.int(g.data.length), rng.int(g.data.length)]) {
          const fd = referenceGradient(config, w64, batch, name, i);
          expect(Math.abs(g.data[i]! - fd), `${name}[${i}]: core ${g.data[i]}, reference ${fd}`).toBeLessThan(2e-5 * scale + 1e-8);
        }
      }
    });

    it('greedy KV-cache decoding of a left-padded batch equals re-running forward each step', async () => {
      const T = batch.seqLen;
      const rows = [0, 1].map((b) => [...batch.inputIds.subarray(b * T, (b + 1) * T)]);
      const mask = [0, 1].map((b) => [...batch.attentionMask!.subarray(b * T, (b + 1) * T)]);
      const pos = [0, 1].map((b) => [...batch.positionIds!.subarray(b * T, (b + 1) * T)]);
      const cached = await greedyDecode(core, rows, mask, pos, 6);
      expect(await greedyDecode(core, rows, mask, pos, 6, false)).toEqual(cached);
    });

    it.skipIf(!spec.precisions)('tf32 and bf16: training losses near fp32, decode logits near forward', async () => {
      const batches = Array.from({ length: 5 }, () => batch); // one batch, so the loss falls steadily
      const step = { lr: 3e-3, weightDecay: 0.01, maxGradNorm: 1.0 };
      const run = async (precision: NativePrecision): Promise<number[]> => {
        const c = await spec.makeCore(config, weights, precision);
        const losses: number[] = [];
        for (const b of batches) losses.push((await c.trainStep(b, step)).loss);
        // After training, one cached decode step agrees with a forward over the prompt plus that token.
        const T = batch.seqLen;
        const V = archDims(config).vocab;
        const prompt: TokenBatch = { batchSize: 2, seqLen: T, inputIds: batch.inputIds, attentionMask: batch.attentionMask, positionIds: batch.positionIds };
        const session = await c.startDecode(prompt, { maxLength: T + 1 });
        const next = Int32Array.from([1, 2]);
        const nextPos = Int32Array.from([0, 1].map((b) => Math.max(...batch.positionIds!.subarray(b * T, (b + 1) * T)) + 1));
        const stepped = await session.step(next, nextPos);
        const grow = <A extends Int32Array | Uint8Array>(a: A, extra: number[]): A => {
          const out = new (a.constructor as new (n: number) => A)(2 * (T + 1));
          for (let b = 0; b < 2; b++) out.set([...a.subarray(b * T, (b + 1) * T), extra[b]!], b * (T + 1));
          return out;
        };
        const longer: TokenBatch = {
          batchSize: 2,
          seqLen: T + 1,
          inputIds: grow(batch.inputIds, [...next]),
          attentionMask: grow(batch.attentionMask!, [1, 1]),
          positionIds: grow(batch.positionIds!, [...nextPos]),
        };
        const { logits } = await c.forward(longer);
        const all = await logits.data();
        logits.dispose();
        const last = new Float32Array(2 * V);
        for (let b = 0; b < 2; b++) last.set(all.subarray((b * (T + 1) + T) * V, (b * (T + 1) + T + 1) * V), b * V);
        let worst = 0;
        stepped.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - last[i]!))));
        expect(worst, `${precision} decode step vs forward`).toBeLessThan((precision === 'bf16' ? 2e-2 : 1e-4) * maxAbs(last));
        session.dispose();
        c.dispose();
        return losses;
      };
      const fp32 = await run('fp32');
      expect(fp32.at(-1)!).toBeLessThan(fp32[0]!);
      for (const p of ['tf32', 'bf16'] as const) {
        const other = await run(p);
        other.forEach((l, i) => expect(Math.abs(l - fp32[i]!), `${p} step ${i}`).toBeLessThan(3e-2 * fp32[i]!));
      }
    });
  });
}
