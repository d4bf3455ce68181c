import { describe, expect, it } from 'vitest';
import { type ModelConfig, parseGPT2Config } from '../src/arch/config.js';
import { parseLlamaConfig } from '../src/arch/llama.js';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import { createTfjsCore } from '../src/backend/tfjs/core.js';
import type { LabeledBatch, NamedTensors, TransformerCore } from '../src/backend/types.js';
import { paddedBatch } from './helpers/padded-batch.js';

// The block-causal GEMM attention of the native core (head dims other than 16 and 32: kernels.cc scores each block
// of 64 query rows against the keys up to its last row only) against the tfjs core, at lengths of several blocks
// with a partial last one. Left padding of 70 leaves the whole first block and the start of the second without a
// visible key: HF makes those rows uniform over every key, so their blocks read all keys, forward and backward.
// Llama's grouped-query backward is blocked the same way; GPT-2's backward still reads the whole square (its
// forward's probabilities past each block are 0).
const probe = probeNativeCpu();
if (!probe.ok) console.warn('[native-attention-blocks] skipped: native core unavailable');
const T = 150;

function makeBatch(vocab: number): LabeledBatch {
  return paddedBatch([[0, T], [0, 101], [70, T - 70], [5, 120]], T, vocab, 11);
}

const models: Array<{ what: string; config: ModelConfig }> = [
  {
    what: 'qwen2, 4 heads over 2, head_dim 8',
    config: parseLlamaConfig({ model_type: 'qwen2', vocab_size: 53, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
      max_position_embeddings: 256, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8, rope_theta: 1e4, tie_word_embeddings: true }),
  },
  {
    what: 'qwen3, 2 heads over 1, head_dim 24, q/k norms',
    config: parseLlamaConfig({ model_type: 'qwen3', vocab_size: 53, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
      max_position_embeddings: 256, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 24, rope_theta: 1e6, tie_word_embeddings: false }),
  },
  { what: 'gpt2, head_dim 8', config: parseGPT2Config({ vocab_size: 53, n_positions: 256, n_embd: 32, n_layer: 2, n_head: 4 }) },
];

async function gradients(core: TransformerCore, batch: LabeledBatch): Promise<{ loss: number; grads: NamedTensors }> {
  core.zeroGradients();
  const { loss } = await core.accumulateGradients(batch);
  return { loss, grads: await core.getGradients() };
}

describe.skipIf(!probe.ok).each(models)('native block-causal attention matches the tfjs core: $what', ({ config }) => {
  it(`logits, loss and every gradient at T ${T}`, async () => {
    if (!probe.ok) return;
    const tfjs = await createTfjsCore(config, { backend: 'cpu', seed: 3 });
    const native = await probe.createCore(config, { weights: await tfjs.getWeights() });
    try {
      const batch = makeBatch(config.vocab_size);
      const [fn, ft] = [await native.forward(batch), await tfjs.forward(batch)];
      const [ln, lt] = [await fn.logits.data(), await ft.logits.data()];
      fn.logits.dispose();
      ft.logits.dispose();
      let worst = 0;
      for (let i = 0; i < lt.length; i++) worst = Math.max(worst, Math.abs(ln[i]! - lt[i]!));
      expect(worst, 'logits').toBeLessThan(1e-4);
      const [n, t] = [await gradients(native, batch), await gradients(tfjs, batch)];
      expect(Math.abs(n.loss - t.loss)).toBeLessThan(1e-5);
      for (const [name, g] of t.grads) {
        const x = n.grads.get(name)!.data;
        let diff = 0;
        let mag = 0;
        g.data.forEach((v, i) => ((diff = Math.max(diff, Math.abs(x[i]! - v))), (mag = Math.max(mag, Math.abs(v)))));
        expect(diff / Math.max(mag, 1e-12), name).toBeLessThan(1e-4);
      }
    } finally {
      native.dispose();
      tfjs.dispose();
    }
  });
});
