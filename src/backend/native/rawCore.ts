// The one N-API interface both native addons implement (core interface version 4):
//   build/Release/socratic_native.node (native/src/addon.cc, CPU) and
//   native/cuda/build/socratic_cuda.node (native/cuda/src/addon.cc, CUDA; also its emulated test builds).
//
// Module exports:  GptCore (class), device ('cpu' | 'cuda'), abi (= CORE_ABI), features? (CoreFeature[])
// new GptCore(RawCoreConfig: the shape, the layout table and the LoRA table or null, precision code, shareBaseOf?)
//                                                           shareBaseOf (feature 'loraShare'): a live LoRA GptCore of
//                                                           the same model; the new LoRA core reads that core's base
//                                                           buffer (no copy), which lives until both are gone
//   numParams()                                             floats in each of the four trainable buffers
//   readBuffers({ params?, grads?, m?, v?, base? })         copy the named buffers out into the given arrays
//   writeBuffers({ params?, m?, v?, base? }, offset?)       copy the given arrays in (gradients are never written);
//                                                           with an offset (feature 'offsetWrites'), each array
//                                                           goes to floats [offset, offset + length) of its buffer
// params, grads, m and v are the trainable buffers: the whole layout table on a plain core, the LoRA table on a
// LoRA core (feature 'lora'), whose frozen base weights are the separate `base` buffer (a LoRA core only; read-only
// while another core shares it).
//   zeroGrads()
//   gradNorm()                                              global L2 norm of the gradients
//   forward(ids, mask, pos, B, T, logitsOut | null, wantHidden)   -> n_layer + 1 hidden states | undefined
//   loss(ids, mask, pos, B, T, labels, backward, scale)           -> { loss, tokens }
//   adamw(lr, beta1, beta2, eps, weightDecay, clipCoef, t)        clip, AdamW step t, then zero the gradients
//   decodeStart(ids, mask, pos, B, T, maxLength, lastLogitsOut)   -> session id (prompt prefilled)
//   decodeStep(id, tokens, positions, lastLogitsOut)
//   decodeFree(id)
//   bytes()                                                 memory held: buffers, activations, open KV caches (a
//                                                           shared base only in the longest-lived core holding it)
//   dispose()
// Every batch is (ids, mask, pos, B, T) in that order; mask and pos may be null. Outputs are written into arrays
// the caller allocates, so no JS object aliases native memory. The CPU addon runs the heavy calls on the libuv pool
// and returns promises; the CUDA addon is synchronous. Callers therefore await every result (Awaitable) and must
// not overlap calls on one core (see CallQueue).

/** Bump with any change to the interface below, in both addon.cc files. */
export const CORE_ABI = 4;

/**
 * Optional parts of the interface, listed in the module's `features`: `lora` (RawCoreConfig.lora and the `base`
 * buffer), `offsetWrites` (writeBuffers at an offset, so weights can be written one tensor at a time without a
 * second whole-model copy), `loraShare` (the constructor's shareBaseOf: LoRA cores over one base buffer, for
 * TransformerCore.withAdapter). An addon without `features` has none (the CUDA addon today); an addon without
 * `loraShare` would ignore shareBaseOf and leave the new core's base zero, so NativeCore never passes it one.
 */
export type CoreFeature = 'lora' | 'offsetWrites' | 'loraShare';

export type Awaitable<T> = T | Promise<T>;

/**
 * Model shape the addons are built with (ArchDims in the addons' own names), and the parameter layout as a table:
 * the addons keep no copy of any layout. They place each row's tensor in their buffers in table order, map its
 * (role, layer) to a slot of the architecture, and refuse a table with a missing, unknown or mis-sized row.
 */
export interface RawCoreConfig {
  arch: 'gpt2' | 'llama';
  vocab: number;
  maxT: number;
  C: number;
  L: number;
  /** Query heads, key/value heads (GQA; = NH for GPT-2), and the per-head width (may differ from C / NH). */
  NH: number;
  NKV: number;
  HD: number;
  F: number;
  eps: number;
  /** Llama family only. */
  ropeTheta: number;
  qkNorm: boolean;
  qkvBias: boolean;
  oBias: boolean;
  tied: boolean;
  tensors: NativeTensorRow[];
  /**
   * LoRA adapters over a frozen base (feature `lora`); absent or null for a plain core. Rank, alpha and the
   * adapter table (rows of loraLayout in src/arch/lora.ts, `role` `<module>.lora_A.weight` / `.lora_B.weight`). The
   * trainable buffers are then the adapters', in this table's order, and the core keeps no base gradients or AdamW
   * state.
   */
  lora?: { r: number; alpha: number; tensors: NativeTensorRow[] } | null;
}

import type { NativeTensorRow } from '../../arch/layout.js';

/**
 * The four trainable buffers, each laid out in paramLayout order (src/arch/layout.ts), or in loraLayout order on a
 * LoRA core; `base`, a LoRA core's frozen base weights in paramLayout order.
 */
export interface CoreBuffers {
  params: Float32Array;
  grads: Float32Array;
  /** AdamW first moment. */
  m: Float32Array;
  /** AdamW second moment. */
  v: Float32Array;
  base: Float32Array;
}

export interface RawCore {
  numParams(): number;
  readBuffers(out: Partial<CoreBuffers>): void;
  writeBuffers(src: Partial<Omit<CoreBuffers, 'grads'>>, offset?: number): void;
  zeroGrads(): void;
  gradNorm(): number;
  forward(
    ids: Int32Array,
    mask: Uint8Array | null,
    pos: Int32Array | null,
    B: number,
    T: number,
    logitsOut: Float32Array | null,
    wantHidden: boolean,
  ): Awaitable<Float32Array[] | undefined>;
  loss(
    ids: Int32Array,
    mask: Uint8Array | null,
    pos: Int32Array | null,
    B: number,
    T: number,
    labels: Int32Array,
    backward: boolean,
    scale: number,
  ): Awaitable<{ loss: number; tokens: number }>;
  adamw(lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, clipCoef: number, t: number): Awaitable<void>;
  decodeStart(
    ids: Int32Array,
    mask: Uint8Array | null,
    pos: Int32Array | null,
    B: number,
    T: number,
    maxLength: number,
    lastLogitsOut: Float32Array,
  ): Awaitable<number>;
  decodeStep(id: number, tokens: Int32Array, positions: Int32Array, lastLogitsOut: Float32Array): Awaitable<void>;
  decodeFree(id: number): void;
  bytes(): number;
  dispose(): void;
}

/**
 * Matmul precision of a native core. `fp32`: plain fp32 (the only one the CPU core has; parity tests);
 * `tf32`: TF32 tensor cores; `bf16`: bf16 matmul inputs with fp32 accumulation, fp32 activations elsewhere and
 * fp32 master weights in AdamW (both CUDA only).
 */
export type NativePrecision = 'fp32' | 'tf32' | 'bf16';
/** The addons' code for each precision (native/cuda/src/model.h Precision). */
export const PRECISION_CODE = { fp32: 0, tf32: 1, bf16: 2 } as const satisfies Record<NativePrecision, number>;

export function isNativePrecision(s: string): s is NativePrecision {
  return s === 'fp32' || s === 'tf32' || s === 'bf16';
}

/** What NativeCore needs from an addon module. */
export interface CoreAddon {
  GptCore: new (config: RawCoreConfig, precision: (typeof PRECISION_CODE)[NativePrecision], shareBaseOf?: RawCore) => RawCore;
  device: 'cpu' | 'cuda';
  abi: number;
  features?: readonly CoreFeature[];
  /** Bytes a core of `config` holds after a training step at B x T (the CPU addon; NativeAddon documents it). */
  estimateBytes?(config: RawCoreConfig, B: number, T: number): number;
}

export const hasFeature = (addon: CoreAddon, f: CoreFeature): boolean => Array.isArray(addon.features) && addon.features.includes(f);
