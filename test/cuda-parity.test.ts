import { describe, expect, it } from 'vitest';
import type { GPT2Config, ModelConfig } from '../src/arch/config.js';
import { initWeights } from '../src/arch/init.js';
import type { CudaAddon } from '../src/backend/native/cudaAddon.js';
import { NativeCore } from '../src/backend/native/core.js';
import { probeNativeCudaImpl } from '../src/backend/native/cudaProbe.js';
import type { NativePrecision } from '../src/backend/native/rawCore.js';
import { selectBackend } from '../src/backend/select.js';
import type { LabeledBatch, NamedTensors } from '../src/backend/types.js';
import { Rng } from '../src/util/rng.js';
import { buildCudaEmulation, EMU_PATH, emulatedCudaAddon, gpuCudaAddon, SIMT_PATH } from './helpers/cudaAddons.js';
import { fixtureConfig, hasFixtures, maxAbsDiff } from './helpers/fixtures.js';
import { describeModernParity } from './helpers/modern.js';
import { describeFixtureParity } from './helpers/parity.js';

// Runs fully only where an NVIDIA GPU, its driver, cuBLAS and the built addon are present; skips elsewhere.
const probe = probeNativeCudaImpl();
const gpuSkip = !probe.ok ? `CUDA core unavailable: ${probe.reason}` : !hasFixtures ? 'GPT-2 fixtures not found' : '';
if (gpuSkip) console.warn(`[cuda-parity] GPU suites skipped: ${gpuSkip}`);

// Everywhere with g++: the same suites against the CPU emulation of the host code, and against the SIMT emulation
// of the real kernels (test/helpers/cudaAddons.ts says what each can and cannot catch).
const emuSkip = hasFixtures ? buildCudaEmulation('--emulate') : 'GPT-2 fixtures not found';
if (emuSkip) console.warn(`[cuda-parity] emulated suites skipped: ${emuSkip}`);
const simtSkip = hasFixtures ? buildCudaEmulation('--emulate-simt') : 'GPT-2 fixtures not found';
if (simtSkip) console.warn(`[cuda-parity] SIMT-emulated suites skipped: ${simtSkip}`);

const emuAddon = (): CudaAddon => emulatedCudaAddon(EMU_PATH);
const simtAddon = (): CudaAddon => emulatedCudaAddon(SIMT_PATH);

function paritySuites(label: string, skip: string, addon: () => CudaAddon, trainSteps: number): void {
  const makeCore = (config: ModelConfig, weights: NamedTensors, precision: NativePrecision = 'fp32'): Promise<NativeCore> =>
    NativeCore.create(config, addon(), { weights, precision });

// The Llama family (llama: tied, GQA; qwen3: q/k norms, untied) against ../shared/fixtures/modern, fp32.
describeModernParity(`${label}: CUDA core matches the HF Llama-family fixtures (fp32)`, !!skip, { makeCore: (config, weights) => makeCore(config, weights) });

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
