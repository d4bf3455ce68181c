import { loadNativeAddon } from './addon.js';
import { probeNativeCudaImpl } from './cudaProbe.js';
import type { NativeProbe } from './nativeProbe.js';

export type { NativeProbe } from './nativeProbe.js';

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

/** The CUDA core (native/cuda; cudaAddon.ts, cudaProbe.ts); never throws. */
export function probeNativeCuda(): NativeProbe {
  return probeNativeCudaImpl();
}
