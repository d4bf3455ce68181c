import { loadCudaAddon } from './cudaAddon.js';
import type { NativeProbe } from './nativeProbe.js';
import { isNativePrecision } from './rawCore.js';

const fmtCuda = (v: number): string => `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;

/**
 * Is the CUDA core usable here? Never throws. The negative answer is one line naming the first missing piece:
 * addon not built, no CUDA driver, no GPU visible, GPU too old, or cuBLAS missing.
 * SOCRATIC_CUDA_PRECISION (fp32 | tf32 | bf16, default fp32) picks the matmul precision of cores it creates.
 */
export function probeNativeCudaImpl(): NativeProbe {
  const loaded = loadCudaAddon();
  if (!loaded.ok) return { ok: false, backend: 'native-cuda', reason: loaded.reason };
  let report;
  try {
    report = loaded.addon.probe();
  } catch (e) {
    return { ok: false, backend: 'native-cuda', reason: `CUDA probe failed: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}` };
  }
  if (!report.ok) return { ok: false, backend: 'native-cuda', reason: (report.reason ?? 'CUDA is unavailable').split('\n')[0]! };
  const precision = process.env.SOCRATIC_CUDA_PRECISION ?? 'fp32';
  if (!isNativePrecision(precision)) {
    return { ok: false, backend: 'native-cuda', reason: `SOCRATIC_CUDA_PRECISION=${precision} is not one of fp32, tf32, bf16` };
  }
  const { addon } = loaded;
  return {
    ok: true,
    backend: 'native-cuda',
    simd: `sm_${report.computeCapability.replace('.', '')}`,
    threads: 0,
    version:
      `${report.device} (sm_${report.computeCapability.replace('.', '')}, ${Math.round(report.totalMemory / 2 ** 30)} GiB), ` +
      `CUDA runtime ${fmtCuda(report.runtimeVersion)}, driver ${fmtCuda(report.driverVersion)}, ${report.cublas}, ${precision}`,
    createCore: async (config, init) => {
      const { NativeCore } = await import('./core.js');
      return NativeCore.create(config, addon, { ...init, precision });
    },
  };
}
