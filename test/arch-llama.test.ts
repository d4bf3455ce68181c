import { describe, expect, it } from 'vitest';
import { archDims, parseModelConfig, SUPPORTED_MODEL_TYPES } from '../src/arch/config.js';
import { initWeights } from '../src/arch/init.js';
import { nativeLayoutTable, numel, paramLayout } from '../src/arch/layout.js';
import { ModelConfigError } from '../src/errors.js';
import { hasModernFixtures, loadModernFixture, MODERN_MODELS } from './helpers/modern.js';

const smol = {
  model_type: 'llama',
  vocab_size: 49152,
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  max_position_embeddings: 8192,
  rope_theta: 100000,
  tie_word_embeddings: true,
};

describe('Llama-family configs and layouts', () => {
  it.skipIf(!hasModernFixtures).each(MODERN_MODELS)('%s: the layout is exactly the tensors HF saved, in names and shapes', async (name) => {
    const fx = await loadModernFixture(name);
    const layout = paramLayout(fx.config);
    expect(new Map(layout.map((s) => [s.name, [...s.shape]]))).toEqual(new Map([...fx.weights].map(([k, t]) => [k, t.shape])));
    // Weight decay on ndim >= 2 exactly as the fixture's torch parameter groups.
    expect(layout.filter((s) => s.decay).map((s) => s.name).sort()).toEqual([...fx.meta.optimizer.decay_params].sort());
    const table = nativeLayoutTable(fx.config);
    expect(table.map((r) => r.numel)).toEqual(layout.map((s) => numel(s.shape)));
    expect(table.every((r, i) => r.layer === layout[i]!.layer && layout[i]!.name.endsWith(r.role))).toBe(true);
  });

  it('reads rope_theta from both the top level (older checkpoints) and transformers 5 rope_parameters', () => {
    expect(archDims(parseModelConfig(smol)).ropeTheta).toBe(100000);
    const t5 = { ...smol, rope_theta: undefined, rope_parameters: { rope_theta: 1e6, rope_type: 'default' } };
    expect(archDims(parseModelConfig(t5)).ropeTheta).toBe(1e6);
  });

  it('derives GQA, head_dim, q/k norms and biases from the HF fields', () => {
    const d = archDims(parseModelConfig(smol));
    expect([d.heads, d.kvHeads, d.headDim, d.inner, d.tied]).toEqual([9, 3, 64, 1536, true]);
    const qwen3 = archDims(parseModelConfig({ ...smol, model_type: 'qwen3', head_dim: 128, tie_word_embeddings: false }));
    expect([qwen3.headDim, qwen3.qkNorm, qwen3.qkvBias, qwen3.tied]).toEqual([128, true, false, false]);
    const qwen2 = archDims(parseModelConfig({ ...smol, model_type: 'qwen2' }));
    expect([qwen2.qkvBias, qwen2.oBias]).toEqual([true, false]);
    const names = paramLayout(parseModelConfig({ ...smol, model_type: 'qwen2', num_hidden_layers: 1 })).map((s) => s.name);
    expect(names).toContain('model.layers.0.self_attn.k_proj.bias');
    expect(names).not.toContain('model.layers.0.self_attn.o_proj.bias');
  });

  it('refuses llama3 rope scaling by name, and an unsupported model_type with the supported list', () => {
    const llama32 = { ...smol, rope_scaling: { rope_type: 'llama3', factor: 32 } };
    expect(() => parseModelConfig(llama32, 'Llama-3.2-1B/config.json')).toThrow(/Llama-3.2-1B\/config.json.*"llama3" is not supported/);
    expect(() => parseModelConfig({ ...smol, model_type: 'mistral' })).toThrow(ModelConfigError);
    expect(() => parseModelConfig({ ...smol, model_type: 'mistral' })).toThrow(`supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
    expect(() => parseModelConfig({ ...smol, num_key_value_heads: 4 })).toThrow(/multiple of num_key_value_heads/);
  });

  it('initialises norms to 1, matrices ~ N(0, 0.02) and is the same for the same seed', () => {
    const c = parseModelConfig({ ...smol, vocab_size: 100, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2 });
    const w = initWeights(c, 3);
    expect([...w.get('model.layers.0.input_layernorm.weight')!.data].every((x) => x === 1)).toBe(true);
    const q = w.get('model.layers.0.self_attn.q_proj.weight')!.data;
    const sd = Math.sqrt(q.reduce((s, x) => s + x * x, 0) / q.length);
    expect(sd).toBeGreaterThan(0.018);
    expect(sd).toBeLessThan(0.022);
    expect(initWeights(c, 3).get('model.embed_tokens.weight')!.data).toEqual(w.get('model.embed_tokens.weight')!.data);
  });
});
