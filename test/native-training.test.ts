import { describe, expect, it } from 'vitest';
import { type GPT2Config, parseGPT2Config } from '../src/arch/config.js';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import { createTfjsCore } from '../src/backend/tfjs/core.js';
import type { LabeledBatch, TransformerCore } from '../src/backend/types.js';
import { BackendUnavailableError, NonFiniteLossError, ShapeError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';
import { maxAbsDiff } from './helpers/fixtures.js';

const probe = probeNativeCpu();
if (!probe.ok) console.warn(`[native-training] skipped: native core unavailable: ${probe.reason}`);

const config: GPT2Config = parseGPT2Config({ vocab_size: 97, n_positions: 32, n_embd: 32, n_layer: 2, n_head: 2 });

/** Random right-padded batches with -100 on padding and the prompt part, like the students' batches. */
function makeBatch(rng: Rng, B: number, T: number): LabeledBatch {
  const inputIds = new Int32Array(B * T);
  const attentionMask = new Uint8Array(B * T);
  const labels = new Int32Array(B * T).fill(-100);
  for (let b = 0; b < B; b++) {
    const len = 4 + rng.int(T - 3);
    const prompt = rng.int(3);
    for (let t = 0; t < T; t++) {
      const real = t < len;
      inputIds[b * T + t] = real ? rng.int(config.vocab_size) : 0;
      attentionMask[b * T + t] = real ? 1 : 0;
      if (real && t >= prompt) labels[b * T + t] = inputIds[b * T + t]!;
    }
  }
  return { batchSize: B, seqLen: T, inputIds, attentionMask, labels };
}

async function nativeCore(seed: number): Promise<TransformerCore> {
  if (!probe.ok) throw new Error(probe.reason);
  return probe.createCore(config, { seed });
}

describe.skipIf(!probe.ok)('native CPU core training', () => {
  it('follows the same loss curve as the tfjs core from the same seed', async () => {
    const native = await nativeCore(7);
    const tfjs = await createTfjsCore(config, { backend: 'cpu', seed: 7 });
    const rng = new Rng(123);
    const step = { lr: 3e-3, weightDecay: 0.01, maxGradNorm: 1.0 };
    const curveN: number[] = [];
    const curveT: number[] = [];
    for (let s = 0; s < 12; s++) {
      const batch = makeBatch(rng, 4, 16);
      const a = await native.trainStep(batch, step);
      const b = await tfjs.trainStep(batch, step);
      expect(a.tokens).toBe(b.tokens);
      expect(Math.abs(a.gradNorm - b.gradNorm) / b.gradNorm).toBeLessThan(1e-3);
      curveN.push(a.loss);
      curveT.push(b.loss);
    }
    expect(maxAbsDiff(curveN, curveT)).toBeLessThan(1e-4);
    expect(curveN[curveN.length - 1]!).toBeLessThan(curveN[0]!); // it learns
    const wn = await native.getWeights();
    const wt = await tfjs.getWeights();
    for (const [name, t] of wn) expect(maxAbsDiff(t.data, wt.get(name)!.data), name).toBeLessThan(1e-3);
    native.dispose();
    tfjs.dispose();
  });

  it('resumes bit-exactly from saved weights and optimizer state', async () => {
    const a = await nativeCore(1);
    const rng = new Rng(5);
    const batches = [makeBatch(rng, 3, 12), makeBatch(rng, 3, 12), makeBatch(rng, 3, 12)];
    const step = { lr: 1e-3 };
    await a.trainStep(batches[0]!, step);
    await a.trainStep(batches[1]!, step);
    const weights = await a.getWeights();
    const state = await a.getOptimizerState();
    expect(state.step).toBe(2);
    const b = await nativeCore(99);
    await b.setWeights(weights);
    await b.setOptimizerState(state);
    const ra = await a.trainStep(batches[2]!, step);
    const rb = await b.trainStep(batches[2]!, step);
    expect(rb).toEqual(ra);
    const wa = await a.getWeights();
    const wb = await b.getWeights();
    for (const [name, t] of wa) expect(maxAbsDiff(t.data, wb.get(name)!.data), name).toBe(0);
    a.dispose();
    b.dispose();
  });

  it('gradient accumulation over two half batches equals one full batch', async () => {
    const core = await nativeCore(3);
    const full = makeBatch(new Rng(8), 4, 10);
    const half = (lo: number): LabeledBatch => ({
      batchSize: 2,
      seqLen: 10,
      inputIds: full.inputIds.slice(lo * 10, (lo + 2) * 10),
      attentionMask: full.attentionMask!.slice(lo * 10, (lo + 2) * 10),
      labels: full.labels.slice(lo * 10, (lo + 2) * 10),
    });
    core.zeroGradients();
    const r = await core.accumulateGradients(full);
    const gFull = await core.getGradients();
    core.zeroGradients();
    const h0 = half(0);
    const h1 = half(2);
    const l0 = await core.loss(h0);
    const l1 = await core.loss(h1);
    await core.accumulateGradients(h0, l0.tokens / r.tokens);
    await core.accumulateGradients(h1, l1.tokens / r.tokens);
    const gAcc = await core.getGradients();
    for (const [name, g] of gFull) expect(maxAbsDiff(g.data, gAcc.get(name)!.data), name).toBeLessThan(1e-6);
    core.dispose();
  });

  it('throws NonFiniteLossError and leaves the weights untouched', async () => {
    const core = await nativeCore(4);
    const batch = makeBatch(new Rng(9), 2, 8);
    const weights = await core.getWeights();
    const noTargets = { ...batch, labels: new Int32Array(batch.labels.length).fill(-100) };
    expect((await core.loss(noTargets)).tokens).toBe(0);
    await expect(core.trainStep(noTargets, { lr: 1e-3 })).rejects.toBeInstanceOf(NonFiniteLossError);
    const poisoned = new Map(weights);
    const lnf = weights.get('transformer.ln_f.weight')!;
    poisoned.set('transformer.ln_f.weight', { shape: lnf.shape, data: lnf.data.map((x, i) => (i === 0 ? NaN : x)) });
    await core.setWeights(poisoned);
    await expect(core.trainStep(batch, { lr: 1e-3 })).rejects.toBeInstanceOf(NonFiniteLossError);
    const after = await core.getWeights();
    expect(Number.isNaN(after.get('transformer.ln_f.weight')!.data[0])).toBe(true);
    for (const [name, t] of after) {
      if (name !== 'transformer.ln_f.weight') expect(maxAbsDiff(t.data, weights.get(name)!.data), name).toBe(0);
    }
    expect((await core.getOptimizerState()).step).toBe(0);
    core.dispose();
  });

  it('rejects malformed input with ShapeError before it reaches native code', async () => {
    const core = await nativeCore(5);
    const batch = makeBatch(new Rng(10), 2, 8);
    await expect(core.loss({ ...batch, inputIds: batch.inputIds.map(() => 97) })).rejects.toThrow(/inputIds\[0\]\[0\] = 97/);
    await expect(core.loss({ ...batch, labels: batch.labels.subarray(1) })).rejects.toBeInstanceOf(ShapeError);
    await expect(core.forward({ batchSize: 1, seqLen: 40, inputIds: new Int32Array(40) })).rejects.toThrow(/n_positions/);
    const w = await core.getWeights();
    w.delete('transformer.h.1.mlp.c_fc.bias');
    await expect(core.setWeights(w)).rejects.toThrow(/transformer\.h\.1\.mlp\.c_fc\.bias/);
    core.dispose();
    await expect(core.loss(batch)).rejects.toThrow(/disposed/);
  });

  it('validates input and guards dispose exactly like the tfjs core (one shared implementation)', async () => {
    const native = await nativeCore(6);
    const tfjs = await createTfjsCore(config, { backend: 'cpu', seed: 6 });
    const batch = makeBatch(new Rng(11), 2, 8);
    const badLabels = batch.labels.slice();
    badLabels[9] = config.vocab_size;
    const bad: Array<[string, (core: TransformerCore) => Promise<unknown>]> = [
      ['position out of range', (c) => c.forward({ ...batch, positionIds: new Int32Array(16).fill(config.n_positions) })],
      ['short mask', (c) => c.forward({ ...batch, attentionMask: batch.attentionMask!.subarray(1) })],
      ['label out of range', (c) => c.accumulateGradients({ ...batch, labels: badLabels })],
      ['zero batch size', (c) => c.loss({ ...batch, batchSize: 0 })],
      ['decode maxLength below the prompt', (c) => c.startDecode(batch, { maxLength: 4 })],
    ];
    for (const [what, call] of bad) {
      const [n, t] = await Promise.all([call(native).catch((e: unknown) => e), call(tfjs).catch((e: unknown) => e)]);
      expect(n, what).toBeInstanceOf(ShapeError);
      expect((n as Error).message, what).toBe((t as Error).message);
    }
    // A decode step past the cache, and a step on a disposed session, fail the same way too.
    const prompt = { batchSize: 1, seqLen: 2, inputIds: Int32Array.of(1, 2) };
    for (const core of [native, tfjs]) {
      const session = await core.startDecode(prompt, { maxLength: 3 });
      await session.step(Int32Array.of(3), Int32Array.of(2));
      await expect(session.step(Int32Array.of(3), Int32Array.of(3))).rejects.toThrow('decode step: the cache is full (maxLength 3)');
      session.dispose();
      await expect(session.step(Int32Array.of(3), Int32Array.of(3))).rejects.toThrow(new ShapeError('decode session was disposed'));
    }
    native.dispose();
    tfjs.dispose();
    for (const core of [native, tfjs]) {
      const err = await core.loss(batch).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendUnavailableError);
      expect((err as Error).message).toBe(`this ${core.info.backend} core was disposed`);
      expect(() => core.dispose()).not.toThrow();
    }
  });
});
