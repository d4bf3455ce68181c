import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { type CudaAddon, loadCudaAddon } from '../../src/backend/native/cudaAddon.js';
import type { RawCore, RawCoreConfig } from '../../src/backend/native/rawCore.js';

// The three builds of the CUDA core that tests drive: the GPU addon, and its two emulations, which need only g++.
// --emulate: the host code (src/*.cc: buffers, GEMM arguments, pass order, decode sessions, N-API) with the CUDA
// runtime, cuBLAS and the kernels replaced by CPU stand-ins (native/cuda/emu); it cannot catch bugs inside the .cu
// device code. --emulate-simt: the REAL kernels of native/cuda/src/*.cu, compiled by g++ against a fiber model of
// CUDA threads (native/cuda/emu/include/simt.h): indexing, reductions, masks and shared memory run as written.

const REPO = resolve(__dirname, '../..');
export const EMU_PATH = resolve(REPO, 'native/cuda/build/socratic_cuda_emu.node');
export const SIMT_PATH = resolve(REPO, 'native/cuda/build/socratic_cuda_simt.node');

/** Builds one emulation (a no-op when up to date); '' on success, else why its suites skip. */
export function buildCudaEmulation(flag: '--emulate' | '--emulate-simt'): string {
  const path = flag === '--emulate' ? EMU_PATH : SIMT_PATH;
  const r = spawnSync(process.execPath, [resolve(REPO, 'native/cuda/build.mjs'), flag], { encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(path)) return `emulation build failed: ${(r.stdout + r.stderr).trim().split('\n').at(-1)}`;
  return '';
}

export function gpuCudaAddon(): CudaAddon {
  const loaded = loadCudaAddon();
  if (!loaded.ok) throw new Error(loaded.reason);
  return loaded.addon;
}

/**
 * An emulated addon whose heavy calls first yield to the event loop. The CUDA addon is synchronous and NativeCore
 * only awaits microtasks between calls, so seconds-long emulated calls would otherwise starve vitest's worker RPC
 * for a whole suite (its onTaskUpdate times out after 60 s).
 */
export function emulatedCudaAddon(path: string): CudaAddon {
  const addon = createRequire(import.meta.url)(path) as CudaAddon;
  const tick = (): Promise<void> => new Promise((done) => setImmediate(done));
  class YieldingCore implements RawCore {
    private readonly inner: RawCore;
    constructor(config: RawCoreConfig, precision: 0 | 1 | 2) {
      this.inner = new addon.GptCore(config, precision);
    }
    numParams = (): number => this.inner.numParams();
    readBuffers: RawCore['readBuffers'] = (out) => this.inner.readBuffers(out);
    writeBuffers: RawCore['writeBuffers'] = (src) => this.inner.writeBuffers(src);
    zeroGrads = (): void => this.inner.zeroGrads();
    gradNorm = (): number => this.inner.gradNorm();
    forward: RawCore['forward'] = async (...a) => (await tick(), this.inner.forward(...a));
    loss: RawCore['loss'] = async (...a) => (await tick(), this.inner.loss(...a));
    adamw: RawCore['adamw'] = async (...a) => (await tick(), this.inner.adamw(...a));
    decodeStart: RawCore['decodeStart'] = async (...a) => (await tick(), this.inner.decodeStart(...a));
    decodeStep: RawCore['decodeStep'] = async (...a) => (await tick(), this.inner.decodeStep(...a));
    decodeFree = (id: number): void => this.inner.decodeFree(id);
    bytes = (): number => this.inner.bytes();
    dispose = (): void => this.inner.dispose();
  }
  return { ...addon, GptCore: YieldingCore };
}
