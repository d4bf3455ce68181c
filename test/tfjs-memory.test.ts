import { beforeAll, describe, expect, it } from 'vitest';
import { archDims, type ModelConfig, parseGPT2Config } from '../src/arch/config.js';
import { numel, paramLayout } from '../src/arch/layout.js';
import { parseLlamaConfig } from '../src/arch/llama.js';
import { loraLayout, resolveLora } from '../src/arch/lora.js';
import type { LabeledBatch } from '../src/backend/types.js';
import { createTfjsCore, initTfjsBackend, type TfjsBackendName } from '../src/backend/tfjs/index.js';
import { tf } from '../src/backend/tfjs/runtime.js';
import { Rng } from '../src/util/rng.js';

const CONFIGS: Record<string, ModelConfig> = {
  gpt2: parseGPT2Config({ vocab_size: 96, n_positions: 256, n_embd: 32, n_layer: 2, n_head: 2 }),
  // GQA, q/k norms and an untied head: every tensor kind the Llama trunk allocates.
  qwen3: parseLlamaConfig({ model_type: 'qwen3', vocab_size: 96, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 12, max_position_embeddings: 256 }),
  // q/k/v biases, tied.
  qwen2: parseLlamaConfig({ model_type: 'qwen2', vocab_size: 96, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 1, max_position_embeddings: 256, tie_word_embeddings: true }),
};

function randomBatch(config: ModelConfig, rng: Rng, B: number, T: number): LabeledBatch {
  const inputIds = Int32Array.from({ length: B * T }, () => Math.floor(rng.next() * config.vocab_size));
  const labels = Int32Array.from(inputIds, (x, i) => (i % T < 2 ? -100 : x));
  return { batchSize: B, seqLen: T, inputIds, labels };
}

const CASES = (['cpu', 'wasm'] as TfjsBackendName[]).flatMap((backend) => Object.keys(CONFIGS).map((arch) => [backend, arch] as const));

describe.each(CASES)('tfjs-%s core (%s) leaks no tensors', (backend, arch) => {
  const config = CONFIGS[arch]!;
  beforeAll(() => initTfjsBackend(backend));
  it('numTensors stays flat over 20 training steps and returns to the baseline on dispose', async () => {
    const baseline = tf.memory().numTensors;
    const core = await createTfjsCore(config, { backend, seed: 1 });
    const rng = new Rng(7);
    const counts: number[] = [];
    for (let i = 0; i < 20; i++) {
      await core.trainStep(randomBatch(config, rng, 2, 24), { lr: 1e-3 });
      counts.push(tf.memory().numTensors);
    }
    // Step 1 allocates the AdamW moments; after that nothing may accumulate.
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(core.memory().tensors).toBe(counts.at(-1));
    core.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('numTensors stays flat over 200 decoded tokens and frees everything on dispose', async () => {
    const baseline = tf.memory().numTensors;
    const core = await createTfjsCore(config, { backend, seed: 2 });
    const prompt = { batchSize: 2, seqLen: 4, inputIds: Int32Array.from([1, 2, 3, 4, 0, 0, 5, 6]), attentionMask: Uint8Array.from([1, 1, 1, 1, 0, 0, 1, 1]), positionIds: Int32Array.from([0, 1, 2, 3, 0, 0, 0, 1]) };
    const session = await core.startDecode(prompt, { maxLength: 204 });
    const during = tf.memory().numTensors;
    const bytesAfterPrefill = core.memory().bytes;
    const pos = [4, 2];
    for (let i = 0; i < 200; i++) {
      const logits = await session.step(Int32Array.from([i % config.vocab_size, (3 * i) % config.vocab_size]), Int32Array.from(pos));
      expect(logits.length).toBe(2 * config.vocab_size);
      pos[0]!++;
      pos[1]!++;
      expect(tf.memory().numTensors).toBe(during);
    }
    expect(session.length).toBe(204);
    expect(core.memory().bytes).toBeGreaterThan(bytesAfterPrefill); // the cache grew
    await expect(session.step(Int32Array.from([1, 1]), Int32Array.from(pos))).rejects.toThrow(/cache is full/);
    session.dispose();
    expect(tf.memory().numTensors).toBeLessThan(during);
    core.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });
});

describe.each(CASES)('tfjs-%s LoRA core (%s) keeps no gradient or moment for its base', (backend, arch) => {
  const config = CONFIGS[arch]!;
  const spec = resolveLora(config, { r: 4, alpha: 8 });
  beforeAll(() => initTfjsBackend(backend));
  it('over 20 steps it holds exactly the base, the transposed head and the adapters with their two moments', async () => {
    const baseline = tf.memory().numTensors;
    const core = await createTfjsCore(config, { backend, seed: 1, lora: { spec } });
    const rng = new Rng(7);
    const counts: number[] = [];
    for (let i = 0; i < 20; i++) {
      await core.trainStep(randomBatch(config, rng, 2, 24), { lr: 1e-3 });
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    const base = paramLayout(config);
    const adapters = loraLayout(config, spec);
    const size = (specs: { shape: readonly number[] }[]): number => specs.reduce((n, s) => n + numel(s.shape), 0);
    // After a step the gradients are freed; the moments exist for the adapters alone.
    expect(counts[0]! - baseline).toBe(base.length + 1 + 3 * adapters.length);
    const { vocab, hidden } = archDims(config);
    expect(core.memory().bytes).toBe(4 * (size(base) + vocab * hidden + 3 * size(adapters)));
    // Mid-accumulation the gradient buffers are adapter-sized too.
    await core.accumulateGradients(randomBatch(config, rng, 2, 24));
    expect(tf.memory().numTensors - baseline).toBe(base.length + 1 + 4 * adapters.length);
    core.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('decodes 100 tokens with the adapters active without growing the tensor count', async () => {
    const baseline = tf.memory().numTensors;
    const core = await createTfjsCore(config, { backend, seed: 2, lora: { spec } });
    const session = await core.startDecode({ batchSize: 1, seqLen: 3, inputIds: Int32Array.from([1, 2, 3]) }, { maxLength: 103 });
    const during = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) {
      await session.step(Int32Array.of(i % config.vocab_size), Int32Array.of(3 + i));
      expect(tf.memory().numTensors).toBe(during);
    }
    session.dispose();
    core.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });
});
