import { describe, expect, it } from 'vitest';
import { type GPT2Config, parseGPT2Config } from '../src/arch/config.js';
import { loadNativeAddon } from '../src/backend/native/addon.js';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import { createTfjsCore } from '../src/backend/tfjs/core.js';
import type { LabeledBatch, NamedTensors, TransformerCore } from '../src/backend/types.js';
import { paddedBatch } from './helpers/padded-batch.js';

// The native core's causal attention against the tfjs core (an independent implementation) for every
// built-in kernel level this CPU can run (forced through gemmSelect, like native-gemm.test.ts): head
// dims 16 and 32 take the direct kernels of native/src/attn_isa.h, head dim 8 the per-head GEMMs. The
// batch mixes right padding (the students' batches; the backward skips their trailing rows, whose dY is
// zero), left padding (queries that see no key at all: HF gives them uniform probabilities over every
// key, in the backward too), both at once, and odd lengths, so the kernels' row blocks of 4 and vector
// tails of 4/8/16 keys all end mid-way.
const probe = probeNativeCpu();
const loaded = loadNativeAddon();
const skip = !probe.ok || !loaded.ok;
if (skip) console.warn(`[native-attention] skipped: native core unavailable`);

const HEADS: Array<{ name: string; nEmbd: number; nHead: number }> = [
  { name: 'head dim 16', nEmbd: 32, nHead: 2 },
  { name: 'head dim 32', nEmbd: 64, nHead: 2 },
  { name: 'head dim 8 (GEMM path)', nEmbd: 32, nHead: 4 },
];
const LEVELS = ['avx512', 'avx2', 'scalar'];
const T = 23;

function config(nEmbd: number, nHead: number): GPT2Config {
  return parseGPT2Config({ vocab_size: 61, n_positions: 32, n_embd: nEmbd, n_layer: 2, n_head: nHead });
}

/** Rows as [first real position, length]: full, right-padded, left-padded (positions cumsum(mask) - 1),
 * right-padded short, and padded on both sides. */
function makeBatch(vocab: number): LabeledBatch {
  return paddedBatch([[0, T], [0, 17], [T - 13, 13], [0, 9], [3, 12]], T, vocab, 5);
}

/** Largest |a - b| over every tensor, relative to the tensor's largest |b|. */
function worstRelative(a: NamedTensors, b: NamedTensors): { name: string; rel: number } {
  let worst = { name: '', rel: 0 };
  for (const [name, t] of b) {
    const x = a.get(name)!.data;
    let diff = 0;
    let mag = 0;
    for (let i = 0; i < t.data.length; i++) {
      diff = Math.max(diff, Math.abs(x[i]! - t.data[i]!));
      mag = Math.max(mag, Math.abs(t.data[i]!));
    }
    const rel = diff / Math.max(mag, 1e-12);
    if (rel > worst.rel) worst = { name, rel };
  }
  return worst;
}

async function gradients(core: TransformerCore, batch: LabeledBatch): Promise<{ loss: number; grads: NamedTensors }> {
  core.zeroGradients();
  const { loss } = await core.accumulateGradients(batch);
  return { loss, grads: await core.getGradients() };
}

describe.skipIf(skip)('native causal attention matches the tfjs core', () => {
  const seen = new Set<string>();
  for (const level of LEVELS) {
    it(`kernels: ${level}`, async () => {
      if (!probe.ok || !loaded.ok) return;
      const using = loaded.addon.gemmSelect(level);
      try {
        if (seen.has(using)) return; // a level above this CPU's falls back to one already covered
        seen.add(using);
        for (const head of HEADS) {
          const cfg = config(head.nEmbd, head.nHead);
          const tfjs = await createTfjsCore(cfg, { backend: 'cpu', seed: 3 });
          const native = await probe.createCore(cfg, { seed: 3 });
          await native.setWeights(await tfjs.getWeights());
          const batch = makeBatch(cfg.vocab_size);

          const fwdN = await native.forward(batch);
          const fwdT = await tfjs.forward(batch);
          const [ln, lt] = [await fwdN.logits.data(), await fwdT.logits.data()];
          fwdN.logits.dispose();
          fwdT.logits.dispose();
          let worst = 0;
          for (let i = 0; i < lt.length; i++) worst = Math.max(worst, Math.abs(ln[i]! - lt[i]!));
          expect(worst, `${head.name}: logits`).toBeLessThan(1e-4);

          const n = await gradients(native, batch);
          const t = await gradients(tfjs, batch);
          expect(Math.abs(n.loss - t.loss), `${head.name}: loss`).toBeLessThan(1e-5);
          const g = worstRelative(n.grads, t.grads);
          expect(g.rel, `${head.name}: gradient of ${g.name}`).toBeLessThan(1e-4);

          // Deterministic: the same batch gives bit-identical gradients.
          const again = await gradients(native, batch);
          expect(worstRelative(again.grads, n.grads).rel, `${head.name}: repeat`).toBe(0);
          native.dispose();
          tfjs.dispose();
        }
      } finally {
        loaded.addon.gemmSelect('auto');
      }
    });
  }
});
