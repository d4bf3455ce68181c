import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/arch/config.js';
import { fromPeftName, type LoraSpec, mergeLoraWeights, resolveLora } from '../../src/arch/lora.js';
import type { NamedTensors, TransformerCore } from '../../src/backend/types.js';
import { readSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { asFloat, maxAbs, maxAbsDiff } from './fixtures.js';
import { hasModernFixtures, lastFourRealRows, loadModernFixture, MODERN_DIR, type ModernFixture } from './modern.js';
import { readFileSync } from 'node:fs';

// The PEFT LoRA fixture (../shared/fixtures/modern/llama-lora, r 4, alpha 8 on q/k/v/o/gate/up/down of llama/): one
// suite every core with LoRA runs, with the fixture README's tolerances in one place.

export interface LoraFixture {
  base: ModernFixture;
  spec: LoraSpec;
  /** Adapter tensors by loraLayout name (PEFT's prefix and `.default` removed). */
  adapter: NamedTensors;
  outputs: Map<string, RawTensor>;
  grads: NamedTensors;
  paramsAfterStep: NamedTensors;
  meta: { loss: number; grad_norm_preclip: number };
}

const rename = (m: NamedTensors): NamedTensors => new Map([...m].map(([k, t]) => [fromPeftName(k), t]));

export async function loadLoraFixture(): Promise<LoraFixture> {
  const dir = join(MODERN_DIR, 'llama-lora');
  const base = await loadModernFixture('llama');
  const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as { r: number; lora_alpha: number; target_modules: string[] };
  return {
    base,
    spec: resolveLora(base.config, { r: cfg.r, alpha: cfg.lora_alpha, targets: cfg.target_modules as [string, ...string[]] }),
    adapter: rename(asFloat((await readSafetensors(join(dir, 'adapter_model.safetensors'))).tensors)),
    outputs: (await readSafetensors(join(dir, 'outputs.safetensors'))).tensors,
    grads: rename(asFloat((await readSafetensors(join(dir, 'grads.safetensors'))).tensors)),
    paramsAfterStep: rename(asFloat((await readSafetensors(join(dir, 'params_after_step.safetensors'))).tensors)),
    meta: JSON.parse(readFileSync(join(dir, 'lora_meta.json'), 'utf8')) as LoraFixture['meta'],
  };
}

const f32 = (m: Map<string, RawTensor>, name: string): Float32Array => m.get(name)!.data as Float32Array;

async function lastFourReal(core: TransformerCore, fx: LoraFixture): Promise<Float32Array> {
  const { batch } = fx.base;
  const V = fx.base.config.vocab_size;
  const T = batch.seqLen;
  const { logits } = await core.forward(batch);
  const data = await logits.data();
  logits.dispose();
  return lastFourRealRows(fx.base, data, T, V);
}

export interface LoraParitySpec {
  /** A core over `base` weights with LoRA `spec`, its adapters set to `adapter`. */
  makeLoraCore(config: ModelConfig, base: NamedTensors, spec: LoraSpec, adapter: NamedTensors): Promise<TransformerCore>;
  /** A plain core (for merged-versus-unmerged logits). */
  makeCore(config: ModelConfig, weights: NamedTensors): Promise<TransformerCore>;
}

/** Logits and loss with the adapter, the 28 LoRA gradients, the adapter after one clip + AdamW step, merged logits. */
export function describeLoraParity(title: string, skip: boolean, spec: LoraParitySpec): void {
  describe.skipIf(skip || !hasModernFixtures)(title, () => {
    let fx: LoraFixture;
    let core: TransformerCore;
    beforeAll(async () => {
      fx = await loadLoraFixture();
      core = await spec.makeLoraCore(fx.base.config, fx.base.weights, fx.spec, fx.adapter);
      return () => core.dispose();
    });

    it('logits and loss with the adapter match PEFT', async () => {
      expect(core.lora).toEqual(fx.spec);
      expect(maxAbsDiff(await lastFourReal(core, fx), f32(fx.outputs, 'logits_last4_real'))).toBeLessThan(5e-5);
      const l = await core.loss(fx.base.batch);
      expect(Math.abs(l.loss - f32(fx.outputs, 'loss')[0]!)).toBeLessThan(3e-5);
    });

    it('gradients exist for the 28 LoRA matrices only, and match PEFT', async () => {
      core.zeroGradients();
      await core.accumulateGradients(fx.base.batch);
      const grads = await core.getGradients();
      expect([...grads.keys()].sort()).toEqual([...fx.grads.keys()].sort());
      for (const [name, g] of grads) {
        const ref = fx.grads.get(name)!;
        expect(g.shape, name).toEqual(ref.shape);
        expect(maxAbsDiff(g.data, ref.data), name).toBeLessThanOrEqual(2e-5 * maxAbs(ref.data) + 1e-9);
      }
      core.zeroGradients();
      // The base is frozen: its weights are what was loaded.
      const base = await core.getBaseWeights!();
      expect(maxAbsDiff(base.get('model.layers.0.self_attn.q_proj.weight')!.data, fx.base.weights.get('model.layers.0.self_attn.q_proj.weight')!.data)).toBe(0);
    });

    it('one clip + AdamW step over the adapters alone matches torch', async () => {
      const stepCore = await spec.makeLoraCore(fx.base.config, fx.base.weights, fx.spec, fx.adapter);
      try {
        const r = await stepCore.trainStep(fx.base.batch, { lr: 1e-3, weightDecay: 0.01, maxGradNorm: 1.0 });
        expect(Math.abs(r.gradNorm - fx.meta.grad_norm_preclip) / fx.meta.grad_norm_preclip).toBeLessThan(1e-4);
        const after = await stepCore.getWeights();
        expect([...after.keys()].sort()).toEqual([...fx.paramsAfterStep.keys()].sort());
        for (const [name, t] of after) expect(maxAbsDiff(t.data, fx.paramsAfterStep.get(name)!.data), name).toBeLessThan(1e-5);
        const base = await stepCore.getBaseWeights!();
        for (const [name, t] of fx.base.weights) expect(maxAbsDiff(base.get(name)!.data, t.data), `${name} stays frozen`).toBe(0);
      } finally {
        stepCore.dispose();
      }
    });

    it('merged weights give the adapter logits (5e-5)', async () => {
      const merged = await spec.makeCore(fx.base.config, mergeLoraWeights(fx.base.config, fx.spec, fx.base.weights, fx.adapter));
      try {
        expect(maxAbsDiff(await lastFourReal(merged, fx), await lastFourReal(core, fx))).toBeLessThan(5e-5);
      } finally {
        merged.dispose();
      }
    });
  });
}
