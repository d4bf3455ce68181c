import { TrainingDataError } from '../errors.js';
import type { Segment, TrainingPair, TrainingSequence } from '../format/pairs.js';
import type { LabeledBatch } from '../model/core-types.js';
import { Rng } from '../util/rng.js';
import type { TokenCodec } from './codec.js';

/** Label that carries no loss (HF/PyTorch ignore_index). */
export const IGNORE_INDEX = -100;

/** One tokenised example: ids = prompt ++ completion ++ EOS (or segments ++ EOS); labels -100 where no loss falls. */
export interface EncodedExample {
  ids: Int32Array;
  labels: Int32Array;
  promptLength: number;
}

export interface EncodeOptions {
  /** Put loss on the prompt tokens too. Default false: completion (and EOS) only. */
  promptLoss?: boolean;
  /** Longest allowed example (the model's n_positions). Longer ones are an error, never silently cut. */
  maxLength: number;
}

/**
 * Prompt and completion are encoded separately and concatenated, so training sees
 * exactly the prompt ids that generation later starts from.
 */
export function encodePair(codec: TokenCodec, pair: Pick<TrainingPair, 'prompt' | 'completion'>, options: EncodeOptions): EncodedExample {
  return encodeSegments(codec, [{ text: pair.prompt, loss: options.promptLoss ?? false }, { text: pair.completion, loss: true }], options);
}

/**
 * Segments are encoded one by one and concatenated (each split is where generation
 * would start a turn), then EOS, which carries loss when the last segment does.
 */
export function encodeSegments(codec: TokenCodec, segments: readonly Segment[], options: Pick<EncodeOptions, 'maxLength'>): EncodedExample {
  const ids: number[] = [];
  const labels: number[] = [];
  let promptLength = -1;
  for (const seg of segments) {
    const part = codec.encode(seg.text);
    ids.push(...part);
    labels.push(...(seg.loss ? part : part.map(() => IGNORE_INDEX)));
    if (promptLength < 0) promptLength = part.length;
  }
  ids.push(codec.eosId);
  labels.push(segments.at(-1)?.loss ? codec.eosId : IGNORE_INDEX);
  if (ids.length > options.maxLength) {
    throw new TrainingDataError(
      `example is ${ids.length} tokens but the model holds ${options.maxLength} (n_positions); raise n_positions or shorten: ${JSON.stringify(segments[0]?.text.slice(0, 80) ?? '')}`,
    );
  }
  return { ids: Int32Array.from(ids), labels: Int32Array.from(labels), promptLength: Math.max(0, promptLength) };
}

export function encodePairs(codec: TokenCodec, pairs: readonly TrainingPair[], options: EncodeOptions): EncodedExample[] {
  return pairs.map((p, i) => withProblem(i, p.problemId, () => encodePair(codec, p, options)));
}

export function encodeSequences(codec: TokenCodec, sequences: readonly TrainingSequence[], options: Pick<EncodeOptions, 'maxLength'>): EncodedExample[] {
  return sequences.map((s, i) => withProblem(i, s.problemId, () => encodeSegments(codec, s.segments, options)));
}

function withProblem(index: number, problemId: string, encode: () => EncodedExample): EncodedExample {
  try {
    return encode();
  } catch (err) {
    if (err instanceof TrainingDataError) throw new TrainingDataError(`example ${index} (problem ${problemId}): ${err.message}`);
    throw err;
  }
}

/** Targets that carry loss: labels[t] for t >= 1 (logits at t-1 predict them) that are not ignored. */
export function lossTokens(labels: Int32Array, start = 0, end = labels.length): number {
  let n = 0;
  for (let t = start + 1; t < end; t++) if (labels[t] !== IGNORE_INDEX) n++;
  return n;
}

/** Right-pad examples into one batch: pad id `padId`, mask 0, label -100. */
export function collate(examples: readonly EncodedExample[], padId: number): LabeledBatch {
  const batchSize = examples.length;
  const seqLen = Math.max(...examples.map((e) => e.ids.length));
  const inputIds = new Int32Array(batchSize * seqLen).fill(padId);
  const labels = new Int32Array(batchSize * seqLen).fill(IGNORE_INDEX);
  const attentionMask = new Uint8Array(batchSize * seqLen);
  examples.forEach((e, b) => {
    inputIds.set(e.ids, b * seqLen);
    labels.set(e.labels, b * seqLen);
    attentionMask.fill(1, b * seqLen, b * seqLen + e.ids.length);
  });
  return { batchSize, seqLen, inputIds, labels, attentionMask };
}

export function batchLossTokens(batch: LabeledBatch): number {
  let n = 0;
  for (let b = 0; b < batch.batchSize; b++) n += lossTokens(batch.labels, b * batch.seqLen, (b + 1) * batch.seqLen);
  return n;
}

/**
 * One epoch's batch order, as example indices. Length bucketing: shuffle, sort
 * windows of `bucketWindow` batches by length (less padding), then shuffle the batches.
 */
export function planEpoch(lengths: readonly number[], batchSize: number, rng: Rng, bucketWindow = 32): number[][] {
  const order = rng.shuffle(lengths.map((_, i) => i));
  const window = Math.max(1, bucketWindow) * batchSize;
  const batches: number[][] = [];
  for (let w = 0; w < order.length; w += window) {
    const chunk = order.slice(w, w + window).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
    for (let i = 0; i < chunk.length; i += batchSize) batches.push(chunk.slice(i, i + batchSize));
  }
  return rng.shuffle(batches);
}
