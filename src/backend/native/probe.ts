import type { GPT2Config } from '../../arch/config.js';
import type { NamedTensors, TransformerCore } from '../types.js';

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

export function probeNativeCpu(): NativeProbe {
  return { ok: false, backend: 'native-cpu', reason: 'the native CPU core is not part of this build' };
}

export function probeNativeCuda(): NativeProbe {
  return { ok: false, backend: 'native-cuda', reason: 'the native CUDA core is not part of this build' };
}
