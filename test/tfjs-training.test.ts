import { describe, expect, it } from 'vitest';
import { type ModelConfig, parseGPT2Config } from '../src/arch/config.js';
import { parseLlamaConfig } from '../src/arch/llama.js';
import { NonFiniteLossError, ShapeError, ModelConfigError } from '../src/errors.js';
import type { LabeledBatch, NamedTensors } from '../src/backend/types.js';
import { createTfjsCore, type TfjsBackendName } from '../src/backend/tfjs/index.js';
import { Rng } from '../src/util/rng.js';
import { maxAbs, maxAbsDiff } from './helpers/fixtures.js';

interface Arch {
  config: ModelConfig;
  /** A block weight to poison, and a parameter to leave out of setWeights. */
  matrix: string;
  dropped: string;
}

const ARCHS: Record<string, Arch> = {
  gpt2: { config: parseGPT2Config({ vocab_size: 80, n_positions: 32, n_embd: 32, n_layer: 2, n_head: 4 }), matrix: 'transformer.h.0.mlp.c_fc.weight', dropped: 'transformer.ln_f.bias' },
  // GQA, q/k/v biases, an untied head; its block weights live transposed on the device, moments included.
  qwen2: {
    config: parseLlamaConfig({ model_type: 'qwen2', vocab_size: 80, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32 }),
    matrix: 'model.layers.0.mlp.gate_proj.weight',
    dropped: 'lm_head.weight',
  },
};

function batchFrom(config: ModelConfig, seed: number, B = 2, T = 12): LabeledBatch {
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

const CASES = (['cpu', 'wasm'] as TfjsBackendName[]).flatMap((backend) => Object.keys(ARCHS).map((arch) => [backend, arch] as const));

describe.each(CASES)('tfjs-%s training semantics (%s)', (backend, arch) => {
  const { config, matrix, dropped } = ARCHS[arch]!;
  const batchOf = (seed: number): LabeledBatch => batchFrom(config, seed);
  it('a NaN weight makes trainStep throw NonFiniteLossError and leaves weights and step untouched', async () => {
    const seeded = await createTfjsCore(config, { backend, seed: 3 });
    const weights = await seeded.getWeights();
    seeded.dispose();
    weights.get(matrix)!.data[5] = Number.NaN;
    const core = await createTfjsCore(config, { backend, weights });
    const before = await core.getWeights();
    await expect(core.trainStep(batchOf(1), { lr: 1e-3 })).rejects.toBeInstanceOf(NonFiniteLossError);
    expect(sameBits(before, await core.getWeights())).toBe(true);
    expect((await core.getOptimizerState()).step).toBe(0);
    core.dispose();
  });

  it('a non-finite gradient norm makes applyOptimizer throw and leaves weights untouched', async () => {
    const core = await createTfjsCore(config, { backend, seed: 4 });
    const before = await core.getWeights();
    await core.accumulateGradients(batchOf(2), Number.POSITIVE_INFINITY);
    await expect(core.applyOptimizer({ lr: 1e-3 })).rejects.toThrow(/gradient norm/);
    expect(sameBits(before, await core.getWeights())).toBe(true);
    const r = await core.trainStep(batchOf(2), { lr: 1e-3 }); // gradients were cleared: training goes on
    expect(Number.isFinite(r.loss)).toBe(true);
    core.dispose();
  });

  it('accumulating two half-scaled passes equals one full pass', async () => {
    const core = await createTfjsCore(config, { backend, seed: 5 });
    await core.accumulateGradients(batchOf(3), 1);
    const once = await core.getGradients();
    core.zeroGradients();
    await core.accumulateGradients(batchOf(3), 0.5);
    await core.accumulateGradients(batchOf(3), 0.5);
    const twice = await core.getGradients();
    for (const [k, g] of once) expect(maxAbsDiff(g.data, twice.get(k)!.data), k).toBeLessThan(1e-6);
    core.dispose();
  });

  it('resuming from saved weights + optimizer state continues bit-identically', async () => {
    const a = await createTfjsCore(config, { backend, seed: 6 });
    await a.trainStep(batchOf(10), { lr: 3e-3 });
    const savedW = await a.getWeights();
    const savedS = await a.getOptimizerState();
    expect(savedS.step).toBe(1);
    for (const s of [11, 12]) await a.trainStep(batchOf(s), { lr: 3e-3 });
    const b = await createTfjsCore(config, { backend, weights: savedW });
    await b.setOptimizerState(savedS);
    for (const s of [11, 12]) await b.trainStep(batchOf(s), { lr: 3e-3 });
    expect(sameBits(await a.getWeights(), await b.getWeights())).toBe(true);
    expect((await b.getOptimizerState()).step).toBe(3);
    a.dispose();
    b.dispose();
  });

  it('training lowers the loss on a fixed batch', async () => {
    const core = await createTfjsCore(config, { backend, seed: 7 });
    const batch = batchOf(20);
    const first = (await core.loss(batch)).loss;
    for (let i = 0; i < 30; i++) await core.trainStep(batch, { lr: 1e-2 });
    expect((await core.loss(batch)).loss).toBeLessThan(first - 1);
    core.dispose();
  });

  it('rejects bad inputs with typed errors naming the element', async () => {
    const core = await createTfjsCore(config, { backend, seed: 8 });
    const bad = batchOf(1);
    bad.inputIds[13] = config.vocab_size;
    await expect(core.forward(bad)).rejects.toThrow(/inputIds\[1\]\[1\] = 80/);
    await expect(core.forward({ ...batchOf(1), seqLen: 40, batchSize: 1, inputIds: new Int32Array(40) })).rejects.toBeInstanceOf(ShapeError);
    const w = await core.getWeights();
    w.delete(dropped);
    await expect(core.setWeights(w)).rejects.toBeInstanceOf(ModelConfigError);
    expect(await core.loss({ ...batchOf(1), labels: new Int32Array(24).fill(-100) })).toEqual({ loss: Number.NaN, tokens: 0 });
    core.dispose();
  });
});

describe.each(Object.keys(ARCHS))('tfjs cores on different backends in one process (%s)', (arch) => {
  const { config } = ARCHS[arch]!;
  const batchOf = (seed: number): LabeledBatch => batchFrom(config, seed);
  it('interleaved cpu and wasm cores agree', async () => {
    const cpu = await createTfjsCore(config, { backend: 'cpu', seed: 9 });
    const wasm = await createTfjsCore(config, { backend: 'wasm', seed: 9 });
    const batch = batchOf(30);
    const [lc, lw] = [await cpu.loss(batch), await wasm.loss(batch)];
    expect(Math.abs(lc.loss - lw.loss)).toBeLessThan(1e-5);
    // Every gradient agrees (for qwen2 each download transposes the device's W^T back to HF's layout).
    await cpu.accumulateGradients(batch);
    await wasm.accumulateGradients(batch);
    const [gc, gw] = [await cpu.getGradients(), await wasm.getGradients()];
    for (const [k, g] of gc) expect(maxAbsDiff(g.data, gw.get(k)!.data), k).toBeLessThan(1e-5 * maxAbs(g.data) + 1e-9);
    cpu.zeroGradients();
    wasm.zeroGradients();
    const [rc, rw] = [await cpu.trainStep(batch, { lr: 1e-3 }), await wasm.trainStep(batch, { lr: 1e-3 })];
    expect(Math.abs(rc.gradNorm - rw.gradNorm) / rc.gradNorm).toBeLessThan(1e-4);
    expect(cpu.info.backend).toBe('tfjs-cpu');
    expect(wasm.info).toEqual({ implementation: 'tfjs', backend: 'tfjs-wasm', device: 'wasm' });
    cpu.dispose();
    wasm.dispose();
  });
});
