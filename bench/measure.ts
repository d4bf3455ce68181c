import { performance } from 'node:perf_hooks';
import type { ModelConfig } from '../src/arch/config.js';
import type { LabeledBatch, TransformerCore } from '../src/backend/types.js';
import { Rng } from '../src/util/rng.js';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export interface Budget {
  warmup: number;
  /** Timed repetitions wanted (the median is reported). */
  reps: number;
  /** Stop adding repetitions after this many seconds (at least one is always timed). */
  maxSeconds: number;
}

/** Process CPU seconds (all threads) used by the timed repetitions of the last timeReps call. */
export let lastCpuSeconds = 0;

/** Times `fn` budget.reps times after warm-up; returns the per-call seconds actually measured. */
export async function timeReps(fn: () => Promise<void>, budget: Budget): Promise<number[]> {
  const start = performance.now();
  for (let i = 0; i < budget.warmup; i++) {
    await fn();
    if ((performance.now() - start) / 1000 > budget.maxSeconds) break;
  }
  const times: number[] = [];
  const timedStart = performance.now();
  const cpu0 = process.cpuUsage();
  while (times.length < budget.reps) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
    if ((performance.now() - timedStart) / 1000 > budget.maxSeconds) break;
  }
  const cpu = process.cpuUsage(cpu0);
  lastCpuSeconds = (cpu.user + cpu.system) / 1e6;
  return times;
}

export function randomBatch(config: ModelConfig, B: number, T: number, seed: number): LabeledBatch {
  const rng = new Rng(seed);
  const inputIds = Int32Array.from({ length: B * T }, () => rng.int(config.vocab_size));
  return { batchSize: B, seqLen: T, inputIds, labels: inputIds.slice() };
}

/** Full training step (forward, backward, clip, AdamW), like the torch baseline. Returns seconds per step. */
export async function measureTrain(core: TransformerCore, B: number, T: number, budget: Budget): Promise<number[]> {
  const batch = randomBatch(core.config, B, T, 11);
  return timeReps(async () => {
    await core.trainStep(batch, { lr: 1e-4 });
  }, budget);
}

function argmaxRows(logits: Float32Array, B: number, V: number): Int32Array {
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let best = 0;
    const off = b * V;
    for (let j = 1; j < V; j++) if (logits[off + j]! > logits[off + best]!) best = j;
    out[b] = best;
  }
  return out;
}

/** Greedy KV-cache decode of `newTokens` after a random prompt; seconds per run including prefill. */
export async function measureDecode(
  core: TransformerCore,
  B: number,
  promptLen: number,
  newTokens: number,
  budget: Budget,
): Promise<number[]> {
  const V = core.config.vocab_size;
  const prompt = randomBatch(core.config, B, promptLen, 12);
  return timeReps(async () => {
    const session = await core.startDecode(prompt, { maxLength: promptLen + newTokens });
    let logits = session.lastLogits;
    const positions = new Int32Array(B).fill(promptLen);
    for (let s = 0; s < newTokens - 1; s++) {
      logits = await session.step(argmaxRows(logits, B, V), positions);
      positions.fill(promptLen + s + 1);
    }
    argmaxRows(logits, B, V);
    session.dispose();
  }, budget);
}
