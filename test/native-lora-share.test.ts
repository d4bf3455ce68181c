import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../src/arch/config.js';
import { numel, paramLayout } from '../src/arch/layout.js';
import { parseLlamaConfig } from '../src/arch/llama.js';
import { loraLayout, resolveLora } from '../src/arch/lora.js';
import { loadNativeAddon, type NativeAddon } from '../src/backend/native/addon.js';
import { NativeCore, rawCoreConfig } from '../src/backend/native/core.js';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import type { CoreAddon, RawCore } from '../src/backend/native/rawCore.js';
import type { LabeledBatch } from '../src/backend/types.js';
import { describeSharedBase, type SharedBaseSpec } from './helpers/loraShare.js';

// NativeCore.withAdapter on the native CPU core (feature `loraShare`): the second core's C++ core holds the first's
// base buffer by reference count (native/src/core.h SharedBase). The shared suite, then what only a native core has:
// the process's resident memory at a realistic size, the addon's refusals, and addons without the feature.
const probe = probeNativeCpu();
const loaded = loadNativeAddon();
const shares = loaded.ok && (loaded.addon.features ?? []).includes('loraShare');
if (!probe.ok) console.warn(`[native-lora-share] skipped: native core unavailable: ${probe.reason}`);
else if (!shares) console.warn('[native-lora-share] skipped: this native addon has no loraShare feature; rebuild it (npm run build:native)');

const native: SharedBaseSpec = {
  makeLoraCore: async (config, weights, spec, adapter) => {
    if (!probe.ok) throw new Error('native core unavailable');
    return probe.createCore(config, { weights, lora: { spec, weights: adapter } });
  },
  makeCore: async (config, weights) => {
    if (!probe.ok) throw new Error('native core unavailable');
    return probe.createCore(config, { weights });
  },
  // params, grads, AdamW m and v: four adapter-sized buffers.
  ownBytes: (floats) => 16 * floats,
};
describeSharedBase('native CPU core: withAdapter over a shared base', !shares, native);

const addon = (): NativeAddon => {
  if (!loaded.ok) throw new Error('native core unavailable');
  return loaded.addon;
};

const qwen2 = (vocab: number): ModelConfig =>
  parseLlamaConfig({
    model_type: 'qwen2', vocab_size: vocab, hidden_size: 24, intermediate_size: 40, num_hidden_layers: 2, max_position_embeddings: 32,
    num_attention_heads: 4, num_key_value_heads: 1, head_dim: 8, rope_theta: 1e6, tie_word_embeddings: true, rms_norm_eps: 1e-6,
  });

/** Resident set size after a full V8 collection (so garbage JS arrays do not blur what the addon holds). */
const gc = ((): (() => void) => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();
function rss(): number {
  gc();
  gc();
  return process.memoryUsage().rss;
}

describe.skipIf(!shares)('native CPU core withAdapter: resident memory, the addon, old addons', () => {
  it('at SmolLM2-135M width and vocabulary, a second core adds its adapters to the process, not a second base', async () => {
    // SmolLM2-135M's shape with 4 of its 30 layers: a 170 MB base, most of it the 49152 x 576 embedding.
    const config = parseLlamaConfig({
      model_type: 'llama', vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 4, max_position_embeddings: 2048,
      num_attention_heads: 9, num_key_value_heads: 3, head_dim: 64, rope_theta: 100000, tie_word_embeddings: true, rms_norm_eps: 1e-5,
    });
    const spec = resolveLora(config, { r: 8, alpha: 16 });
    const baseBytes = 4 * paramLayout(config).reduce((n, s) => n + numel(s.shape), 0);
    const adapterFloats = loraLayout(config, spec).reduce((n, s) => n + numel(s.shape), 0);
    expect(baseBytes).toBeGreaterThan(160e6);
    if (!probe.ok) throw new Error('native core unavailable');
    const first = (await probe.createCore(config, { seed: 1, lora: { spec } })) as NativeCore;
    const rss0 = rss();
    const second = await first.withAdapter!({ lora: { spec }, seed: 2 });
    const rss1 = rss();
    // What a copy would have cost, measured the same way: a standalone LoRA core of this model (its base zero-filled).
    const control = new (addon().GptCore)(rawCoreConfig(config, spec), 0);
    const rss2 = rss();
    control.dispose();
    const rss3 = rss();
    const MB = (x: number): string => (x / 1e6).toFixed(1);
    console.log(
      `[native-lora-share] base ${MB(baseBytes)} MB; RSS growth: withAdapter ${MB(rss1 - rss0)} MB, a standalone LoRA core ${MB(rss2 - rss1)} MB`,
    );
    try {
      // Its four adapter-sized buffers (5 MB), and some slack for the allocator and V8: well under a tenth of the base.
      expect(rss1 - rss0).toBeLessThan(16 * adapterFloats + 0.05 * baseBytes);
      expect(rss2 - rss1).toBeGreaterThan(0.9 * baseBytes);
      expect(second.memory().bytes).toBe(16 * adapterFloats);
      expect(first.memory().bytes).toBe(baseBytes + 16 * adapterFloats);
      // The first core goes: the base stays (the second still reads it), and the second reports it now.
      first.dispose();
      const rss4 = rss();
      expect(rss3 - rss4).toBeLessThan(0.1 * baseBytes);
      expect(second.memory().bytes).toBe(baseBytes + 16 * adapterFloats);
      const ids = Int32Array.from({ length: 8 }, (_, i) => 100 + 37 * i);
      const batch: LabeledBatch = { batchSize: 1, seqLen: 8, inputIds: ids, labels: ids.slice() };
      const { loss } = await second.loss(batch);
      // The seeded base at init scale is near-uniform over the vocabulary: about ln(49152) = 10.8.
      expect(Math.abs(loss - Math.log(49152))).toBeLessThan(1);
      // The last holder goes: now the base is freed.
      second.dispose();
      const rss5 = rss();
      console.log(`[native-lora-share] RSS after the first core's dispose -${MB(rss3 - rss4)} MB, after the second's -${MB(rss4 - rss5)} MB`);
      expect(rss4 - rss5).toBeGreaterThan(0.9 * baseBytes);
    } finally {
      first.dispose();
      second.dispose();
    }
  });

  it('the addon refuses a shareBaseOf that is no live LoRA GptCore of the same model, and base writes while shared', () => {
    const config = qwen2(96);
    const spec = resolveLora(config, { r: 2, alpha: 4 });
    const nBase = paramLayout(config).reduce((n, s) => n + numel(s.shape), 0);
    const GptCore = addon().GptCore;
    const cfg = rawCoreConfig(config, spec);
    const first = new GptCore(cfg, 0);
    const plain = new GptCore(rawCoreConfig(config), 0);
    const gone = new GptCore(cfg, 0);
    gone.dispose();
    try {
      expect(() => new GptCore(cfg, 0, {} as RawCore)).toThrow(/shareBaseOf must be a GptCore of this addon/);
      expect(() => new GptCore(cfg, 0, plain)).toThrow(/a shared base joins LoRA cores only/);
      expect(() => new GptCore(rawCoreConfig(config), 0, first)).toThrow(/a shared base joins LoRA cores only/);
      expect(() => new GptCore(cfg, 0, gone)).toThrow(/the core to share a base with was disposed/);
      const other = qwen2(97);
      expect(() => new GptCore(rawCoreConfig(other, resolveLora(other, { r: 2, alpha: 4 })), 0, first)).toThrow(/is another model/);

      const base = Float32Array.from({ length: nBase }, (_, i) => Math.sin(i));
      first.writeBuffers({ base });
      // Another rank and target set over the same base.
      const narrow = resolveLora(config, { r: 1, alpha: 1, targets: ['v_proj'] });
      const second = new GptCore(rawCoreConfig(config, narrow), 0, first);
      const seen = new Float32Array(nBase);
      second.readBuffers({ base: seen });
      expect(seen).toEqual(base);
      expect(() => first.writeBuffers({ base })).toThrow(/the base is shared with another core \(shareBaseOf\), so it is read-only/);
      expect(() => second.writeBuffers({ base: base.subarray(0, 4) }, 8)).toThrow(/read-only/);
      // Its own buffers are still written.
      const params = Float32Array.from({ length: second.numParams() }, (_, i) => i);
      second.writeBuffers({ params });
      const back = new Float32Array(second.numParams());
      second.readBuffers({ params: back });
      expect(back).toEqual(params);
      first.readBuffers({ base: seen });
      expect(seen).toEqual(base);
      second.dispose();
      // Alone again, the first core may write its base.
      first.writeBuffers({ base: base.map((x) => -x) });
      first.readBuffers({ base: seen });
      expect(seen[1]).toBe(-base[1]!);
    } finally {
      first.dispose();
      plain.dispose();
    }
  });

  it('a LoRA core on an addon without loraShare (built before it), or on the CUDA core, has no withAdapter', async () => {
    const real = addon();
    expect(real.features).toContain('loraShare');
    const config = qwen2(96);
    const spec = resolveLora(config, { r: 2, alpha: 4 });
    const old: CoreAddon = { device: 'cpu', abi: real.abi, GptCore: real.GptCore, features: ['lora', 'offsetWrites'] };
    const oldCore = await NativeCore.create(config, old, { seed: 1, lora: { spec } });
    const cuda: CoreAddon = { device: 'cuda', abi: real.abi, GptCore: real.GptCore };
    const cudaCore = await NativeCore.create(config, cuda, { seed: 1 });
    const current = await NativeCore.create(config, real, { seed: 1, lora: { spec } });
    try {
      expect(oldCore.lora).toEqual(spec);
      expect(oldCore.withAdapter).toBeUndefined();
      expect(cudaCore.withAdapter).toBeUndefined();
      expect(typeof current.withAdapter).toBe('function');
    } finally {
      oldCore.dispose();
      cudaCore.dispose();
      current.dispose();
    }
  });
});
