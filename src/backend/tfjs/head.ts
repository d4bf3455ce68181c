import { matMul2d } from './ops.js';
import { tf } from './runtime.js';

/** Rows of the head processed at once: bounds its [rows, vocab] temporaries (256 x 50257 floats = 51 MB each). */
export const HEAD_CHUNK_ROWS = 256;

/** Next-token targets: target[b*T+t] = labels[b*T+t+1], -100 at t = T-1 (HF shift). */
export function shiftTargets(labels: Int32Array, batch: number, seqLen: number): { rows: Int32Array; targets: Int32Array } {
  const rows: number[] = [];
  const targets: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seqLen - 1; t++) {
      const y = labels[b * seqLen + t + 1]!;
      if (y === -100) continue;
      rows.push(b * seqLen + t);
      targets.push(y);
    }
  }
  return { rows: Int32Array.from(rows), targets: Int32Array.from(targets) };
}

export interface HeadLossResult {
  /** Sum of NLL over the target rows (scalar). */
  lossSum: tf.Scalar;
  /** d(upstream * lossSum)/d(hidden) [N, C], when gradients were asked for. */
  dHidden?: tf.Tensor2D;
  /**
   * d/d(head weight), transposed: [C, V] (the layout wasm multiplies fastest). Tied, it adds into the embedding's.
   * Absent when the head is frozen (LoRA).
   */
  dWteT?: tf.Tensor2D;
}

/**
 * Cross-entropy of the head (logits = hidden @ wteT, wteT = wte^T [C, V]; `wte` is the head weight [V, C]: the
 * embedding when tied, lm_head.weight when not) over the given rows only, in chunks,
 * so the full [B, T, V] logits/probabilities never exist. With `upstream` it also returns the
 * gradients, computed in the same pass (p - onehot) * upstream; `headGrad` false (a frozen head, LoRA) skips the
 * head weight's gradient GEMM and returns dHidden alone. Call inside tf.tidy.
 */
export function headLoss(
  hidden: tf.Tensor2D,
  wte: tf.Tensor2D,
  wteT: tf.Tensor2D,
  rows: Int32Array,
  targets: Int32Array,
  upstream?: number,
  headGrad = true,
): HeadLossResult {
  const [n, C] = hidden.shape;
  const V = wteT.shape[1];
  const wantGrad = upstream !== undefined;
  let lossSum: tf.Scalar = tf.scalar(0);
  const dRows: tf.Tensor2D[] = [];
  let dWteT: tf.Tensor2D | undefined = wantGrad && headGrad ? tf.zeros([C, V]) : undefined;

  for (let start = 0; start < rows.length; start += HEAD_CHUNK_ROWS) {
    const len = Math.min(HEAD_CHUNK_ROWS, rows.length - start);
    const rowIds = rows.subarray(start, start + len);
    const tgt = targets.subarray(start, start + len);
    const step = tf.tidy(() => {
      const h = tf.gather(hidden, tf.tensor1d(rowIds, 'int32')) as tf.Tensor2D;
      const tgtT = tf.tensor1d(tgt, 'int32');
      const logits = tf.matMul(h, wteT);
      const lse = tf.logSumExp(logits, -1, true);
      const picked = tf.sum(tf.mul(h, tf.gather(wte, tgtT)), -1, true);
      const chunkLoss = tf.add(lossSum, tf.sum(tf.sub(lse, picked))) as tf.Scalar;
      if (!wantGrad) return { chunkLoss };
      const u = upstream!;
      // (p - onehot) * u. The one-hot is a scatter: wasm's OneHot ignores a non-integer on-value.
      const hot = Int32Array.from({ length: 2 * len }, (_, i) => (i % 2 === 0 ? i / 2 : tgt[(i - 1) / 2]!));
      const onehot = tf.scatterND(tf.tensor2d(hot, [len, 2], 'int32'), tf.fill([len], u), [len, V]);
      const dLogits = tf.sub(tf.mul(tf.exp(tf.sub(logits, lse)), u), onehot);
      const dh = tf.matMul(dLogits, wte) as tf.Tensor2D;
      if (!dWteT) return { chunkLoss, dh };
      const dw = tf.add(dWteT, matMul2d(h, dLogits as tf.Tensor2D, true, false)) as tf.Tensor2D;
      return { chunkLoss, dh, dw };
    });
    lossSum.dispose();
    lossSum = step.chunkLoss;
    if (step.dh) dRows.push(step.dh);
    if (step.dw) {
      dWteT!.dispose();
      dWteT = step.dw;
    }
  }
  if (!wantGrad) return { lossSum };
  const dHidden =
    rows.length === 0
      ? tf.zeros<tf.Rank.R2>([n, C])
      : (tf.scatterND(tf.tensor2d(rows, [rows.length, 1], 'int32'), tf.concat(dRows, 0), [n, C]) as tf.Tensor2D);
  return dWteT ? { lossSum, dHidden, dWteT } : { lossSum, dHidden };
}
