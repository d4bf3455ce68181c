import type { GPT2Config } from '../../arch/config.js';
import type { NamedTensors, TransformerCore } from '../types.js';
import { loadNativeAddon } from './addon.js';
import { probeNativeCudaImpl } from './cudaProbe.js';

/** What selectBackend needs to know about a native core (CPU or CUDA) without importing it eagerly. */
export type NativeProbe =
  | {
      ok: true;
      backend: 'native-cpu' | 'native-cuda';
      /** e.g. `avx512`, `avx2`, `scalar`. */
      simd: string;
      threads: number;
      version: string;
      createCore(config: GPT2Config, init?: { weights?: NamedTensors; seed?: number }): Promise<TransformerCore>;
    }
  | { ok: false; backend: 'native-cpu' | 'native-cuda'; reason: string };

/** Loads build/Release/socratic_native.node if it was built; never throws. */
export function probeNativeCpu(): NativeProbe {
  const loaded = loadNativeAddon();
  if (!loaded.ok) return { ok: false, backend: 'native-cpu', reason: loaded.reason };
  const { addon } = loaded;
  const info = addon.info();
  return {
    ok: true,
    backend: 'native-cpu',
    simd: info.simd,
    threads: info.threads,
    version: `${info.version} (${info.blas})`,
    createCore: async (config, init) => {
      const { NativeCore } = await import('./core.js');
      return NativeCore.create(config, addon, init);
    },
  };
}

/** The CUDA core (native/cuda, src/backend/native/cuda*.ts); never throws. */
export function probeNativeCuda(): NativeProbe {
  return probeNativeCudaImpl();
}
