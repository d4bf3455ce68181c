import type { GPT2Config } from '../../arch/config.js';
import { ShapeError } from '../../errors.js';
import type { LabeledBatch, TokenBatch } from '../types.js';
import { attentionBias } from './ops.js';
import type { TrunkInput } from './model.js';
import { tf } from './runtime.js';

/** Check a batch against the config; throws ShapeError naming the first bad element. */
export function validateBatch(config: GPT2Config, batch: TokenBatch, what = 'batch'): void {
  const { batchSize: B, seqLen: T } = batch;
  if (!Number.isInteger(B) || B < 1 || !Number.isInteger(T) || T < 1) {
    throw new ShapeError(`${what}: batchSize and seqLen must be positive integers (got ${B} x ${T})`);
  }
  const n = B * T;
  const check = (name: string, arr: ArrayLike<number> | undefined): void => {
    if (arr && arr.length !== n) throw new ShapeError(`${what}.${name} has ${arr.length} entries, expected batchSize*seqLen = ${n}`);
  };
  check('inputIds', batch.inputIds);
  check('attentionMask', batch.attentionMask);
  check('positionIds', batch.positionIds);
  if ('labels' in batch) check('labels', (batch as LabeledBatch).labels);
  inRange(batch.inputIds, config.vocab_size, `${what}.inputIds`, T);
  if (batch.positionIds) inRange(batch.positionIds, config.n_positions, `${what}.positionIds`, T);
  else if (T > config.n_positions) throw new ShapeError(`${what}: seqLen ${T} exceeds n_positions ${config.n_positions}`);
  if ('labels' in batch) {
    const labels = (batch as LabeledBatch).labels;
    for (let i = 0; i < labels.length; i++) {
      const y = labels[i]!;
      if (y !== -100 && (y < 0 || y >= config.vocab_size)) {
        throw new ShapeError(`${what}.labels[${Math.floor(i / T)}][${i % T}] = ${y} is outside [0, ${config.vocab_size}) and is not -100`);
      }
    }
  }
}

export function inRange(arr: ArrayLike<number>, limit: number, what: string, rowLen: number): void {
  for (let i = 0; i < arr.length; i++) {
    const x = arr[i]!;
    if (!Number.isInteger(x) || x < 0 || x >= limit) {
      throw new ShapeError(`${what}[${Math.floor(i / rowLen)}][${i % rowLen}] = ${x} is outside [0, ${limit})`);
    }
  }
}

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
