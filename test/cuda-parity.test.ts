import { describe, expect, it } from 'vitest';
import { archDims, type GPT2Config, type ModelConfig } from '../src/arch/config.js';
import { nativeLayoutTable, type NativeTensorRow } from '../src/arch/layout.js';
import { initWeights } from '../src/arch/init.js';
import type { CudaAddon } from '../src/backend/native/cudaAddon.js';
import { NativeCore } from '../src/backend/native/core.js';
import { probeNativeCudaImpl } from '../src/backend/native/cudaProbe.js';
import type { NativePrecision, RawCore } from '../src/backend/native/rawCore.js';
import { selectBackend } from '../src/backend/select.js';
import type { LabeledBatch, NamedTensors } from '../src/backend/types.js';
import { Rng } from '../src/util/rng.js';
import { buildCudaEmulation, EMU_PATH, emulatedCudaAddon, gpuCudaAddon, SIMT_PATH } from './helpers/cudaAddons.js';
import { fixtureConfig, hasFixtures, maxAbsDiff } from './helpers/fixtures.js';
import { describeLlamaVariants, LLAMA_VARIANTS } from './helpers/llamaVariants.js';
import { describeModernParity } from './helpers/modern.js';
import { describeFixtureParity } from './helpers/parity.js';

// Runs fully only where an NVIDIA GPU, its driver, cuBLAS and the built addon are present; skips elsewhere.
const probe = probeNativeCudaImpl();
const gpuSkip = !probe.ok ? `CUDA core unavailable: ${probe.reason}` : !hasFixtures ? 'GPT-2 fixtures not found' : '';
if (gpuSkip) console.warn(`[cuda-parity] GPU suites skipped: ${gpuSkip}`);

// Everywhere with g++: the same suites against the CPU emulation of the host code, and against the SIMT emulation
// of the real kernels (test/helpers/cudaAddons.ts says what each can and cannot catch).
// SOCRATIC_CUDA_EMULATION=0 (scripts/device-check.sh --no-emulation) leaves a GPU session's time to the GPU suites.
const emulationOff = process.env.SOCRATIC_CUDA_EMULATION === '0' ? 'disabled by SOCRATIC_CUDA_EMULATION=0' : '';
const emulationSkip = (flag: '--emulate' | '--emulate-simt'): string =>
  emulationOff || (hasFixtures ? buildCudaEmulation(flag) : 'GPT-2 fixtures not found');
const emuSkip = emulationSkip('--emulate');
if (emuSkip) console.warn(`[cuda-parity] emulated suites skipped: ${emuSkip}`);
const simtSkip = emulationSkip('--emulate-simt');
if (simtSkip) console.warn(`[cuda-parity] SIMT-emulated suites skipped: ${simtSkip}`);

const emuAddon = (): CudaAddon => emulatedCudaAddon(EMU_PATH);
const simtAddon = (): CudaAddon => emulatedCudaAddon(SIMT_PATH);

function paritySuites(label: string, skip: string, addon: () => CudaAddon, trainSteps: number): void {
  const makeCore = (config: ModelConfig, weights: NamedTensors, precision: NativePrecision = 'fp32'): Promise<NativeCore> =>
    NativeCore.create(config, addon(), { weights, precision });

// The Llama family (llama: tied, GQA; qwen3: q/k norms, untied) against ../shared/fixtures/modern, fp32; then the
// shapes those lack (other group sizes, head_dim != hidden / heads, biases) against a float64 reference.
describeModernParity(`${label}: CUDA core matches the HF Llama-family fixtures (fp32)`, !!skip, { makeCore: (config, weights) => makeCore(config, weights) });
describeLlamaVariants(`${label}: CUDA core on Llama-family shapes beyond the fixtures`, !!skip, { makeCore, precisions: trainSteps > 0 });

describeFixtureParity(`${label}: CUDA core matches the HF GPT-2 fixtures (fp32)`, !!skip, {
  makeCore: (config, weights) => makeCore(config, weights),
  accumulation: { lossDigits: 5, rescale: 1e-5 },
  // Tiny means the clipped gradient is within ~100 eps of zero; the wte rows are all held to 1e-5.
  adamwRule: (_res, meta) => ({ tinyGradient: 100 * 1e-8, gradScale: meta.clip_coef, wteRows: 'strict', maxLooseFraction: 0.01 }),
  afterStep: async (core, after, config) => {
    const state = await core.getOptimizerState();
    expect(state.step).toBe(1);
    const other = await makeCore(config, after);
    await other.setOptimizerState(state);
    const back = await other.getOptimizerState();
    const n = 'transformer.h.0.attn.c_attn.weight';
    expect(maxAbsDiff(back.v.get(n)!.data, state.v.get(n)!.data)).toBe(0);
    other.dispose();
  },
  afterDecode: async (core, _gen, before) => {
    expect(core.memory().bytes).toBeLessThanOrEqual(before + 64 * 2 ** 20); // only a re-planned prompt activation set may remain
  },
});

/** Random next-token batches (no padding in row 0, right padding in row 1) from a seeded Rng. */
function randomBatches(config: GPT2Config, n: number, seed: number): LabeledBatch[] {
  const rng = new Rng(seed);
  const B = 2;
  const T = 32;
  return Array.from({ length: n }, () => {
    const ids = Int32Array.from({ length: B * T }, () => rng.int(512));
    const mask = Uint8Array.from({ length: B * T }, (_, i) => (i >= T && i % T >= 24 ? 0 : 1));
    const labels = Int32Array.from(ids, (id, i) => (mask[i] ? id : -100));
    return { batchSize: B, seqLen: T, inputIds: ids, attentionMask: mask, labels };
  });
}

describe.skipIf(!!skip || trainSteps === 0)(`${label}: CUDA training agrees with the CPU core`, () => {
  it(`same seed, same ${trainSteps} batches: the fp32 loss curve matches the CPU core within float tolerance`, async () => {
    const config = fixtureConfig();
    const weights = initWeights(config, 7);
    const cpu = await (await selectBackend('cpu')).createCore(config, { weights });
    const gpu = await makeCore(config, weights);
    const step = { lr: 3e-3, weightDecay: 0.01, maxGradNorm: 1.0 };
    const batches = randomBatches(config, trainSteps, 11);
    const curve: Array<[number, number]> = [];
    for (const b of batches) curve.push([(await gpu.trainStep(b, step)).loss, (await cpu.trainStep(b, step)).loss]);
    for (const [g, c] of curve) expect(Math.abs(g - c)).toBeLessThan(2e-3 * Math.abs(c));
    expect(curve.at(-1)![0]).toBeLessThan(curve[0]![0]);
    cpu.dispose();
    gpu.dispose();
  });

  it('tf32 and bf16 precisions train the same model to nearly the same losses', async () => {
    const config = fixtureConfig();
    const weights = initWeights(config, 3);
    const batches = randomBatches(config, Math.ceil(trainSteps / 2) + 2, 5);
    const step = { lr: 3e-3 };
    const run = async (precision: NativePrecision): Promise<number[]> => {
      const core = await makeCore(config, weights, precision);
      const losses: number[] = [];
      for (const b of batches) losses.push((await core.trainStep(b, step)).loss);
      core.dispose();
      return losses;
    };
    const fp32 = await run('fp32');
    for (const p of ['tf32', 'bf16'] as const) {
      const other = await run(p);
      other.forEach((l, i) => expect(Math.abs(l - fp32[i]!), `${p} step ${i}`).toBeLessThan(3e-2 * fp32[i]!));
      expect(other.at(-1)!).toBeLessThan(other[0]!);
    }
  });
});
}

// The emulation multiplies matrices with plain loops: fewer training steps keep it to seconds on 2 cores.
paritySuites('GPU', gpuSkip, gpuCudaAddon, 12);
paritySuites('CPU emulation', emuSkip, emuAddon, 6);
paritySuites('SIMT emulation of the .cu kernels', simtSkip, simtAddon, 0);

// The CUDA core keeps no copy of any layout: its buffers follow the table NativeCore sends (nativeLayoutTable), a
// bad row fails naming its role, and AdamW decays exactly the rows flagged so. Host code, so the CPU emulation shows it.
describe.skipIf(!!emuSkip)('CPU emulation: the CUDA core lays out its buffers from the layout table', () => {
  const config = LLAMA_VARIANTS[0]!.config;
  const rawCore = (tensors: NativeTensorRow[]): RawCore => {
    const d = archDims(config);
    const dims = { arch: d.arch, vocab: d.vocab, maxT: d.maxPositions, C: d.hidden, L: d.layers, NH: d.heads, NKV: d.kvHeads, HD: d.headDim };
    const flags = { F: d.inner, eps: d.eps, ropeTheta: d.ropeTheta, qkNorm: d.qkNorm, qkvBias: d.qkvBias, oBias: d.oBias, tied: d.tied };
    return new (emuAddon().GptCore)({ ...dims, ...flags, tensors }, 0);
  };
  const table = (): NativeTensorRow[] => nativeLayoutTable(config);

  it('refuses a mis-sized, missing, unknown or duplicated row, naming its role', () => {
    const sized = table().map((r) => (r.role === 'mlp.up_proj.weight' && r.layer === 1 ? { ...r, numel: r.numel + 1 } : r));
    expect(() => rawCore(sized)).toThrow(/layout table: role 'mlp\.up_proj\.weight' of layer 1 has \d+ elements, expected \d+/);
    expect(() => rawCore(table().filter((r) => r.role !== 'norm.weight'))).toThrow(/no row for role 'norm\.weight'/);
    expect(() => rawCore([...table(), { role: 'mlp.c_fc.weight', layer: 0, numel: 4, decay: true }])).toThrow(/unknown role 'mlp\.c_fc\.weight'/);
    expect(() => rawCore([...table(), table()[0]!])).toThrow(/role 'embed_tokens\.weight' appears twice/);
    const ok = rawCore(table());
    expect(ok.numParams()).toBe(table().reduce((n, r) => n + r.numel, 0));
    ok.dispose();
  });

  it('AdamW decays exactly the rows flagged decay', async () => {
    // Flip two rows against the ndim >= 2 rule, so only the table can explain the result.
    const rows = table().map((r) => (r.role === 'norm.weight' || (r.role === 'self_attn.q_proj.weight' && r.layer === 0) ? { ...r, decay: !r.decay } : r));
    const core = rawCore(rows);
    const n = core.numParams();
    core.writeBuffers({ params: new Float32Array(n).fill(1) });
    core.zeroGrads();
    await core.adamw(0.1, 0.9, 0.999, 1e-8, 0.5, 1, 1); // zero gradients: only the decay 1 - lr * wd = 0.95 moves a weight
    const params = new Float32Array(n);
    core.readBuffers({ params });
    core.dispose();
    let off = 0;
    for (const r of rows) {
      const want = r.decay ? Math.fround(0.95) : 1;
      expect(params.subarray(off, off + r.numel).every((x) => x === want), `${r.role} (layer ${r.layer}, decay ${r.decay})`).toBe(true);
      off += r.numel;
    }
  });
});
