import { matMul2d } from './ops.js';
import { tf } from './runtime.js';

/**
 * Hand-written forward/backward pieces of the Llama family (RMSNorm, RoPE, SwiGLU, nn.Linear), in the style of
 * ops.ts: every op used here has a wasm kernel, and each forward returns only what its backward reads.
 */

export type RmsNormSaved = {
  xhat: tf.Tensor2D;
  rstd: tf.Tensor2D;
};

/** HF LlamaRMSNorm over the last axis: x * rsqrt(mean(x^2) + eps) * w. x: [N, D]. */
export function rmsNorm(x: tf.Tensor2D, w: tf.Tensor, eps: number): { y: tf.Tensor2D; saved: RmsNormSaved } {
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps)) as tf.Tensor2D;
  const xhat = tf.mul(x, rstd) as tf.Tensor2D;
  return { y: tf.mul(xhat, w) as tf.Tensor2D, saved: { xhat, rstd } };
}

/**
 * d/dx of rmsNorm: rstd * (dxhat - xhat * mean(dxhat * xhat)), dxhat = dy * w; dw sums dy * xhat over rows
 * (skipped when the weight is frozen: weightGrad false, LoRA).
 */
export function rmsNormBackward(dy: tf.Tensor2D, saved: RmsNormSaved, w: tf.Tensor, weightGrad = true): { dx: tf.Tensor2D; dw?: tf.Tensor1D } {
  const { xhat, rstd } = saved;
  const dxhat = tf.mul(dy, w);
  const dx = tf.mul(tf.sub(dxhat, tf.mul(xhat, tf.mean(tf.mul(dxhat, xhat), -1, true))), rstd) as tf.Tensor2D;
  return weightGrad ? { dx, dw: tf.sum(tf.mul(dy, xhat), 0) as tf.Tensor1D } : { dx };
}

/**
 * nn.Linear y = x W^T (+ b), with W [out, in] kept on the device as W^T [in, out] (TfjsTrunk.storedTransposed):
 * the forward then multiplies without a transpose, which wasm's fast path wants (see matMul2d).
 */
export function dense(x: tf.Tensor2D, wT: tf.Tensor, b?: tf.Tensor): tf.Tensor2D {
  const y = tf.matMul(x, wT as tf.Tensor2D) as tf.Tensor2D;
  return b ? (tf.add(y, b) as tf.Tensor2D) : y;
}

/**
 * Backward of dense: dx = dy W, d(W^T) = x^T dy, db = sum(dy) (only when the layer has a bias). A frozen layer
 * (LoRA's base) returns dx alone: no weight-gradient GEMM.
 */
export function denseBackward(dy: tf.Tensor2D, x: tf.Tensor2D, wT: tf.Tensor, hasBias: boolean, frozen = false): { dx: tf.Tensor2D; dwT?: tf.Tensor2D; db?: tf.Tensor1D } {
  const out: { dx: tf.Tensor2D; dwT?: tf.Tensor2D; db?: tf.Tensor1D } = { dx: matMul2d(dy, wT as tf.Tensor2D, false, true) };
  if (frozen) return out;
  out.dwT = matMul2d(x, dy, true, false);
  if (hasBias) out.db = tf.sum(dy, 0) as tf.Tensor1D;
  return out;
}

/** cos and sin of the rotary angles, [B, 1, T, hd], broadcast over heads. */
export type RopeTables = { cos: tf.Tensor4D; sin: tf.Tensor4D };

/**
 * HF's default RoPE tables from position ids [B*T]: inv_freq = theta^(-2i/hd) (float32, as torch computes it),
 * angles = position * inv_freq in float32 on the device, repeated for both halves (emb = cat(freqs, freqs)).
 */
export function ropeTables(positions: tf.Tensor1D, batch: number, seqLen: number, headDim: number, theta: number): RopeTables {
  const half = headDim / 2;
  const invFreq = Float32Array.from({ length: half }, (_, i) => 1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
  const freqs = tf.mul(tf.reshape(tf.cast(positions, 'float32'), [-1, 1]), tf.tensor2d(invFreq, [1, half]));
  const emb = tf.reshape(tf.concat([freqs, freqs], 1), [batch, 1, seqLen, headDim]);
  return { cos: tf.cos(emb) as tf.Tensor4D, sin: tf.sin(emb) as tf.Tensor4D };
}

/** rotate_half: [x1, x2] -> [-x2, x1] over the last axis (dimension i pairs with i + hd/2, not interleaved). */
function rotateHalf(x: tf.Tensor4D): tf.Tensor4D {
  const [x1, x2] = tf.split(x, 2, -1);
  return tf.concat([tf.neg(x2!), x1!], -1) as tf.Tensor4D;
}

/** x * cos + rotate_half(x) * sin, x: [B, H, T, hd]. */
export function applyRope(x: tf.Tensor4D, t: RopeTables): tf.Tensor4D {
  return tf.add(tf.mul(x, t.cos), tf.mul(rotateHalf(x), t.sin));
}

/** Backward of applyRope: rotate_half is R = [[0, -I], [I, 0]], R^T = -R, so dx = dy * cos - R(dy * sin). */
export function applyRopeBackward(dy: tf.Tensor4D, t: RopeTables): tf.Tensor4D {
  return tf.sub(tf.mul(dy, t.cos), rotateHalf(tf.mul(dy, t.sin)));
}

/** SwiGLU's inner product: silu(gate) * up. */
export function swiglu(gate: tf.Tensor2D, up: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor2D;
}

/** d/d(gate) and d/d(up) of swiglu; silu'(g) = s (1 + g (1 - s)), s = sigmoid(g). */
export function swigluBackward(dh: tf.Tensor2D, gate: tf.Tensor2D, up: tf.Tensor2D): { dGate: tf.Tensor2D; dUp: tf.Tensor2D } {
  const s = tf.sigmoid(gate);
  const dUp = tf.mul(dh, tf.mul(gate, s)) as tf.Tensor2D;
  const dSilu = tf.mul(s, tf.add(tf.mul(gate, tf.sub(1, s)), 1));
  return { dGate: tf.mul(tf.mul(dh, up), dSilu) as tf.Tensor2D, dUp };
}
