import type { ModelConfig } from '../../arch/config.js';
import { type LoraSpec, loraLayout, loraScale } from '../../arch/lora.js';
import { matMul2d } from './ops.js';
import { tf } from './runtime.js';
import { param, type ParamTensors } from './trunk.js';

/**
 * LoRA adapters inside a tfjs trunk. For a targeted weight, PEFT's A [r, in] and B [out, r] live on the device as
 * A^T [in, r] and B^T [r, out], so the adapter path x A^T B^T multiplies without a transpose in the forward (wasm's
 * fast path, see matMul2d). The same product serves nn.Linear (y = x W^T) and GPT-2's Conv1D (y = x W with
 * W [in, out], delta (B A)^T = A^T B^T): both add scale * (x A^T) B^T to the base output.
 */
export interface TrunkLora {
  readonly scale: number;
  /** Base weight name -> the names of its A and B tensors (loraLayout's). */
  readonly adapters: ReadonlyMap<string, { a: string; b: string }>;
}

export function trunkLora(config: ModelConfig, spec: LoraSpec): TrunkLora {
  const layout = loraLayout(config, spec);
  const adapters = new Map<string, { a: string; b: string }>();
  for (let i = 0; i < layout.length; i += 2) adapters.set(layout[i]!.base, { a: layout[i]!.name, b: layout[i + 1]!.name });
  return { scale: loraScale(spec), adapters };
}

/** scale * (x A^T) B^T for the adapter of `weight`, or undefined when that weight has none. Call inside tf.tidy. */
export function loraDelta(lora: TrunkLora | undefined, params: ParamTensors, weight: string, x: tf.Tensor2D): tf.Tensor2D | undefined {
  const names = lora?.adapters.get(weight);
  if (!names) return undefined;
  const u = tf.mul(tf.matMul(x, param(params, names.a) as tf.Tensor2D), lora!.scale) as tf.Tensor2D;
  return tf.matMul(u, param(params, names.b) as tf.Tensor2D) as tf.Tensor2D;
}

/**
 * Backward of loraDelta given dy = d(loss)/d(layer output): writes d(A^T) and d(B^T) into `grads` (a record, which
 * tf.tidy keeps) under the adapter names and returns the adapter's part of dx. u = x A^T is recomputed (N x r, cheaper than keeping it):
 * d(B^T) = s u^T dy, du = s dy B, d(A^T) = x^T du, dx = du A.
 */
export function loraDeltaBackward(
  lora: TrunkLora | undefined,
  params: ParamTensors,
  weight: string,
  x: tf.Tensor2D,
  dy: tf.Tensor2D,
  grads: Record<string, tf.Tensor>,
): tf.Tensor2D | undefined {
  const names = lora?.adapters.get(weight);
  if (!names) return undefined;
  const aT = param(params, names.a) as tf.Tensor2D;
  const bT = param(params, names.b) as tf.Tensor2D;
  const su = tf.mul(tf.matMul(x, aT), lora!.scale) as tf.Tensor2D;
  grads[names.b] = matMul2d(su, dy, true, false);
  const du = tf.mul(matMul2d(dy, bT, false, true), lora!.scale) as tf.Tensor2D;
  grads[names.a] = matMul2d(x, du, true, false);
  return matMul2d(du, aT, false, true);
}
