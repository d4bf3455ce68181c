import { describe, expect, it } from 'vitest';
import { type ModelConfig, parseGPT2Config } from '../src/arch/config.js';
import { nativeLayoutTable, numel, paramLayout } from '../src/arch/layout.js';
import { parseLlamaConfig } from '../src/arch/llama.js';
import { initLoraWeights, loraLayout, type LoraSpec, loraScale, mergeLoraWeights, resolveLora } from '../src/arch/lora.js';
import { loadNativeAddon } from '../src/backend/native/addon.js';
import { NativeCore, rawCoreConfig } from '../src/backend/native/core.js';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import type { CoreAddon } from '../src/backend/native/rawCore.js';
import type { LabeledBatch, NamedTensors, TransformerCore } from '../src/backend/types.js';
import { BackendUnavailableError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';
import { maxAbs, maxAbsDiff } from './helpers/fixtures.js';
import { visibleWeights } from './helpers/llamaReference.js';
import { variantBatch } from './helpers/llamaVariants.js';

// LoRA on the native CPU core beyond the PEFT fixture (native-lora-parity.test.ts): GPT-2's Conv1D adapters by
// central differences, both architectures' adapter gradients against the chain rule through a merged plain core
// (which the HF fixtures check), adapters on some projections only, KV-cache decoding, a frozen base that stays
// bit-identical, a fresh adapter that is exactly the base, the memory a LoRA core holds, and the refusals.
const probe = probeNativeCpu();
const loaded = loadNativeAddon();
if (!probe.ok) console.warn(`[native-lora] skipped: native core unavailable: ${probe.reason}`);

const gpt2 = parseGPT2Config({ vocab_size: 64, n_positions: 32, n_embd: 32, n_layer: 2, n_head: 4 });
const qwen3 = parseLlamaConfig({
  model_type: 'qwen3', vocab_size: 96, hidden_size: 24, intermediate_size: 40, num_hidden_layers: 2, max_position_embeddings: 32,
  num_attention_heads: 6, num_key_value_heads: 3, head_dim: 10, rope_theta: 1e6, tie_word_embeddings: false, rms_norm_eps: 1e-6,
});
const qwen2 = parseLlamaConfig({
  model_type: 'qwen2', vocab_size: 96, hidden_size: 24, intermediate_size: 40, num_hidden_layers: 2, max_position_embeddings: 32,
  num_attention_heads: 4, num_key_value_heads: 1, head_dim: 8, rope_parameters: { rope_theta: 1e6, rope_type: 'default' },
  tie_word_embeddings: true, rms_norm_eps: 1e-6,
});

/** Base weights whose every piece shows in the outputs (LayerNorm weights near 1, matrices 0.15 N). */
function visibleBase(config: ModelConfig, seed: number): NamedTensors {
  const w = visibleWeights(paramLayout(config), seed);
  const rng = new Rng(seed + 100);
  for (const [name, t] of w) if (/(^|\.)ln_(\d|f)\.weight$/.test(name)) t.data.forEach((_, i) => (t.data[i] = 1 + 0.2 * rng.normal()));
  return w;
}

/** Adapters with B != 0 (PEFT's init has B = 0, which would hide A's gradient and the whole adapter path). */
function liveAdapters(config: ModelConfig, spec: LoraSpec, seed: number): NamedTensors {
  const w = initLoraWeights(config, spec, seed);
  const rng = new Rng(seed + 1);
  for (const [name, t] of w) if (name.includes('lora_B')) t.data.forEach((_, i) => (t.data[i] = 0.2 * rng.normal()));
  return w;
}

function gpt2Batch(seed: number): LabeledBatch {
  const rng = new Rng(seed);
  const B = 2;
  const T = 12;
  const inputIds = Int32Array.from({ length: B * T }, () => rng.int(gpt2.vocab_size));
  const labels = Int32Array.from(inputIds, (id, i) => (i === 5 ? -100 : id));
  return { batchSize: B, seqLen: T, inputIds, labels };
}

const cases: ReadonlyArray<{ what: string; config: ModelConfig; targets?: [string, ...string[]]; batch: () => LabeledBatch }> = [
  { what: 'gpt2 (Conv1D), every projection', config: gpt2, batch: () => gpt2Batch(3) },
  { what: 'gpt2, attn.c_proj and mlp.c_proj only', config: gpt2, targets: ['c_proj'], batch: () => gpt2Batch(4) },
  { what: 'qwen3 (q/k norms, untied), every projection', config: qwen3, batch: () => variantBatch(qwen3, 5) },
  { what: 'qwen2 (q/k/v biases, MQA, tied), k_proj, o_proj and up_proj', config: qwen2, targets: ['k_proj', 'o_proj', 'up_proj'], batch: () => variantBatch(qwen2, 6) },
];

async function lastLogits(core: TransformerCore, batch: LabeledBatch): Promise<Float32Array> {
  const { logits } = await core.forward(batch);
  const data = await logits.data();
  logits.dispose();
  return data;
}

const create = (config: ModelConfig, weights: NamedTensors, spec?: LoraSpec, adapter?: NamedTensors): Promise<TransformerCore> => {
  if (!probe.ok) throw new Error('native core unavailable');
  return probe.createCore(config, spec ? { weights, lora: adapter ? { spec, weights: adapter } : { spec } } : { weights });
};

describe.skipIf(!probe.ok).each(cases)('native CPU core LoRA: $what', ({ config, targets, batch }) => {
  const spec = resolveLora(config, { r: 3, alpha: 7.5, ...(targets ? { targets } : {}) });
  const base = visibleBase(config, 1);
  const adapter = liveAdapters(config, spec, 2);

  it('adapter gradients follow the chain rule through the merged model, whose gradients HF checks', async () => {
    const lora = await create(config, base, spec, adapter);
    const merged = await create(config, mergeLoraWeights(config, spec, base, adapter));
    try {
      const b = batch();
      const [l1, l2] = [await lora.accumulateGradients(b), await merged.accumulateGradients(b)];
      expect(Math.abs(l1.loss - l2.loss)).toBeLessThan(1e-5);
      const g = await lora.getGradients();
      const G = await merged.getGradients();
      const layout = loraLayout(config, spec);
      expect([...g.keys()].sort()).toEqual(layout.map((t) => t.name).sort());
      const s = loraScale(spec);
      const conv1d = config.model_type === 'gpt2';
      for (let i = 0; i < layout.length; i += 2) {
        const [aSpec, bSpec] = [layout[i]!, layout[i + 1]!];
        const A = adapter.get(aSpec.name)!.data;
        const Bm = adapter.get(bSpec.name)!.data;
        const Gw = G.get(aSpec.base)!.data; // [out, in], or [in, out] for Conv1D
        const [r, inDim] = aSpec.shape as [number, number];
        const outDim = bSpec.shape[0]!;
        const gw = (o: number, j: number): number => (conv1d ? Gw[j * outDim + o]! : Gw[o * inDim + j]!);
        // W' = W + s B A: dA = s B^T G, dB = s G A^T.
        const dA = new Float64Array(r * inDim);
        const dB = new Float64Array(outDim * r);
        for (let o = 0; o < outDim; o++)
          for (let k = 0; k < r; k++)
            for (let j = 0; j < inDim; j++) {
              dA[k * inDim + j] += s * Bm[o * r + k]! * gw(o, j);
              dB[o * r + k] += s * gw(o, j) * A[k * inDim + j]!;
            }
        for (const [name, want] of [[aSpec.name, dA], [bSpec.name, dB]] as const) {
          const got = g.get(name)!.data;
          expect(maxAbs(want), `${name} is exercised`).toBeGreaterThan(1e-4);
          expect(maxAbsDiff(got, want), name).toBeLessThanOrEqual(2e-4 * maxAbs(want));
        }
      }
    } finally {
      lora.dispose();
      merged.dispose();
    }
  });

  it('merged weights give the adapter logits; a KV-cache decode with adapters gives the forward logits', async () => {
    const lora = await create(config, base, spec, adapter);
    const merged = await create(config, mergeLoraWeights(config, spec, base, adapter));
    try {
      const b = batch();
      const ref = await lastLogits(lora, b);
      expect(maxAbsDiff(await lastLogits(merged, b), ref)).toBeLessThan(2e-5);
      expect(maxAbsDiff(ref, await lastLogits(await create(config, base), b))).toBeGreaterThan(1e-2); // the adapter shows
      // Row 0 of the batch, decoded: the prompt of T - 3 tokens, then 2 steps, against the forward's rows.
      const T = b.seqLen;
      const V = config.vocab_size;
      const ids = b.inputIds.subarray(0, T);
      const session = await lora.startDecode({ batchSize: 1, seqLen: T - 2, inputIds: ids.slice(0, T - 2) }, { maxLength: T });
      const plain = await lastLogits(lora, { batchSize: 1, seqLen: T, inputIds: ids.slice(), labels: ids.slice() });
      expect(maxAbsDiff(session.lastLogits, plain.subarray((T - 3) * V, (T - 2) * V))).toBeLessThan(2e-5);
      const next = await session.step(Int32Array.of(ids[T - 2]!), Int32Array.of(T - 2));
      expect(maxAbsDiff(next, plain.subarray((T - 2) * V, (T - 1) * V))).toBeLessThan(2e-5);
      session.dispose();
    } finally {
      lora.dispose();
      merged.dispose();
    }
  });

  it('training moves the adapters and leaves the base bit-identical; a fresh adapter is exactly the base', async () => {
    const fresh = await create(config, base, spec);
    const plain = await create(config, base);
    try {
      const b = batch();
      // PEFT's init: B = 0, so the outputs are the base's exactly (0 is added to every projection).
      expect(await lastLogits(fresh, b)).toEqual(await lastLogits(plain, b));
      const before = await fresh.getWeights();
      for (let i = 0; i < 4; i++) await fresh.trainStep(b, { lr: 1e-2, weightDecay: 0.1 });
      const after = await fresh.getWeights();
      expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
      for (const [name, t] of after) expect(maxAbsDiff(t.data, before.get(name)!.data), `${name} trained`).toBeGreaterThan(0);
      const frozen = await fresh.getBaseWeights!();
      expect([...frozen.keys()].sort()).toEqual([...base.keys()].sort());
      for (const [name, t] of base) expect(frozen.get(name)!.data, `${name} is frozen`).toEqual(t.data);
      const opt = await fresh.getOptimizerState();
      expect(opt.step).toBe(4);
      expect([...opt.m.keys()].sort()).toEqual([...before.keys()].sort());
    } finally {
      fresh.dispose();
      plain.dispose();
    }
  });
});

describe.skipIf(!probe.ok)('native CPU core LoRA on GPT-2: gradients by central differences', () => {
  it('a few entries of every adapter tensor', async () => {
    const spec = resolveLora(gpt2, { r: 2, alpha: 4 });
    const base = visibleBase(gpt2, 7);
    const adapter = liveAdapters(gpt2, spec, 8);
    const core = await create(gpt2, base, spec, adapter);
    try {
      const b = gpt2Batch(9);
      await core.accumulateGradients(b);
      const grads = await core.getGradients();
      const h = 1e-2;
      for (const t of loraLayout(gpt2, spec)) {
        const g = grads.get(t.name)!.data;
        // The entries with the largest gradients (the float32 loss resolves them), and one more.
        const order = [...g.keys()].sort((i, j) => Math.abs(g[j]!) - Math.abs(g[i]!));
        for (const i of [order[0]!, order[1]!, order[Math.floor(order.length / 3)]!]) {
          const at = async (delta: number): Promise<number> => {
            const w: NamedTensors = new Map([...adapter].map(([k, v]) => [k, { shape: v.shape, data: v.data.slice() }]));
            w.get(t.name)!.data[i]! += delta;
            await core.setWeights(w);
            return (await core.loss(b)).loss;
          };
          const fd = ((await at(h)) - (await at(-h))) / (2 * h);
          expect(Math.abs(fd - g[i]!), `${t.name}[${i}]: fd ${fd} vs ${g[i]}`).toBeLessThan(0.02 * Math.abs(g[i]!) + 2e-4);
        }
      }
    } finally {
      core.dispose();
    }
  });
});

describe.skipIf(!probe.ok || !loaded.ok)('native CPU core LoRA: buffers, estimates and refusals', () => {
  const addon = () => {
    if (!loaded.ok) throw new Error('native core unavailable');
    return loaded.addon;
  };

  it('holds the base once and four adapter-sized buffers: far below a full core of the same shape', async () => {
    // Qwen3's layout at a width where rank 4 is small, as it is at the sizes people fine-tune.
    const config = parseLlamaConfig({
      model_type: 'qwen3', vocab_size: 256, hidden_size: 128, intermediate_size: 320, num_hidden_layers: 2, max_position_embeddings: 32,
      num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32, rope_theta: 1e6, tie_word_embeddings: true, rms_norm_eps: 1e-6,
    });
    const spec = resolveLora(config, { r: 4, alpha: 8 });
    const nBase = paramLayout(config).reduce((n, s) => n + numel(s.shape), 0);
    const nLora = loraLayout(config, spec).reduce((n, s) => n + numel(s.shape), 0);
    const full = await create(config, visibleBase(config, 1));
    const lora = await create(config, visibleBase(config, 1), spec);
    try {
      // Before any step: exactly the parameter-shaped buffers (4 bytes a float).
      expect(full.memory().bytes).toBe(4 * 4 * nBase);
      expect(lora.memory().bytes).toBe(4 * (nBase + 4 * nLora));
      expect(lora.memory().bytes / full.memory().bytes).toBeLessThan(0.3);
      // After a step at the same shape both add the same activations (the LoRA core also its x A^T rows), and the
      // addon's estimate, from the tables alone, covers what each holds (its head chunk is sized for every row).
      const b = variantBatch(config, 3);
      for (const [core, lo] of [[full, undefined], [lora, spec]] as const) {
        await core.trainStep(b, { lr: 1e-3 });
        const est = addon().estimateBytes(rawCoreConfig(config, lo), b.batchSize, b.seqLen);
        // The estimate's chunk has a row for every position, the core's one per target: the difference exactly.
        const targets = b.labels.filter((y, i) => i % b.seqLen > 0 && y !== -100).length;
        expect(est - core.memory().bytes).toBe(4 * (b.batchSize * b.seqLen - targets) * (config.vocab_size + 2 * 128));
      }
      const acts = (c: TransformerCore, params: number): number => c.memory().bytes - 4 * params;
      expect(acts(lora, nBase + 4 * nLora) - acts(full, 4 * nBase)).toBe(4 * 2 * 9 * (2 * 7 * spec.r + spec.r));
    } finally {
      full.dispose();
      lora.dispose();
    }
  });

  it('refuses a bad adapter table, naming the role', () => {
    const spec = resolveLora(qwen2, { r: 2, alpha: 4 });
    const good = rawCoreConfig(qwen2, spec);
    const lora = good.lora!;
    const make = (tensors: typeof lora.tensors, r = 2) => new (addon().GptCore)({ ...good, lora: { ...lora, r, tensors } }, 0);
    expect(() => make(lora.tensors.map((t, i) => (i === 3 ? { ...t, numel: t.numel + 1 } : t)))).toThrow(
      /lora table: role 'self_attn\.k_proj\.lora_B\.weight' of layer 0 has \d+ elements, expected \d+ at rank 2/,
    );
    expect(() => make(lora.tensors.filter((t) => !(t.role === 'mlp.up_proj.lora_B.weight' && t.layer === 1)))).toThrow(
      /role 'mlp\.up_proj\.lora_B\.weight' of layer 1 is missing \(adapters come in A\/B pairs\)/,
    );
    expect(() => make([...lora.tensors, { role: 'mlp.c_fc.lora_A.weight', layer: 0, numel: 48, decay: true }])).toThrow(/unknown role 'mlp\.c_fc\.lora_A\.weight'/);
    expect(() => make([...lora.tensors, lora.tensors[0]!])).toThrow(/appears twice/);
    expect(() => make([])).toThrow(/at least one adapter/);
    expect(() => make(lora.tensors, 0)).toThrow(/lora\.r must be a positive integer/);
    const ok = make(lora.tensors);
    expect(ok.numParams()).toBe(lora.tensors.reduce((n, t) => n + t.numel, 0));
    ok.dispose();
    expect(nativeLayoutTable(qwen2).length).toBe(good.tensors.length);
  });

  it('NativeCore refuses LoRA on an addon without the lora feature (the CUDA core today)', async () => {
    const real = addon();
    const noLora: CoreAddon = { device: 'cuda', abi: real.abi, GptCore: real.GptCore };
    const spec = resolveLora(qwen2, { r: 2, alpha: 4 });
    const err = await NativeCore.create(qwen2, noLora, { seed: 1, lora: { spec } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/LoRA adapters are not implemented in the CUDA core/);
    // Without offset writes a plain core is still written whole and works.
    const plain = await NativeCore.create(qwen2, noLora, { weights: visibleBase(qwen2, 2) });
    expect((await plain.getWeights()).get('model.norm.weight')!.data).toEqual(visibleBase(qwen2, 2).get('model.norm.weight')!.data);
    plain.dispose();
  });
});
