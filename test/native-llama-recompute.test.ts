import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '../src/arch/config.js';
import { paramLayout } from '../src/arch/layout.js';
import { parseLlamaConfig } from '../src/arch/llama.js';
import { initLoraWeights, resolveLora } from '../src/arch/lora.js';
import { loadNativeAddon } from '../src/backend/native/addon.js';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import type { CoreInit, NamedTensors, TransformerCore } from '../src/backend/types.js';
import { Rng } from '../src/util/rng.js';
import { describeLoraParity } from './helpers/lora.js';
import { visibleWeights } from './helpers/llamaReference.js';
import { LLAMA_VARIANTS, variantBatch } from './helpers/llamaVariants.js';
import { describeModernParity, hasModernFixtures } from './helpers/modern.js';

// The Llama family's backward with every layer's attention recomputed (llama.cc place(): what a core does when the
// kept probabilities would pass 256 MiB, e.g. Qwen3-0.6B at 4 x 512), forced at fixture sizes by a keep limit of
// 0 bytes (the addon's attentionKeepBytes, read whenever a forward plans its activations). The recomputation runs
// the same kernels on the same inputs, so its gradients must equal the kept path's bit for bit; and the HF and
// PEFT fixtures must still match. (The norm outputs, h and Qwen3's normed q/k are recomputed at every size, so
// every other Llama suite covers those.)
const probe = probeNativeCpu();
const loaded = loadNativeAddon();
const skip = !probe.ok || !loaded.ok;
if (skip) console.warn('[native-llama-recompute] skipped: native core unavailable');

const DEFAULT_KEEP = 256 * 2 ** 20;
const create = (config: ModelConfig, init: CoreInit): Promise<TransformerCore> => {
  if (!probe.ok) throw new Error('native core unavailable');
  return probe.createCore(config, init);
};
/** Runs `fn` with attention recomputed in the backward, then restores the default limit. */
async function recomputing<T>(fn: () => Promise<T>): Promise<T> {
  if (!loaded.ok) throw new Error('native core unavailable');
  loaded.addon.attentionKeepBytes(0);
  try {
    return await fn();
  } finally {
    loaded.addon.attentionKeepBytes(DEFAULT_KEEP);
  }
}

const shapes = [
  ...LLAMA_VARIANTS,
  {
    what: 'llama, head_dim 16 (the direct attention kernels), 4 heads over 2, tied',
    config: parseLlamaConfig({ model_type: 'llama', vocab_size: 96, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
      max_position_embeddings: 64, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, tie_word_embeddings: true }),
  },
];

describe.skipIf(skip).each(shapes)('native CPU core, attention recomputed in the backward: $what', ({ config }) => {
  const weights = visibleWeights(paramLayout(config), 4);
  const gradients = async (init: CoreInit, T: number): Promise<{ loss: number; grads: NamedTensors; bytes: number }> => {
    const core = await create(config, init);
    try {
      // Left padding (a query that sees no key), and at T = 30 longer causal rows for the direct kernels.
      const { loss } = await core.accumulateGradients(variantBatch(config, 8, T));
      return { loss, grads: await core.getGradients(), bytes: core.memory().bytes };
    } finally {
      core.dispose();
    }
  };
  const spec = resolveLora(config, { r: 2, alpha: 4, targets: ['q_proj', 'v_proj', 'o_proj', 'down_proj'] });
  const adapter = initLoraWeights(config, spec, 3);
  const rng = new Rng(5);
  for (const [name, t] of adapter) if (name.includes('lora_B')) t.data.forEach((_, i) => (t.data[i] = 0.2 * rng.normal()));

  for (const [kind, init] of [['full', { weights }], ['LoRA', { weights, lora: { spec, weights: adapter } }]] as const) {
    it(`${kind}: the gradients equal the kept path's bit for bit`, async () => {
      for (const T of [9, 30]) {
        const kept = await gradients(init, T);
        const again = await recomputing(() => gradients(init, T));
        // One layer's probabilities and output instead of every layer's: the recomputing plan is in use.
        const B = 2;
        const d = config.num_attention_heads;
        const perLayer = 4 * B * (d * T * T + T * d * config.head_dim!);
        expect(kept.bytes - again.bytes).toBe((config.num_hidden_layers - 1) * perLayer);
        expect(again.loss).toBe(kept.loss);
        expect([...again.grads.keys()]).toEqual([...kept.grads.keys()]);
        for (const [name, g] of kept.grads) expect(again.grads.get(name)!.data, `${name} at T ${T}`).toEqual(g.data);
      }
    });
  }
});

// The fixtures, with the limit at 0 for every forward these suites run.
describe.skipIf(skip)('keep limit 0', () => {
  beforeAll(() => {
    if (loaded.ok) loaded.addon.attentionKeepBytes(0);
  });
  afterAll(() => {
    if (loaded.ok) loaded.addon.attentionKeepBytes(DEFAULT_KEEP);
  });
  describeModernParity('native CPU core, attention recomputed in the backward, matches the HF Llama-family fixtures', skip || !hasModernFixtures, {
    makeCore: (config, weights) => create(config, { weights }),
  });
  describeLoraParity('native CPU core LoRA, attention recomputed in the backward, matches PEFT', skip, {
    makeLoraCore: (config, base, spec, adapter) => create(config, { weights: base, lora: { spec, weights: adapter } }),
    makeCore: (config, weights) => create(config, { weights }),
  });
});
