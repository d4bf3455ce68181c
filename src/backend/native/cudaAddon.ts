import { join, resolve } from 'node:path';
import { type LoadResult, packageRoot, requireFirstAddon } from './common.js';
import type { CoreAddon } from './rawCore.js';

/** What native/cuda/build/socratic_cuda.node reports about the machine (native/cuda/src/addon.cc). */
export interface CudaDeviceReport {
  ok: boolean;
  /** One line when !ok: no driver, no GPU visible, GPU too old, cuBLAS missing. */
  reason?: string;
  device: string;
  computeCapability: string;
  /** CUDA versions as 1000*major + 10*minor; driverVersion is 0 without a driver. */
  driverVersion: number;
  runtimeVersion: number;
  cublas: string;
  totalMemory: number;
}

/** native/cuda/build/socratic_cuda.node (native/cuda/src/addon.cc): the shared core interface plus probe(). */
export interface CudaAddon extends CoreAddon {
  device: 'cuda';
  probe(): CudaDeviceReport;
}

export type CudaAddonLoad = LoadResult<CudaAddon>;

export const CUDA_ADDON_FILE = 'socratic_cuda.node';

/** Where the CUDA addon may be: $SOCRATIC_DISTILL_CUDA, then native/cuda/build/ in the package. */
export function cudaAddonCandidates(): string[] {
  const out: string[] = [];
  if (process.env.SOCRATIC_DISTILL_CUDA) out.push(resolve(process.env.SOCRATIC_DISTILL_CUDA));
  const root = packageRoot();
  if (root) out.push(join(root, 'native', 'cuda', 'build', CUDA_ADDON_FILE));
  return out;
}

let cached: CudaAddonLoad | undefined;

/** Loads the CUDA addon once; never throws. `reason` is one line naming what is missing. */
export function loadCudaAddon(): CudaAddonLoad {
  if (cached) return cached;
  if (process.env.SOCRATIC_DISTILL_DISABLE_CUDA === '1') return (cached = { ok: false, reason: 'disabled by SOCRATIC_DISTILL_DISABLE_CUDA=1' });
  return (cached = requireFirstAddon<CudaAddon>(
    cudaAddonCandidates(),
    'CUDA addon',
    `CUDA addon not built (no native/cuda/build/${CUDA_ADDON_FILE}; run \`node native/cuda/build.mjs --strict\` where nvcc is installed)`,
    'node native/cuda/build.mjs --strict',
  ));
}
