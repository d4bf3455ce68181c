import type { LabeledBatch } from './types.js';

/**
 * Micro-batches: a core whose activations for a whole batch would pass its budget runs the batch's rows in chunks
 * and combines them into exactly the whole batch's mean loss and gradient (HF semantics: the mean over every
 * target != -100), up to float summation order. Activations then peak at one chunk's: at Qwen3-0.6B's 4 x 512 with
 * the native core's default budget, two rows' 1.8 GB instead of 3.6 GB. The weights, gradients and optimizer state
 * are shared by the chunks; what a smaller chunk costs is speed.
 */

/** [first row, end row) of each chunk: `B` rows in as few chunks of at most `maxRows` as possible, sizes within one. */
export function rowChunks(B: number, maxRows: number): Array<[number, number]> {
  const n = Math.ceil(B / Math.max(1, Math.min(B, maxRows)));
  return Array.from({ length: n }, (_, i) => [Math.floor((B * i) / n), Math.floor((B * (i + 1)) / n)]);
}

/** Targets that carry loss in rows [r0, r1): labels[:, t] for t >= 1 (logits[:, t - 1] predict them) that are not -100. */
export function targetsIn(batch: LabeledBatch, r0: number, r1: number): number {
  const T = batch.seqLen;
  let n = 0;
  for (let r = r0; r < r1; r++) for (let t = 1; t < T; t++) if (batch.labels[r * T + t] !== -100) n++;
  return n;
}

/** Rows [r0, r1) of a batch as a batch of their own (views, no copies). */
export function sliceRows(batch: LabeledBatch, r0: number, r1: number): LabeledBatch {
  const T = batch.seqLen;
  const rows = <A extends Int32Array | Uint8Array>(a: A): A => a.subarray(r0 * T, r1 * T) as A;
  const out: LabeledBatch = { batchSize: r1 - r0, seqLen: T, inputIds: rows(batch.inputIds), labels: rows(batch.labels) };
  if (batch.attentionMask) out.attentionMask = rows(batch.attentionMask);
  if (batch.positionIds) out.positionIds = rows(batch.positionIds);
  return out;
}

/**
 * The whole batch's { loss, tokens } from `run(chunk, share)` over its row chunks, where `share` is the chunk's
 * fraction of the batch's targets (so `scale * share` per chunk sums to the whole batch's mean gradient). Chunks
 * without a target are skipped; a batch without any runs whole (its loss is NaN, as unchunked).
 */
export async function overChunks(
  batch: LabeledBatch,
  maxRows: number,
  run: (chunk: LabeledBatch, share: number) => Promise<{ loss: number; tokens: number }>,
): Promise<{ loss: number; tokens: number }> {
  const chunks = rowChunks(batch.batchSize, maxRows);
  if (chunks.length === 1) return run(batch, 1);
  const counts = chunks.map(([r0, r1]) => targetsIn(batch, r0, r1));
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return run(batch, 1);
  let loss = 0;
  for (let i = 0; i < chunks.length; i++) {
    if (counts[i] === 0) continue;
    const [r0, r1] = chunks[i]!;
    const r = await run(sliceRows(batch, r0, r1), counts[i]! / total);
    loss += (r.loss * counts[i]!) / total;
  }
  return { loss, tokens: total };
}
