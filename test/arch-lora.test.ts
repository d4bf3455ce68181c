import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/arch/config.js';
import { fromPeftName, initLoraWeights, loraLayout, mergeLoraWeights, peftName, resolveLora } from '../src/arch/lora.js';
import type { NamedTensors } from '../src/arch/tensors.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { hasModernFixtures, loadModernFixture, MODERN_DIR } from './helpers/modern.js';

const tiny = parseModelConfig({
  model_type: 'llama', vocab_size: 10, hidden_size: 4, intermediate_size: 6, num_hidden_layers: 1,
  num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 8,
});

describe('LoRA adapter layout (PEFT names and shapes)', () => {
  it.skipIf(!hasModernFixtures)('names and shapes are exactly the 28 tensors PEFT saved for the llama fixture', async () => {
    const fx = await loadModernFixture('llama');
    const spec = resolveLora(fx.config, { r: 4, alpha: 8 });
    const saved = (await readSafetensors(join(MODERN_DIR, 'llama-lora', 'adapter_model.safetensors'))).tensors;
    const layout = loraLayout(fx.config, spec);
    expect(layout).toHaveLength(28);
    expect(new Map(layout.map((t) => [peftName(t.name), t.shape]))).toEqual(new Map([...saved].map(([k, t]) => [k, t.shape])));
    expect([...saved.keys()].every((k) => peftName(fromPeftName(k)) === k)).toBe(true);
    expect(fromPeftName('base_model.model.model.layers.0.mlp.up_proj.lora_A.default.weight')).toBe('model.layers.0.mlp.up_proj.lora_A.weight');
  });

  it('refuses a target the architecture lacks, listing the valid ones', () => {
    expect(() => resolveLora(tiny, { r: 4, alpha: 8, targets: ['q_proj', 'c_attn'] })).toThrow(/no module "c_attn".*valid targets: q_proj, k_proj/);
    expect(() => resolveLora(tiny, { r: 0, alpha: 8 })).toThrow(/invalid LoRA options at r/);
    expect(resolveLora(tiny, { r: 2, alpha: 4, targets: ['v_proj', 'q_proj', 'q_proj'] }).targets).toEqual(['q_proj', 'v_proj']);
  });

  it('PEFT init: B is zero and A is bounded by 1/sqrt(in), identical for a seed', () => {
    const spec = resolveLora(tiny, { r: 2, alpha: 4 });
    const w = initLoraWeights(tiny, spec, 7);
    const a = w.get('model.layers.0.mlp.down_proj.lora_A.weight')!;
    expect(a.shape).toEqual([2, 6]);
    expect(Math.max(...a.data.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(6));
    expect(a.data.some((x) => x !== 0)).toBe(true);
    expect(w.get('model.layers.0.mlp.down_proj.lora_B.weight')!.data.every((x) => x === 0)).toBe(true);
    expect(initLoraWeights(tiny, spec, 7).get('model.layers.0.mlp.down_proj.lora_A.weight')!.data).toEqual(a.data);
  });

  it('merge adds (alpha/r) B A to [out, in] weights and its transpose to GPT-2 [in, out] weights', () => {
    const spec = resolveLora(tiny, { r: 1, alpha: 2, targets: ['k_proj'] }); // scale 2; k_proj is [2, 4]
    const base: NamedTensors = new Map([['model.layers.0.self_attn.k_proj.weight', { shape: [2, 4], data: new Float32Array(8) }]]);
    const adapters: NamedTensors = new Map([
      ['model.layers.0.self_attn.k_proj.lora_A.weight', { shape: [1, 4], data: Float32Array.from([1, 2, 3, 4]) }],
      ['model.layers.0.self_attn.k_proj.lora_B.weight', { shape: [2, 1], data: Float32Array.from([1, -1]) }],
    ]);
    const merged = mergeLoraWeights(tiny, spec, base, adapters).get('model.layers.0.self_attn.k_proj.weight')!;
    expect([...merged.data]).toEqual([2, 4, 6, 8, -2, -4, -6, -8]);
    expect([...base.get('model.layers.0.self_attn.k_proj.weight')!.data]).toEqual(new Array(8).fill(0)); // base untouched

    const gpt2 = parseModelConfig({ vocab_size: 5, n_positions: 4, n_embd: 2, n_layer: 1, n_head: 1, n_inner: 3 });
    const g = resolveLora(gpt2, { r: 1, alpha: 1, targets: ['c_fc'] }); // c_fc weight [in 2, out 3]
    const gBase: NamedTensors = new Map([['transformer.h.0.mlp.c_fc.weight', { shape: [2, 3], data: new Float32Array(6) }]]);
    const gAd: NamedTensors = new Map([
      ['transformer.h.0.mlp.c_fc.lora_A.weight', { shape: [1, 2], data: Float32Array.from([1, 10]) }],
      ['transformer.h.0.mlp.c_fc.lora_B.weight', { shape: [3, 1], data: Float32Array.from([1, 2, 3]) }],
    ]);
    expect(loraLayout(gpt2, g).map((t) => t.shape)).toEqual([[1, 2], [3, 1]]);
    // (B A) is [out 3, in 2] = [[1,10],[2,20],[3,30]]; stored transposed [in, out].
    expect([...mergeLoraWeights(gpt2, g, gBase, gAd).get('transformer.h.0.mlp.c_fc.weight')!.data]).toEqual([1, 2, 3, 10, 20, 30]);
  });
});
