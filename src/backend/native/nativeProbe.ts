import type { ModelConfig } from '../../arch/config.js';
import type { CoreInit, TransformerCore } from '../types.js';

// The probe result type on its own, so probe.ts (CPU) and cudaProbe.ts (CUDA) share it without importing each other.

/** What selectBackend needs to know about a native core (CPU or CUDA) without importing it eagerly. */
export type NativeProbe =
  | {
      ok: true;
      backend: 'native-cpu' | 'native-cuda';
      /** e.g. `avx512`, `avx2`, `scalar`; `sm_90` for a GPU. */
      simd: string;
      threads: number;
      version: string;
      createCore(config: ModelConfig, init?: CoreInit): Promise<TransformerCore>;
    }
  | { ok: false; backend: 'native-cpu' | 'native-cuda'; reason: string };
