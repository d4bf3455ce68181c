import { describe, expect, it } from 'vitest';
import type { LlamaConfig } from '../src/arch/llama.js';
import { hasModernFixtures, loadModernFixture, MODERN_MODELS } from './helpers/modern.js';
import { llamaReference, referenceGradient, toFloat64 } from './helpers/llamaReference.js';

// The float64 reference that checks the Llama-family shapes the fixtures lack (test/helpers/llamaVariants.ts)
// must itself reproduce HF on the shapes the fixtures have.
describe.skipIf(!hasModernFixtures).each(MODERN_MODELS)('the float64 Llama reference reproduces HF: %s', (name) => {
  it('logits at the last 4 real positions, the loss, and central-difference gradients', async () => {
    const fx = await loadModernFixture(name);
    const config = fx.config as LlamaConfig;
    const w = toFloat64(fx.weights);
    const ref = llamaReference(config, w, fx.batch);
    const V = config.vocab_size;
    const T = fx.batch.seqLen;
    const hf = fx.outputs.get('logits_last4_real')!.data as Float32Array;
    let worst = 0;
    fx.batchJson.last4_real_positions.forEach((positions, b) =>
      positions.forEach((t, k) => {
        for (let j = 0; j < V; j++) worst = Math.max(worst, Math.abs(ref.logits[(b * T + t) * V + j]! - hf[(b * 4 + k) * V + j]!));
      }),
    );
    expect(worst).toBeLessThan(5e-5);
    expect(Math.abs(ref.loss - (fx.outputs.get('loss')!.data as Float32Array)[0]!)).toBeLessThan(3e-5);
    for (const p of ['model.layers.0.self_attn.k_proj.weight', 'model.layers.1.mlp.gate_proj.weight', 'model.norm.weight']) {
      const g = fx.grads.get(p)!.data;
      let top = 0;
      g.forEach((x, i) => (Math.abs(x) > Math.abs(g[top]!) ? (top = i) : 0));
      expect(Math.abs(referenceGradient(config, w, fx.batch, p, top) - g[top]!), p).toBeLessThan(2e-5 * Math.abs(g[top]!));
    }
  });
});
