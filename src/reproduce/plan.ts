import { ADAMW_DEFAULTS } from '../backend/types.js';
import { padTokenId } from '../arch/config.js';
import { TrainingDataError } from '../errors.js';
import { buildPairs, buildRoleSequences, type FormatMode } from '../format/pairs.js';
import type { TrainingSurface } from '../model/training.js';
import type { IterativePacking, StudentData } from '../students/common.js';
import type { TokenCodec } from '../train/codec.js';
import { collate, encodePairs, encodeSequences, planEpoch, type EncodedExample } from '../train/examples.js';
import { Rng } from '../util/rng.js';

/** One trained model of the plan and the examples it sees. */
export interface PlanModel {
  name: string;
  mode: FormatMode;
  packing?: IterativePacking;
}

/**
 * The five models of the paper's four arms as the demo's ARMS registry trains them: three single-model
 * students, and the Iterative pair's QG and QA packed per chain (ARMS.iterative), each with the full budget.
 */
export const PAPER_MODELS: readonly PlanModel[] = [
  { name: 'Answer-only', mode: 'answer-only' },
  { name: 'CoT', mode: 'cot' },
  { name: 'Unified', mode: 'unified' },
  { name: 'Iterative/QG', mode: 'qg', packing: 'per-chain' },
  { name: 'Iterative/QA', mode: 'qa', packing: 'per-chain' },
];

/** A model's training examples, encoded as trainModel encodes them (same pairs or packed sequences). */
export function modelExamples(codec: TokenCodec, model: PlanModel, data: StudentData, maxLength: number): EncodedExample[] {
  const packed = model.packing === 'per-chain' && (model.mode === 'qg' || model.mode === 'qa');
  return packed
    ? encodeSequences(codec, buildRoleSequences(model.mode as 'qg' | 'qa', data.problems, data.chains), { maxLength })
    : encodePairs(codec, buildPairs(model.mode, data.problems, data.chains), { maxLength });
}

/**
 * Tokens (batch x padded sequence length, the trainer's tok/s unit) that `steps` optimizer steps will
 * process. It replays the trainer's own batch plan (seeded shuffle + length bucketing, one micro-batch
 * per step), so it is the exact count, not an average-length guess.
 */
export function plannedTokens(lengths: readonly number[], batchSize: number, steps: number, seed: number): number {
  if (lengths.length === 0) throw new TrainingDataError('no training examples to plan');
  const rng = new Rng(seed);
  let plan = planEpoch(lengths, batchSize, rng);
  let next = 0;
  let total = 0;
  for (let s = 0; s < steps; s++) {
    if (next >= plan.length) {
      plan = planEpoch(lengths, batchSize, rng);
      next = 0;
    }
    const batch = plan[next++]!;
    total += batch.length * Math.max(...batch.map((i) => lengths[i]!));
  }
  return total;
}

export interface Throughput {
  tokensPerSecond: number;
  /** Timed steps (after one untimed warm-up step) and their wall time. */
  steps: number;
  seconds: number;
}

/**
 * Training tok/s of a model's training surface (`model.training`) on batches of real examples. The first step is not timed: it pays for
 * allocation, kernel loading and (tfjs) graph set-up that later steps do not.
 * The model is trained by this, so pass a throwaway copy, never a student.
 */
export async function measureThroughput(core: TrainingSurface, examples: readonly EncodedExample[], options: { batchSize: number; steps: number; seed?: number }): Promise<Throughput> {
  const plan = planEpoch(examples.map((e) => e.ids.length), options.batchSize, new Rng(options.seed ?? 0));
  const padId = padTokenId(core.config);
  const batchAt = (i: number) => collate(plan[i % plan.length]!.map((j) => examples[j]!), padId);
  const step = { lr: 1e-5, ...ADAMW_DEFAULTS };
  await core.trainStep(batchAt(0), step);
  let tokens = 0;
  const t0 = performance.now();
  for (let s = 1; s <= options.steps; s++) {
    const batch = batchAt(s);
    tokens += batch.batchSize * batch.seqLen;
    await core.trainStep(batch, step);
  }
  const seconds = (performance.now() - t0) / 1000;
  return { tokensPerSecond: tokens / Math.max(seconds, 1e-9), steps: options.steps, seconds };
}

/** `93 s`, `12.5 min`, `3.2 h`: enough precision for a plan. */
export function formatDuration(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
