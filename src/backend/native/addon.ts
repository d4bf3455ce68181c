import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type LoadResult, packageRoot, requireFirstAddon } from './common.js';
import type { CoreAddon, RawCoreConfig } from './rawCore.js';

/** build/Release/socratic_native.node (native/src/addon.cc): the shared core interface plus CPU extras. */
export interface NativeAddon extends CoreAddon {
  device: 'cpu';
  info(): { simd: string; threads: number; blas: string; version: string };
  /** Seconds per n x n x n sgemm, one entry per repetition. */
  benchGemm(n: number, reps: number): number[];
  /** One sgemm on row-major arrays: C = alpha * op(A) @ op(B) + beta * C (for the GEMM tests). */
  gemm(
    ta: boolean, tb: boolean, M: number, N: number, K: number, alpha: number,
    A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number,
  ): void;
  /**
   * Switches the GEMM kernels process-wide: 'auto' (OpenBLAS if linked, else built-in), 'builtin', 'blas',
   * or a built-in level 'avx512' | 'avx2' | 'scalar' (capped at the CPU's). Returns the kernels now in use.
   */
  gemmSelect(name: string): string;
  /**
   * Sets the most bytes of attention probabilities and outputs a Llama-family core keeps for its backward (above it
   * each layer's attention is recomputed in the backward; default 256 MiB); returns the previous limit. For tests.
   */
  attentionKeepBytes(bytes: number): number;
  profileEnable(on: boolean): void;
  profileReset(): void;
  /** Seconds spent per kernel since the last reset (only while enabled). */
  profileGet(): Record<string, number>;
  /**
   * Bytes a core of `config` holds after a training step at B x T (buffers, activations, head chunk), from the
   * tables alone: nothing is allocated (bench/ checks it against the machine before building a big core).
   */
  estimateBytes(config: RawCoreConfig, B: number, T: number): number;
}

export type AddonLoad = LoadResult<NativeAddon>;

const ADDON_FILE = 'socratic_native.node';

/** Whether this process runs on musl (Alpine) rather than glibc: a glibc prebuild would not load there. */
function isMusl(): boolean {
  if (process.platform !== 'linux') return false;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return !header?.glibcVersionRuntime;
}

/**
 * Prebuilt addons shipped in the package (`npm run prebuild`), in the prebuildify / node-gyp-build
 * layout: prebuilds/<platform>-<arch>/<name>.<tags>.node, tags napi and optionally glibc|musl.
 */
export function prebuiltCandidates(root: string): string[] {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return [];
  const libc = isMusl() ? 'musl' : 'glibc';
  return readdirSync(dir)
    .filter((f) => f.endsWith('.node'))
    .filter((f) => {
      const tags = f.split('.').slice(1, -1);
      const fileLibc = tags.find((t) => t === 'glibc' || t === 'musl');
      return tags.includes('napi') && (!fileLibc || fileLibc === libc);
    })
    .sort()
    .map((f) => join(dir, f));
}

/** Where the addon is looked for, in order: SOCRATIC_DISTILL_NATIVE, a local build (maybe with OpenBLAS), the prebuild. */
export function addonCandidates(): string[] {
  const out: string[] = [];
  if (process.env.SOCRATIC_DISTILL_NATIVE) out.push(resolve(process.env.SOCRATIC_DISTILL_NATIVE));
  const root = packageRoot();
  if (root) {
    for (const sub of ['build/Release', 'build/Debug', 'native/build/Release']) out.push(join(root, sub, ADDON_FILE));
    out.push(...prebuiltCandidates(root));
  }
  return out;
}

let cached: AddonLoad | undefined;

/** Loads the addon once; never throws. `reason` is one line naming what is missing. */
export function loadNativeAddon(): AddonLoad {
  if (cached) return cached;
  if (process.env.SOCRATIC_DISTILL_DISABLE_NATIVE === '1') {
    return (cached = { ok: false, reason: 'disabled by SOCRATIC_DISTILL_DISABLE_NATIVE=1' });
  }
  return (cached = requireFirstAddon<NativeAddon>(
    addonCandidates(),
    'native addon',
    `native addon not built (no ${ADDON_FILE} under build/Release and no prebuild for ${process.platform}-${process.arch}; run \`node native/build.mjs --strict\`)`,
    'node native/build.mjs --strict',
  ));
}
