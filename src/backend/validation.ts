import { archDims, isGPT2Config, type ModelConfig } from '../arch/config.js';
import { BackendUnavailableError, ShapeError } from '../errors.js';
import type { CoreInfo, LabeledBatch, TokenBatch } from './types.js';

// Input checks and the dispose guard every TransformerCore implementation shares (tfjs, native CPU, native CUDA),
// so a bad batch or a disposed core fails the same way, with the same typed error, whatever the backend.

/** Checks a batch against the config before any core touches it; throws ShapeError naming the first bad element. */
export function validateBatch(config: ModelConfig, batch: TokenBatch, what = 'batch'): void {
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
  inRange(batch.inputIds, config.vocab_size, `${what}: inputIds`, T, `the vocabulary 0..${config.vocab_size - 1}`);
  const maxT = archDims(config).maxPositions;
  const limit = isGPT2Config(config) ? 'n_positions' : 'max_position_embeddings';
  if (batch.positionIds) inRange(batch.positionIds, maxT, `${what}: positionIds`, T, `0..${maxT - 1}`);
  else if (T > maxT) throw new ShapeError(`${what}: seqLen ${T} exceeds ${limit} ${maxT}`);
}

/** validateBatch plus the labels: one per token, each a token id or -100 (ignored). */
export function validateLabeledBatch(config: ModelConfig, batch: LabeledBatch, what = 'batch'): void {
  validateBatch(config, batch, what);
  const { batchSize: B, seqLen: T, labels } = batch;
  if (labels.length !== B * T) throw new ShapeError(`${what}: labels has ${labels.length} entries, expected ${B} x ${T} = ${B * T}`);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y !== -100 && !(Number.isInteger(y) && y >= 0 && y < config.vocab_size)) {
      throw new ShapeError(`${what}: labels[${Math.floor(i / T)}][${i % T}] = ${y} is neither -100 nor a token id in 0..${config.vocab_size - 1}`);
    }
  }
}

/** startDecode's cache length: an integer no shorter than the prompt. */
export function validateDecodeLength(maxLength: number, promptLength: number): void {
  if (!Number.isInteger(maxLength) || maxLength < promptLength) {
    throw new ShapeError(`startDecode: maxLength ${maxLength} must be an integer >= the prompt length ${promptLength}`);
  }
}

/** One decode step: a token and a position per row, in range, and room left in the cache. */
export function validateDecodeStep(
  config: ModelConfig,
  session: { batchSize: number; length: number; maxLength: number },
  tokens: Int32Array,
  positions: Int32Array,
): void {
  const B = session.batchSize;
  if (tokens.length !== B || positions.length !== B) {
    throw new ShapeError(`decode step: expected ${B} tokens and ${B} positions, got ${tokens.length} and ${positions.length}`);
  }
  if (session.length >= session.maxLength) throw new ShapeError(`decode step: the cache is full (maxLength ${session.maxLength})`);
  validateBatch(config, { batchSize: B, seqLen: 1, inputIds: tokens, positionIds: positions }, 'decode step');
}

/** Every entry an integer in [0, limit); the error names the first one that is not by [row][column]. */
function inRange(arr: ArrayLike<number>, limit: number, what: string, rowLen: number, range: string): void {
  for (let i = 0; i < arr.length; i++) {
    const x = arr[i]!;
    if (!(Number.isInteger(x) && x >= 0 && x < limit)) {
      throw new ShapeError(`${what}[${Math.floor(i / rowLen)}][${i % rowLen}] = ${x} is outside ${range}`);
    }
  }
}

/**
 * The dispose guard of a core or a decode session: dispose() is idempotent, and every later call fails with the
 * error `disposedError` builds (BackendUnavailableError for a core, ShapeError for a decode session).
 */
export class DisposeGuard {
  private disposed = false;

  constructor(private readonly disposedError: () => Error) {}

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Throws when disposed. */
  check(): void {
    if (this.disposed) throw this.disposedError();
  }

  /** Marks the object disposed; true only on the first call, so the caller frees its resources exactly once. */
  dispose(): boolean {
    if (this.disposed) return false;
    this.disposed = true;
    return true;
  }
}

/** The guard of a TransformerCore: `this native-cpu core was disposed` as BackendUnavailableError. */
export function coreDisposeGuard(info: CoreInfo): DisposeGuard {
  return new DisposeGuard(() => new BackendUnavailableError(info.backend, `this ${info.backend} core was disposed`));
}

/** The guard of a DecodeSession. */
export function sessionDisposeGuard(): DisposeGuard {
  return new DisposeGuard(() => new ShapeError('decode session was disposed'));
}
