import { join, resolve } from 'node:path';
import { type LoadResult, packageRoot, requireFirstAddon } from './common.js';

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

/**
 * Matmul precision of the CUDA core. `fp32`: plain fp32 cuBLAS (parity tests); `tf32`: TF32 tensor cores;
 * `bf16`: bf16 matmul inputs with fp32 accumulation, fp32 activations elsewhere and fp32 master weights in AdamW.
 */
export type CudaPrecision = 'fp32' | 'tf32' | 'bf16';
/** The addon's code for each precision (native/cuda/src/model.h Precision). */
export const CUDA_PRECISION_CODE = { fp32: 0, tf32: 1, bf16: 2 } as const satisfies Record<CudaPrecision, number>;
export type CudaPrecisionCode = (typeof CUDA_PRECISION_CODE)[CudaPrecision];

export function isCudaPrecision(s: string): s is CudaPrecision {
  return s === 'fp32' || s === 'tf32' || s === 'bf16';
}

/** The raw N-API surface of socratic_cuda.node. Every call is synchronous and throws Error on CUDA failures. */
export interface RawCudaGpt {
  numParams(): number;
  setParams(flat: Float32Array): void;
  getParams(): Float32Array;
  getGrads(): Float32Array;
  zeroGrads(): void;
  getAdam(): [Float32Array, Float32Array];
  setAdam(m: Float32Array, v: Float32Array): void;
  /** logitsSize = B*T*V when wantLogits; hidden arrays are [B,T,C] each (nHidden = n_layer + 1 or 0). */
  forward(
    ids: Int32Array,
    B: number,
    T: number,
    mask: Uint8Array | null,
    pos: Int32Array | null,
    wantLogits: boolean,
    nHidden: number,
    logitsSize: number,
    C: number,
  ): { logits?: Float32Array; hidden?: Float32Array[] };
  loss(
    ids: Int32Array,
    B: number,
    T: number,
    mask: Uint8Array | null,
    pos: Int32Array | null,
    labels: Int32Array,
    backward: boolean,
    scale: number,
  ): { loss: number; tokens: number };
  gradNorm(): number;
  /** Clip by clipCoef, then torch AdamW with bias corrections for step t. Does not zero the gradients. */
  adamw(lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, clipCoef: number, t: number): void;
  decodeStart(
    ids: Int32Array,
    B: number,
    T: number,
    mask: Uint8Array | null,
    pos: Int32Array | null,
    maxLen: number,
    vocab: number,
  ): { id: number; logits: Float32Array };
  decodeStep(id: number, tokens: Int32Array, positions: Int32Array, out: Float32Array): void;
  decodeFree(id: number): void;
  memoryBytes(): number;
  dispose(): void;
}

export interface CudaAddon {
  probe(): CudaDeviceReport;
  CudaGpt: new (cfg: { vocab: number; maxT: number; C: number; L: number; NH: number; F: number; eps: number }, precision: CudaPrecisionCode) => RawCudaGpt;
  abi: number;
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
  ));
}
