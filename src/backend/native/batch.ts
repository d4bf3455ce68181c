import type { GPT2Config } from '../../arch/config.js';
import { ShapeError } from '../../errors.js';
import type { LabeledBatch, TokenBatch } from '../types.js';

/** Checks a batch before it crosses into native code, naming the first bad element. */
export function checkBatch(batch: TokenBatch, config: GPT2Config, what = 'batch'): void {
  const { batchSize: B, seqLen: T } = batch;
  if (!Number.isInteger(B) || !Number.isInteger(T) || B <= 0 || T <= 0) {
    throw new ShapeError(`${what}: batchSize and seqLen must be positive integers (got ${B} x ${T})`);
  }
  const n = B * T;
  const need = (name: string, arr: { length: number } | undefined): void => {
    if (arr && arr.length !== n) throw new ShapeError(`${what}: ${name} has ${arr.length} entries, expected ${B} x ${T} = ${n}`);
  };
  need('inputIds', batch.inputIds);
  need('attentionMask', batch.attentionMask);
  need('positionIds', batch.positionIds);
  for (let i = 0; i < n; i++) {
    const id = batch.inputIds[i]!;
    if (!(id >= 0 && id < config.vocab_size)) {
      throw new ShapeError(`${what}: inputIds[${Math.floor(i / T)}][${i % T}] = ${id} is outside the vocabulary 0..${config.vocab_size - 1}`);
    }
  }
  if (batch.positionIds) {
    for (let i = 0; i < n; i++) {
      const p = batch.positionIds[i]!;
      if (!(p >= 0 && p < config.n_positions)) {
        throw new ShapeError(`${what}: positionIds[${Math.floor(i / T)}][${i % T}] = ${p} is outside 0..${config.n_positions - 1}`);
      }
    }
  } else if (T > config.n_positions) {
    throw new ShapeError(`${what}: seqLen ${T} exceeds n_positions ${config.n_positions}`);
  }
}

export function checkLabeledBatch(batch: LabeledBatch, config: GPT2Config, what = 'batch'): void {
  checkBatch(batch, config, what);
  const n = batch.batchSize * batch.seqLen;
  if (batch.labels.length !== n) throw new ShapeError(`${what}: labels has ${batch.labels.length} entries, expected ${n}`);
  for (let i = 0; i < n; i++) {
    const y = batch.labels[i]!;
    if (y !== -100 && !(y >= 0 && y < config.vocab_size)) {
      throw new ShapeError(`${what}: labels[${Math.floor(i / batch.seqLen)}][${i % batch.seqLen}] = ${y} is neither -100 nor a token id`);
    }
  }
}
