import { tf } from './runtime.js';

/**
 * Hand-written forward/backward pieces of GPT-2. tfjs-core's Node bundle registers no gradient
 * functions and autodiff keeps every temporary alive, so the core differentiates by hand
 * (llm.c style) and saves only what each backward step reads.
 */

/** HF uses finfo(float32).min for masked scores, so a row with no allowed key softmaxes to uniform, not NaN. */
export const MASKED_SCORE = -3.4028234663852886e38;

export type LayerNormSaved = {
  xhat: tf.Tensor2D;
  rstd: tf.Tensor2D;
};

/** LayerNorm over the last axis, biased variance, eps inside the sqrt. x: [N, C]. */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor, beta: tf.Tensor, eps: number): { y: tf.Tensor2D; saved: LayerNormSaved } {
  const mean = tf.mean(x, -1, true);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), -1, true);
  const rstd = tf.rsqrt(tf.add(variance, eps)) as tf.Tensor2D;
  const xhat = tf.mul(xc, rstd) as tf.Tensor2D;
  const y = tf.add(tf.mul(xhat, gamma), beta) as tf.Tensor2D;
  return { y, saved: { xhat, rstd } };
}

/** Backward of layerNorm; a frozen LayerNorm (weightGrad false, LoRA's base) returns dx alone. */
export function layerNormBackward(
  dy: tf.Tensor2D,
  saved: LayerNormSaved,
  gamma: tf.Tensor,
  weightGrad = true,
): { dx: tf.Tensor2D; dgamma?: tf.Tensor1D; dbeta?: tf.Tensor1D } {
  const { xhat, rstd } = saved;
  const dxhat = tf.mul(dy, gamma);
  const meanD = tf.mean(dxhat, -1, true);
  const meanDX = tf.mean(tf.mul(dxhat, xhat), -1, true);
  const dx = tf.mul(tf.sub(tf.sub(dxhat, meanD), tf.mul(xhat, meanDX)), rstd) as tf.Tensor2D;
  if (!weightGrad) return { dx };
  return { dx, dgamma: tf.sum(tf.mul(dy, xhat), 0) as tf.Tensor1D, dbeta: tf.sum(dy, 0) as tf.Tensor1D };
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

/** gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function gelu(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), GELU_K)), GELU_C);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

export function geluBackward(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  const x2 = tf.mul(x, x);
  const t = tf.tanh(tf.mul(tf.add(x, tf.mul(tf.mul(x2, x), GELU_K)), GELU_C));
  const dInner = tf.mul(tf.add(tf.mul(x2, 3 * GELU_K), 1), GELU_C);
  const sech2 = tf.sub(1, tf.square(t));
  const local = tf.add(tf.mul(tf.add(t, 1), 0.5), tf.mul(tf.mul(tf.mul(x, 0.5), sech2), dInner));
  return tf.mul(dy, local);
}

/**
 * 2-D matmul with the transposes done explicitly: wasm's MatMul leaves XNNPACK's fast path when a
 * transpose flag is set (measured 10-45x slower for [1024,256]/[256,50257] shapes); tfjs-cpu is no worse.
 */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false): tf.Tensor2D {
  return tf.matMul(transposeA ? tf.transpose(a) : a, transposeB ? tf.transpose(b) : b);
}

/** Conv1D: y = x @ W + b with W stored [in, out]. */
export function linear(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  return tf.add(matMul2d(x, w as tf.Tensor2D), b) as tf.Tensor2D;
}

/** Backward of linear; a frozen layer (LoRA's base) returns dx alone: no weight-gradient GEMM. */
export function linearBackward(
  dy: tf.Tensor2D,
  x: tf.Tensor2D,
  w: tf.Tensor,
  frozen = false,
): { dx: tf.Tensor2D; dw?: tf.Tensor2D; db?: tf.Tensor1D } {
  const dx = matMul2d(dy, w as tf.Tensor2D, false, true);
  if (frozen) return { dx };
  return { dx, dw: matMul2d(x, dy, true, false), db: tf.sum(dy, 0) as tf.Tensor1D };
}

/**
 * Additive attention bias [B, 1, Tq, Tk]: 0 where query i (absolute slot offset+i) may see key j
 * (j <= offset+i and keyMask[b, j] = 1), MASKED_SCORE elsewhere.
 */
export function attentionBias(batch: number, tq: number, tk: number, keyMask: Uint8Array | undefined, offset = 0): tf.Tensor4D {
  const data = new Float32Array(batch * tq * tk);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < tq; i++) {
      const row = (b * tq + i) * tk;
      for (let j = 0; j < tk; j++) {
        const visible = j <= offset + i && (!keyMask || keyMask[b * tk + j] === 1);
        data[row + j] = visible ? 0 : MASKED_SCORE;
      }
    }
  }
  return tf.tensor4d(data, [batch, 1, tq, tk]);
}

/** [B*T, C] -> [B, H, T, hd] */
export function splitHeads(x: tf.Tensor, b: number, t: number, h: number): tf.Tensor4D {
  const hd = x.shape[x.shape.length - 1]! / h;
  return tf.transpose(tf.reshape(x, [b, t, h, hd]), [0, 2, 1, 3]);
}

/** [B, H, T, hd] -> [B*T, C] */
export function mergeHeads(x: tf.Tensor): tf.Tensor2D {
  const [b, h, t, hd] = x.shape as [number, number, number, number];
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b * t, h * hd]);
}
