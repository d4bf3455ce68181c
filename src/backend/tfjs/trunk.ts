import { tf } from './runtime.js';

/** Parameters by HF name, resident on the core's tfjs backend. */
export type ParamTensors = Map<string, tf.Tensor>;

export interface TrunkInput {
  batch: number;
  seqLen: number;
  ids: tf.Tensor1D; // [B*T] int32
  positions: tf.Tensor1D; // [B*T] int32
  bias: tf.Tensor4D; // [B, 1, T, Tk] additive attention mask (Tk = T, or the cache length when decoding)
}

/** One layer's cached keys and values, [B, KV heads, L, head_dim] (keys after RoPE for the Llama family). */
export interface LayerKV {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
}

export interface TrunkOutput<Saved> {
  /** Final norm's output [B*T, C]. */
  hidden: tf.Tensor2D;
  /** HF hidden_states when asked: layers + 1 tensors [B*T, C], the last one after the final norm. */
  hiddenStates?: tf.Tensor2D[];
  /** Per-layer keys/values when asked (decode prefill). */
  kv?: LayerKV[];
  /** What backward reads, when asked. */
  saved?: Saved;
}

/**
 * One architecture's transformer trunk (embeddings, blocks, final norm) with its hand-written backward and its
 * KV-cache step. The head (tied or untied) and the optimizer are shared by every architecture (head.ts, optimizer.ts).
 */
export interface TfjsTrunk<Saved = unknown> {
  readonly layers: number;
  /** The head's weight [V, C]: the token embedding when tied (backward() returns only its embedding part then). */
  readonly headName: string;
  /**
   * 2-D weights this trunk keeps on the device transposed (nn.Linear's [out, in] as [in, out]), with their gradients
   * and Adam moments: every forward matmul then takes wasm's fast path without a transpose per call (a decode step
   * would otherwise transpose every weight). The core converts at upload and download; callers see HF's layout.
   */
  readonly storedTransposed: ReadonlySet<string>;
  /** Call inside tf.tidy; the caller keeps what it returns. */
  forward(params: ParamTensors, input: TrunkInput, want: { save?: boolean; hiddenStates?: boolean; kv?: boolean }): TrunkOutput<Saved>;
  /**
   * Gradients by parameter name given d(loss)/d(hidden); frees the saved activations as it goes.
   * Call inside tf.tidy.
   */
  backward(params: ParamTensors, input: TrunkInput, saved: Saved, dHidden: tf.Tensor2D): Map<string, tf.Tensor>;
  /**
   * One decode step of T = 1 token per row: input.bias is [B, 1, 1, L] over the past keys plus this one.
   * Returns the final norm's output [B, C] and each layer's grown cache. Call inside tf.tidy.
   */
  decodeStep(params: ParamTensors, input: TrunkInput, past: LayerKV[]): { hidden: tf.Tensor2D; kv: LayerKV[] };
}

export function param(params: ParamTensors, name: string): tf.Tensor {
  const t = params.get(name);
  if (!t) throw new Error(`internal: parameter ${name} is missing`);
  return t;
}
