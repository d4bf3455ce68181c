import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { NamedTensors } from '../arch/tensors.js';
import { CheckpointError, InvalidOptionError, NonFiniteLossError, TrainingDataError } from '../errors.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { ADAMW_DEFAULTS, type LabeledBatch } from '../model/core-types.js';
import type { CausalLM } from '../model/causal-lm.js';
import { Rng } from '../util/rng.js';
import { loadCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint.js';
import { batchLossTokens, collate, planEpoch, type EncodedExample } from './examples.js';
import { warmupCosineLr } from './schedule.js';

export interface TrainProgress {
  /** The event's discriminant; named `type` like every other event in the API (e.g. the browser's SolveEvent). */
  type: 'step' | 'eval' | 'checkpoint' | 'early-stop';
  step: number;
  totalSteps: number;
  epoch: number;
  loss?: number;
  evalLoss?: number;
  lr?: number;
  gradNorm?: number;
  tokensPerSecond?: number;
  etaSeconds?: number;
  elapsedSeconds: number;
}

export interface TrainOptions {
  /** Examples per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimizer step (token-weighted, so the update equals one big batch). Default 1. */
  gradAccumSteps?: number;
  /** Passes over the data (default 1 when maxSteps is not given); with maxSteps, training ends at whichever comes first. */
  epochs?: number;
  /** Cap on optimizer steps. */
  maxSteps?: number;
  lr?: number;
  warmupSteps?: number;
  minLrRatio?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  beta1?: number;
  beta2?: number;
  /** Seeds the data order. Default 0. */
  seed?: number;
  /** Batches per length-sorted window (1 = no bucketing). Default 32. */
  bucketWindow?: number;
  eval?: { examples: readonly EncodedExample[]; every: number; patience?: number; batchSize?: number; restoreBest?: boolean };
  /**
   * Weight averaging (as in stochastic weight averaging): from optimizer step `from` (1-based) on, the
   * weights after every `every`-th step (default 10) are averaged, and the model ends with that average.
   * Not with `eval.restoreBest` (set it to false to still measure the eval loss of the live weights).
   */
  average?: { from: number; every?: number };
  /** Write an atomic checkpoint every `every` steps and at the end; resume from `dir` when it holds one. */
  checkpoint?: { dir: string; every: number; resume?: boolean };
  onProgress?: (event: TrainProgress) => void;
  /** Return after this many optimizer steps in this call (the run can be resumed from its checkpoint). */
  stopAfterSteps?: number;
  signal?: AbortSignal;
}

export interface TrainResult {
  steps: number;
  totalSteps: number;
  /** Training loss of every optimizer step since step 1 (kept across resumes). */
  losses: number[];
  evals: Array<{ step: number; loss: number }>;
  bestEvalLoss: number | null;
  stoppedEarly: boolean;
  finished: boolean;
  resumedFromStep: number | null;
  tokensSeen: number;
  wallSeconds: number;
}

const BEST_FILE = 'best.safetensors';
/** The running sum of averaged weights, stamped with the checkpoint's step: `average-<step>.safetensors`. */
const averageFile = (step: number): string => `average-${String(step).padStart(8, '0')}.safetensors`;

/** Trains a model in place on encoded examples: AdamW + warmup/cosine, accumulation, eval, early stop, exact resume. */
export async function train(model: CausalLM, examples: readonly EncodedExample[], options: TrainOptions): Promise<TrainResult> {
  if (examples.length === 0) throw new TrainingDataError('no training examples');
  // The model's training surface holds the weights, gradients and optimizer state the loop below updates.
  const training = model.training;
  const started = performance.now();
  const accum = Math.max(1, options.gradAccumSteps ?? 1);
  const padId = model.padId;
  const lengths = examples.map((e) => e.ids.length);
  const batchesPerEpoch = Math.ceil(examples.length / options.batchSize);
  const fromEpochs = Math.ceil(((options.epochs ?? 1) * batchesPerEpoch) / accum);
  // maxSteps alone wins; with epochs too, whichever ends first.
  const capped = options.maxSteps !== undefined && options.epochs !== undefined ? Math.min(options.maxSteps, fromEpochs) : (options.maxSteps ?? fromEpochs);
  const totalSteps = Math.max(1, capped);
  const peak = options.lr ?? 1e-3;
  const warmupSteps = options.warmupSteps ?? Math.min(100, Math.floor(totalSteps / 10));
  const fingerprint = fingerprintOf(examples, options, totalSteps);
  const avg = options.average;
  if (avg && options.eval && options.eval.restoreBest !== false) throw new InvalidOptionError('average', 'cannot be combined with eval.restoreBest: the model ends with one or the other; set eval.restoreBest to false');
  if (avg && !(Number.isInteger(avg.from) && avg.from >= 1 && (avg.every ?? 10) >= 1)) throw new InvalidOptionError('average', `needs a whole number from >= 1 and every >= 1, got ${JSON.stringify(avg)}`);

  let rng = new Rng(options.seed ?? 0);
  let state: Omit<TrainerState, 'weightsFile' | 'optimizerFile'> = {
    version: 1, step: 0, epoch: 0, batchInEpoch: 0, plan: planEpoch(lengths, options.batchSize, rng, options.bucketWindow),
    rng: rng.getState(), totalSteps, losses: [], evals: [], bestEvalLoss: null, evalsWithoutImprovement: 0, tokensSeen: 0, fingerprint,
  };
  let bestWeights: NamedTensors | null = null;
  /** Running sum of the averaged weights and how many went in (kept in the checkpoint for an exact resume). */
  let average: { sum: NamedTensors; count: number } | null = null;
  let resumedFromStep: number | null = null;
  const ckpt = options.checkpoint;
  if (ckpt && ckpt.resume !== false) {
    const loaded = await loadCheckpoint(ckpt.dir, model);
    if (loaded) {
      if (loaded.fingerprint !== fingerprint) {
        throw new CheckpointError(ckpt.dir, 'checkpoint was written for different data or training options; use a fresh directory or the original settings');
      }
      state = loaded;
      rng = Rng.fromState(loaded.rng);
      resumedFromStep = loaded.step;
      bestWeights = await readBest(ckpt.dir);
      if (avg) average = await readAverage(ckpt.dir, state.step);
    }
  }

  const emit = (e: Omit<TrainProgress, 'totalSteps' | 'epoch' | 'elapsedSeconds'>): void =>
    options.onProgress?.({ ...e, totalSteps, epoch: state.epoch, elapsedSeconds: (performance.now() - started) / 1000 });

  let stoppedEarly = false;
  let savedAt = state.step;
  let stepsThisCall = 0;
  let tokensThisCall = 0;
  training.zeroGradients();
  while (state.step < totalSteps) {
    if (options.signal?.aborted) break;
    if (options.stopAfterSteps !== undefined && stepsThisCall >= options.stopAfterSteps) break;
    const micro: LabeledBatch[] = [];
    for (let a = 0; a < accum; a++) {
      if (state.batchInEpoch >= state.plan.length) {
        state.epoch++;
        state.plan = planEpoch(lengths, options.batchSize, rng, options.bucketWindow);
        state.batchInEpoch = 0;
        state.rng = rng.getState();
      }
      micro.push(collate(state.plan[state.batchInEpoch++]!.map((i) => examples[i]!), padId));
    }
    const tokens = micro.map(batchLossTokens);
    const total = tokens.reduce((a, b) => a + b, 0);
    if (total === 0) throw new TrainingDataError(`step ${state.step + 1}: no token in the batch carries loss (empty completions?)`);
    let lossSum = 0;
    for (let i = 0; i < micro.length; i++) {
      if (tokens[i] === 0) continue;
      const r = await training.accumulateGradients(micro[i]!, tokens[i]! / total);
      if (!Number.isFinite(r.loss)) {
        training.zeroGradients();
        throw new NonFiniteLossError(state.step + 1, r.loss);
      }
      lossSum += r.loss * tokens[i]!;
    }
    const lr = warmupCosineLr(state.step, { peak, warmupSteps, totalSteps, minRatio: options.minLrRatio });
    const opt = await training.applyOptimizer({
      lr,
      beta1: options.beta1 ?? ADAMW_DEFAULTS.beta1,
      beta2: options.beta2 ?? ADAMW_DEFAULTS.beta2,
      weightDecay: options.weightDecay ?? ADAMW_DEFAULTS.weightDecay,
      maxGradNorm: options.maxGradNorm ?? ADAMW_DEFAULTS.maxGradNorm,
    });
    state.step++;
    stepsThisCall++;
    tokensThisCall += micro.reduce((n, b) => n + b.batchSize * b.seqLen, 0);
    state.tokensSeen += total;
    const loss = lossSum / total;
    state.losses.push(loss);
    const elapsed = (performance.now() - started) / 1000;
    const perStep = elapsed / stepsThisCall;
    emit({ type: 'step', step: state.step, loss, lr, gradNorm: opt.gradNorm, tokensPerSecond: tokensThisCall / elapsed, etaSeconds: perStep * (totalSteps - state.step) });

    if (avg && state.step >= avg.from && (state.step - avg.from) % (avg.every ?? 10) === 0) average = addTo(average, await training.getWeights());

    const ev = options.eval;
    if (ev && ev.examples.length > 0 && (state.step % ev.every === 0 || state.step === totalSteps)) {
      const evalLoss = await evaluateLoss(model, ev.examples, ev.batchSize ?? options.batchSize, padId);
      state.evals.push({ step: state.step, loss: evalLoss });
      emit({ type: 'eval', step: state.step, evalLoss });
      if (state.bestEvalLoss === null || evalLoss < state.bestEvalLoss) {
        state.bestEvalLoss = evalLoss;
        state.evalsWithoutImprovement = 0;
        if (ev.restoreBest !== false) {
          bestWeights = await training.getWeights();
          if (ckpt) await writeSafetensors(join(ckpt.dir, BEST_FILE), bestWeights, { step: String(state.step) });
        }
      } else {
        state.evalsWithoutImprovement++;
        if (ev.patience !== undefined && state.evalsWithoutImprovement >= ev.patience) {
          stoppedEarly = true;
          emit({ type: 'early-stop', step: state.step, evalLoss });
        }
      }
    }
    const last = stoppedEarly || state.step === totalSteps;
    if (ckpt && (state.step % ckpt.every === 0 || last)) {
      await saveWithAverage(ckpt.dir, model, state, average);
      savedAt = state.step;
      emit({ type: 'checkpoint', step: state.step });
    }
    if (stoppedEarly) break;
  }
  // Interrupted (stopAfterSteps / abort): keep the work done so far.
  if (ckpt && savedAt !== state.step) {
    await saveWithAverage(ckpt.dir, model, state, average);
    emit({ type: 'checkpoint', step: state.step });
  }
  const finished = stoppedEarly || state.step >= totalSteps;
  if (finished && bestWeights && options.eval?.restoreBest !== false) await training.setWeights(bestWeights);
  if (finished && average) await training.setWeights(meanOf(average));
  return {
    steps: state.step, totalSteps, losses: state.losses, evals: state.evals, bestEvalLoss: state.bestEvalLoss, stoppedEarly, finished,
    resumedFromStep, tokensSeen: state.tokensSeen, wallSeconds: (performance.now() - started) / 1000,
  };
}

/** Token-weighted mean loss over examples, no gradients. */
export async function evaluateLoss(model: CausalLM, examples: readonly EncodedExample[], batchSize: number, padId = model.padId): Promise<number> {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < examples.length; i += batchSize) {
    const batch = collate(examples.slice(i, i + batchSize), padId);
    const r = await model.training.loss(batch);
    if (r.tokens > 0) {
      sum += r.loss * r.tokens;
      n += r.tokens;
    }
  }
  return n > 0 ? sum / n : NaN;
}

function addTo(average: { sum: NamedTensors; count: number } | null, weights: NamedTensors): { sum: NamedTensors; count: number } {
  if (!average) return { sum: new Map([...weights].map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data) }])), count: 1 };
  for (const [name, t] of weights) {
    const acc = average.sum.get(name)!.data;
    for (let i = 0; i < acc.length; i++) acc[i]! += t.data[i]!;
  }
  return { sum: average.sum, count: average.count + 1 };
}

function meanOf(average: { sum: NamedTensors; count: number }): NamedTensors {
  const out: NamedTensors = new Map();
  for (const [name, t] of average.sum) out.set(name, { shape: t.shape, data: t.data.map((x) => x / average.count) });
  return out;
}

/** A checkpoint, with the running average (if any) written first under the same step; older averages are removed. */
async function saveWithAverage(dir: string, model: CausalLM, state: Parameters<typeof saveCheckpoint>[2], average: { sum: NamedTensors; count: number } | null): Promise<void> {
  if (average) await writeSafetensors(join(dir, averageFile(state.step)), average.sum, { count: String(average.count) });
  await saveCheckpoint(dir, model, state);
  for (const name of await readdir(dir)) if (/^average-\d+\.safetensors$/.test(name) && name !== averageFile(state.step)) await rm(join(dir, name), { force: true });
}

/** The running sum saved with the checkpoint of `step`; null when the average had not begun by then. */
async function readAverage(dir: string, step: number): Promise<{ sum: NamedTensors; count: number } | null> {
  try {
    await readFile(join(dir, averageFile(step)), { flag: 'r' });
  } catch {
    return null;
  }
  const file = await readSafetensors(join(dir, averageFile(step)));
  const sum: NamedTensors = new Map();
  for (const [k, t] of file.tensors) sum.set(k, { shape: t.shape, data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data) });
  return { sum, count: Number(file.metadata.count) };
}

async function readBest(dir: string): Promise<NamedTensors | null> {
  try {
    await readFile(join(dir, BEST_FILE), { flag: 'r' });
  } catch {
    return null;
  }
  const file = await readSafetensors(join(dir, BEST_FILE));
  const out: NamedTensors = new Map();
  for (const [k, t] of file.tensors) out.set(k, { shape: t.shape, data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data) });
  return out;
}

function fingerprintOf(examples: readonly EncodedExample[], o: TrainOptions, totalSteps: number): string {
  const h = createHash('sha256');
  for (const e of examples) {
    h.update(new Uint8Array(e.ids.buffer, e.ids.byteOffset, e.ids.byteLength));
    h.update(new Uint8Array(e.labels.buffer, e.labels.byteOffset, e.labels.byteLength));
  }
  h.update(JSON.stringify([o.batchSize, o.gradAccumSteps ?? 1, o.lr, o.seed ?? 0, o.warmupSteps, o.minLrRatio, o.weightDecay, o.maxGradNorm, o.bucketWindow, totalSteps, ...(o.average ? [o.average.from, o.average.every ?? 10] : [])]));
  return h.digest('hex').slice(0, 16);
}
