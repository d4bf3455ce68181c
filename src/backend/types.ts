import type { ModelConfig } from '../arch/config.js';
import type { LoraSpec } from '../arch/lora.js';
import type { NamedTensor, NamedTensors } from '../arch/tensors.js';

// Weights are an arch-level notion (arch/ sits below the cores); re-exported for the cores' imports.
export type { NamedTensor, NamedTensors };

/** A batch of token ids, row-major [batchSize, seqLen]. */
export interface TokenBatch {
  batchSize: number;
  seqLen: number;
  inputIds: Int32Array;
  /** 1 = real token, 0 = padding (masked as a key everywhere). Default: all ones. */
  attentionMask?: Uint8Array;
  /** Default: 0..seqLen-1 in every row (HF right-padding semantics). Left padding passes cumsum(mask)-1. */
  positionIds?: Int32Array;
}

/** A batch with LM labels. Labels are NOT pre-shifted: logits[:, t] predicts labels[:, t+1]; -100 is ignored. */
export interface LabeledBatch extends TokenBatch {
  labels: Int32Array;
}

/** Logits [B, T, V]. A tf.Tensor satisfies this shape too. Call dispose() when done. */
export interface LogitsTensor {
  readonly shape: number[];
  data(): Promise<Float32Array>;
  dispose(): void;
}

export interface ForwardOptions {
  /** Also return HF-style hidden states: [0] = wte+wpe, [l] = output of block l-1, [n_layer] = ln_f(last block). */
  outputHiddenStates?: boolean;
}

export interface ForwardResult {
  logits: LogitsTensor;
  /** n_layer + 1 arrays of [B, T, n_embd] when requested. */
  hiddenStates?: Float32Array[];
}

export interface LossResult {
  /** Mean cross-entropy over all targets != -100 in the batch (HF semantics). NaN when there are none. */
  loss: number;
  /** Number of targets that carried loss. */
  tokens: number;
}

/** One optimiser update. Weight decay applies only to params whose layout marks `decay` (2-D weights). */
export interface OptimizerStep {
  lr: number;
  beta1?: number; // default 0.9
  beta2?: number; // default 0.999
  eps?: number; // default 1e-8, added after the bias-corrected sqrt (torch AdamW)
  weightDecay?: number; // default 0.01
  /** Global-norm clipping: coef = min(1, maxGradNorm / (norm + 1e-6)). 0 or Infinity disables. Default 1.0. */
  maxGradNorm?: number;
}

export interface OptimizerResult {
  /** Global L2 norm of the gradients before clipping. */
  gradNorm: number;
  clipCoef: number;
  /** AdamW step count after this update (1 after the first update). */
  step: number;
}

export interface TrainStepResult extends LossResult, OptimizerResult {}

export interface OptimizerState {
  step: number;
  m: NamedTensors;
  v: NamedTensors;
}

/** KV-cache decoding state for one batch of prompts. */
export interface DecodeSession {
  readonly batchSize: number;
  /** Tokens currently held in the cache (prompt length + appended steps). */
  readonly length: number;
  /** Logits [batchSize * vocab] for the next token after the last position of each row. */
  readonly lastLogits: Float32Array;
  /**
   * Append one token per row at the given positions (the mask is extended with 1),
   * and return the next logits [batchSize * vocab] (also stored in lastLogits).
   */
  step(tokens: Int32Array, positions: Int32Array): Promise<Float32Array>;
  dispose(): void;
}

/** How a core starts: the base weights (or a seeded init), and optionally LoRA adapters over a frozen base. */
export interface CoreInit {
  weights?: NamedTensors;
  seed?: number;
  lora?: {
    spec: LoraSpec;
    /** Adapter tensors by loraLayout name; default initLoraWeights(config, spec, seed). */
    weights?: NamedTensors;
  };
  /**
   * Most bytes of activations one loss or training call may plan (the native CPU core; others ignore it): a batch
   * whose activations would pass it runs in row micro-batches with exactly the whole batch's mean loss and gradient
   * (src/backend/microbatch.ts). Default 2 GiB; Infinity never splits. Smaller chunks save memory and cost speed.
   */
  activationBudgetBytes?: number;
}

/** What withAdapter needs: the new core's adapters (its base is the shared one) and the seed of their init. */
export interface AdapterInit {
  lora: NonNullable<CoreInit['lora']>;
  seed?: number;
}

export interface CoreInfo {
  /** Which implementation of TransformerCore: the portable tfjs one or a native one. */
  implementation: 'tfjs' | 'native';
  /** Short backend id shown to users, e.g. `tfjs-wasm`, `tfjs-cpu`, `native-cpu`, `native-cuda`. */
  backend: string;
  device: 'cpu' | 'wasm' | 'cuda' | 'webgpu';
}

export interface CoreMemory {
  /** Bytes held by this core (weights, grads, optimiser state, activations, caches). */
  bytes: number;
  /** Live tensors where the implementation has such a notion (tfjs). */
  tensors?: number;
}

/**
 * Everything students and the trainer need from a GPT-2. Implementations:
 * tfjs (cpu/wasm/tfjs-node-gpu) and the native C++/CUDA cores. No tfjs type leaks through here.
 */
export interface TransformerCore {
  readonly config: ModelConfig;
  readonly info: CoreInfo;
  /**
   * Set when the core was created with LoRA adapters. Such a core trains the adapters alone: the base weights are
   * frozen (no gradients, no AdamW state, no weight-gradient GEMMs for them; input gradients still flow), and
   * getWeights / setWeights / getGradients / get/setOptimizerState / clipping all cover the adapter tensors of
   * loraLayout(config, lora) only. getBaseWeights() reads the frozen base.
   */
  readonly lora?: LoraSpec;
  /** The frozen base weights of a LoRA core (never merged); for a plain core the same as getWeights(). */
  getBaseWeights?(): Promise<NamedTensors>;
  /**
   * A second LoRA core over this core's frozen base, sharing the base weights in memory: the Iterative pair's QG
   * and QA adapters over one base. Only on a LoRA core (throws ModelConfigError on a plain one). The new core has
   * its own adapter (`lora.weights`, or PEFT's init from `seed`), gradients, optimizer state, activations and decode
   * sessions; training either core never changes the other's adapter or the shared base. Its memory().bytes leaves
   * the shared base out, so the two cores' figures add up to what the process holds. The base is freed when the
   * last core over it is disposed, in either order. Absent on cores that cannot share (then the caller refuses).
   */
  withAdapter?(init: AdapterInit): Promise<TransformerCore>;

  forward(batch: TokenBatch, options?: ForwardOptions): Promise<ForwardResult>;
  /** Forward + masked loss, no gradients. */
  loss(batch: LabeledBatch): Promise<LossResult>;

  /** Adds `scale` * d(mean loss)/d(params) into the gradient buffers (for accumulation). */
  accumulateGradients(batch: LabeledBatch, scale?: number): Promise<LossResult>;
  getGradients(): Promise<NamedTensors>;
  zeroGradients(): void;
  /** Clip, AdamW, then zero the gradients. Throws NonFiniteLossError (weights untouched) if the norm is not finite. */
  applyOptimizer(step: OptimizerStep): Promise<OptimizerResult>;
  /** zeroGradients + accumulateGradients + applyOptimizer; throws NonFiniteLossError with weights untouched. */
  trainStep(batch: LabeledBatch, step: OptimizerStep): Promise<TrainStepResult>;

  getOptimizerState(): Promise<OptimizerState>;
  setOptimizerState(state: OptimizerState): Promise<void>;

  getWeights(): Promise<NamedTensors>;
  /** Must contain every parameter of paramLayout(config) with the right shape. */
  setWeights(weights: NamedTensors): Promise<void>;

  /** Prefill the prompt batch (its mask/positions as given) and keep a KV cache of up to maxLength tokens. */
  startDecode(prompt: TokenBatch, options: { maxLength: number }): Promise<DecodeSession>;

  memory(): CoreMemory;
  dispose(): void;
}

export type BackendPreference = 'auto' | 'cuda' | 'wasm' | 'cpu' | 'native' | 'tfjs-cpu';

export interface BackendReport {
  /** The backend id that createCore will use, e.g. `native-cpu`, `tfjs-wasm`. */
  backend: string;
  implementation: CoreInfo['implementation'];
  device: CoreInfo['device'];
  simd?: boolean;
  threads?: number;
  versions: Record<string, string>;
  /** Options tried before the chosen one, with the reason each was passed over. */
  skipped: Array<{ backend: string; reason: string }>;
  /** One human-readable line: what was chosen and why. */
  summary: string;
  /** Build a core for this backend, with `weights` or a fresh init from `seed`, and LoRA adapters when `lora` is given. */
  createCore(config: ModelConfig, init?: CoreInit): Promise<TransformerCore>;
}

export const ADAMW_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1.0 } as const;
