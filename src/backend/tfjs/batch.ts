import type { TokenBatch } from '../types.js';
import { attentionBias } from './ops.js';
import type { TrunkInput } from './trunk.js';
import { tf } from './runtime.js';

export function defaultPositions(batch: number, seqLen: number): Int32Array {
  const out = new Int32Array(batch * seqLen);
  for (let i = 0; i < out.length; i++) out[i] = i % seqLen;
  return out;
}

/** Upload ids/positions/mask bias. The caller disposes the tensors (or builds them inside a tidy). */
export function trunkInput(batch: TokenBatch): TrunkInput {
  const { batchSize: B, seqLen: T } = batch;
  return {
    batch: B,
    seqLen: T,
    ids: tf.tensor1d(batch.inputIds, 'int32'),
    positions: tf.tensor1d(batch.positionIds ?? defaultPositions(B, T), 'int32'),
    bias: attentionBias(B, T, T, batch.attentionMask),
  };
}

export function disposeInput(input: TrunkInput): void {
  tf.dispose([input.ids, input.positions, input.bias]);
}
