import { describe, expect, it } from 'vitest';
import { parseGPT2Config } from '../src/arch/config.js';
import { NonFiniteLossError, ShapeError, ModelConfigError } from '../src/errors.js';
import type { LabeledBatch, NamedTensors } from '../src/backend/types.js';
import { createTfjsCore, type TfjsBackendName } from '../src/backend/tfjs/index.js';
import { Rng } from '../src/util/rng.js';
import { maxAbsDiff } from './helpers/fixtures.js';

const config = parseGPT2Config({ vocab_size: 80, n_positions: 32, n_embd: 32, n_layer: 2, n_head: 4 });

function batchFrom(seed: number, B = 2, T = 12): LabeledBatch {
  const rng = new Rng(seed);
  const inputIds = Int32Array.from({ length: B * T }, () => rng.int(config.vocab_size));
  return { batchSize: B, seqLen: T, inputIds, labels: Int32Array.from(inputIds) };
}

function sameBits(a: NamedTensors, b: NamedTensors): boolean {
  for (const [k, t] of a) {
    const u = b.get(k);
    if (!u || Buffer.compare(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength), Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength)) !== 0) return false;
  }
  return a.size === b.size;
}

describe.each<TfjsBackendName>(['cpu', 'wasm'])('tfjs-%s training semantics', (backend) => {
  it('a NaN weight makes trainStep throw NonFiniteLossError and leaves weights and step untouched', async () => {
    const seeded = await createTfjsCore(config, { backend, seed: 3 });
    const weights = await seeded.getWeights();
    seeded.dispose();
    weights.get('transformer.h.0.mlp.c_fc.weight')!.data[5] = Number.NaN;
    const core = await createTfjsCore(config, { backend, weights });
    const before = await core.getWeights();
    await expect(core.trainStep(batchFrom(1), { lr: 1e-3 })).rejects.toBeInstanceOf(NonFiniteLossError);
    expect(sameBits(before, await core.getWeights())).toBe(true);
    expect((await core.getOptimizerState()).step).toBe(0);
    core.dispose();
  });

  it('a non-finite gradient norm makes applyOptimizer throw and leaves weights untouched', async () => {
    const core = await createTfjsCore(config, { backend, seed: 4 });
    const before = await core.getWeights();
    await core.accumulateGradients(batchFrom(2), Number.POSITIVE_INFINITY);
    await expect(core.applyOptimizer({ lr: 1e-3 })).rejects.toThrow(/gradient norm/);
    expect(sameBits(before, await core.getWeights())).toBe(true);
    const r = await core.trainStep(batchFrom(2), { lr: 1e-3 }); // gradients were cleared: training goes on
    expect(Number.isFinite(r.loss)).toBe(true);
    core.dispose();
  });

  it('accumulating two half-scaled passes equals one full pass', async () => {
    const core = await createTfjsCore(config, { backend, seed: 5 });
    await core.accumulateGradients(batchFrom(3), 1);
    const once = await core.getGradients();
    core.zeroGradients();
    await core.accumulateGradients(batchFrom(3), 0.5);
    await core.accumulateGradients(batchFrom(3), 0.5);
    const twice = await core.getGradients();
    for (const [k, g] of once) expect(maxAbsDiff(g.data, twice.get(k)!.data), k).toBeLessThan(1e-6);
    core.dispose();
  });

  it('resuming from saved weights + optimizer state continues bit-identically', async () => {
    const a = await createTfjsCore(config, { backend, seed: 6 });
    await a.trainStep(batchFrom(10), { lr: 3e-3 });
    const savedW = await a.getWeights();
    const savedS = await a.getOptimizerState();
    expect(savedS.step).toBe(1);
    for (const s of [11, 12]) await a.trainStep(batchFrom(s), { lr: 3e-3 });
    const b = await createTfjsCore(config, { backend, weights: savedW });
    await b.setOptimizerState(savedS);
    for (const s of [11, 12]) await b.trainStep(batchFrom(s), { lr: 3e-3 });
    expect(sameBits(await a.getWeights(), await b.getWeights())).toBe(true);
    expect((await b.getOptimizerState()).step).toBe(3);
    a.dispose();
    b.dispose();
  });

  it('training lowers the loss on a fixed batch', async () => {
    const core = await createTfjsCore(config, { backend, seed: 7 });
    const batch = batchFrom(20);
    const first = (await core.loss(batch)).loss;
    for (let i = 0; i < 30; i++) await core.trainStep(batch, { lr: 1e-2 });
    expect((await core.loss(batch)).loss).toBeLessThan(first - 1);
    core.dispose();
  });

  it('rejects bad inputs with typed errors naming the element', async () => {
    const core = await createTfjsCore(config, { backend, seed: 8 });
    const bad = batchFrom(1);
    bad.inputIds[13] = config.vocab_size;
    await expect(core.forward(bad)).rejects.toThrow(/inputIds\[1\]\[1\] = 80/);
    await expect(core.forward({ ...batchFrom(1), seqLen: 40, batchSize: 1, inputIds: new Int32Array(40) })).rejects.toBeInstanceOf(ShapeError);
    const w = await core.getWeights();
    w.delete('transformer.ln_f.bias');
    await expect(core.setWeights(w)).rejects.toBeInstanceOf(ModelConfigError);
    expect(await core.loss({ ...batchFrom(1), labels: new Int32Array(24).fill(-100) })).toEqual({ loss: Number.NaN, tokens: 0 });
    core.dispose();
  });
});

describe('tfjs cores on different backends in one process', () => {
  it('interleaved cpu and wasm cores agree', async () => {
    const cpu = await createTfjsCore(config, { backend: 'cpu', seed: 9 });
    const wasm = await createTfjsCore(config, { backend: 'wasm', seed: 9 });
    const batch = batchFrom(30);
    const [lc, lw] = [await cpu.loss(batch), await wasm.loss(batch)];
    expect(Math.abs(lc.loss - lw.loss)).toBeLessThan(1e-5);
    const [rc, rw] = [await cpu.trainStep(batch, { lr: 1e-3 }), await wasm.trainStep(batch, { lr: 1e-3 })];
    expect(Math.abs(rc.gradNorm - rw.gradNorm) / rc.gradNorm).toBeLessThan(1e-4);
    expect(cpu.info.backend).toBe('tfjs-cpu');
    expect(wasm.info).toEqual({ implementation: 'tfjs', backend: 'tfjs-wasm', device: 'wasm' });
    cpu.dispose();
    wasm.dispose();
  });
});
