import type { LabeledBatch } from '../../src/backend/types.js';
import { Rng } from '../../src/util/rng.js';

/**
 * A batch of T positions whose row b holds random tokens (1..vocab-1) at [start, start + len) of rows[b] and padding
 * (id 0, mask 0, label -100) elsewhere, so rows can be left-, right- or both-side padded; positions count from each
 * row's first real token, and every real token is its own label.
 */
export function paddedBatch(rows: ReadonlyArray<readonly [start: number, len: number]>, T: number, vocab: number, seed: number): LabeledBatch {
  const rng = new Rng(seed);
  const B = rows.length;
  const inputIds = new Int32Array(B * T);
  const attentionMask = new Uint8Array(B * T);
  const positionIds = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(-100);
  for (let b = 0; b < B; b++) {
    const [start, len] = rows[b]!;
    for (let t = 0; t < T; t++) {
      const real = t >= start && t < start + len;
      inputIds[b * T + t] = real ? 1 + rng.int(vocab - 1) : 0;
      attentionMask[b * T + t] = real ? 1 : 0;
      positionIds[b * T + t] = real ? t - start : 0;
      if (real) labels[b * T + t] = inputIds[b * T + t]!;
    }
  }
  return { batchSize: B, seqLen: T, inputIds, attentionMask, positionIds, labels };
}
