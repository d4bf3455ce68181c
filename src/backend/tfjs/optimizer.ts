import type { ParamSpec } from '../../arch/layout.js';
import { ADAMW_DEFAULTS, type OptimizerStep } from '../types.js';
import { tf } from './runtime.js';

export interface AdamMoments {
  m: Map<string, tf.Tensor>;
  v: Map<string, tf.Tensor>;
}

/** Global L2 norm of all gradients, reduced on the device; one scalar comes back. */
export async function globalNorm(grads: Iterable<tf.Tensor>): Promise<number> {
  const total = tf.tidy(() => {
    const parts = [...grads].map((g) => tf.sum(tf.square(g)));
    return tf.sqrt(parts.length === 1 ? parts[0]! : tf.addN(parts));
  });
  const [norm] = await total.data();
  total.dispose();
  return norm!;
}


/**
 * torch AdamW (foreach=False) for one parameter, step t >= 1, gradient already unscaled:
 * p *= 1 - lr*wd (decay params only); m, v EMA; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
 * Returns the new tensors; the caller disposes the old ones.
 */
export function adamwUpdate(
  spec: ParamSpec,
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  t: number,
  clipCoef: number,
  opt: OptimizerStep,
): { p: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
  const b1 = opt.beta1 ?? ADAMW_DEFAULTS.beta1;
  const b2 = opt.beta2 ?? ADAMW_DEFAULTS.beta2;
  const eps = opt.eps ?? ADAMW_DEFAULTS.eps;
  const wd = spec.decay ? (opt.weightDecay ?? ADAMW_DEFAULTS.weightDecay) : 0;
  return tf.tidy(() => {
    const gc = clipCoef === 1 ? g : tf.mul(g, clipCoef);
    const decayed = wd === 0 ? p : tf.mul(p, 1 - opt.lr * wd);
    const m2 = tf.add(tf.mul(m, b1), tf.mul(gc, 1 - b1));
    const v2 = tf.add(tf.mul(v, b2), tf.mul(tf.square(gc), 1 - b2));
    const stepSize = opt.lr / (1 - b1 ** t);
    const denom = tf.add(tf.div(tf.sqrt(v2), Math.sqrt(1 - b2 ** t)), eps);
    const p2 = tf.sub(decayed, tf.mul(tf.div(m2, denom), stepSize));
    return { p: p2, m: m2, v: v2 };
  });
}
