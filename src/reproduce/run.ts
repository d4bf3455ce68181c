import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseModelConfig, type ModelConfig } from '../arch/config.js';
import type { BackendPreference, BackendReport } from '../backend/types.js';
import { SocraticDataset } from '../data/dataset.js';
import type { Problem } from '../data/schema.js';
import { DEFAULT_ARMS } from '../demo/arm-ids.js';
import { DEMO_PRESETS, type DemoConfig } from '../demo/config.js';
import { checkpointSize } from '../demo/sizes.js';
import { runDemo, type DemoEvent, type DemoResult } from '../demo/pipeline.js';
import { ModelConfigError } from '../errors.js';
import { writeReport } from '../eval/write.js';
import { writeFileAtomic } from '../io/atomic.js';
import { CONFIG_FILE } from '../model/checkpoint.js';
import type { StudentData } from '../students/common.js';
import { StudentLM } from '../students/lm.js';
import type { TeacherClient } from '../teacher/types.js';
import { formatDuration, measureThroughput, modelExamples, PAPER_MODELS, plannedTokens } from './plan.js';

export interface ReproduceOptions {
  /** HF checkpoint directory every arm starts from: GPT-2 (the paper's) or a Llama-family model with its tokenizer.json. */
  init: string;
  /** Problems the teacher decomposes for training, and the held-out problems every arm is tested on. */
  train: readonly Problem[];
  test: readonly Problem[];
  teacher: TeacherClient;
  /** Human-readable data description for the report. */
  description: string;
  outDir: string;
  /** The budget, identical for every model (the Iterative student's QG and QA each get it, as in the paper). */
  steps: number;
  batchSize: number;
  lr: number;
  seeds?: number[];
  /** Longest Iterative decomposition at test time. Default 8. */
  maxSteps?: number;
  backend?: BackendPreference;
  /** Timed training steps for the tok/s measurement, after one untimed warm-up step. Default 3. */
  measureSteps?: number;
  /** Keep and resume the teacher's chains file (real teachers cost money). Default false. */
  resumeChains?: boolean;
  log?: (line: string) => void;
  onTrainProgress?: (event: DemoEvent) => void;
}

/** The expected training time, from a measured tok/s and the exact token count of the plan. */
export interface TimeEstimate {
  backend: string;
  /** The model whose batches were timed: the one with the most planned tokens. */
  measuredModel: string;
  tokensPerSecond: number;
  measuredSteps: number;
  /** Planned tokens (batch x padded length) per model, summed over seeds. */
  perModel: Record<string, number>;
  plannedTokens: number;
  seconds: number;
}

export interface ReproduceResult extends DemoResult {
  estimate: TimeEstimate;
  /** Measured wall time of all training stages, and of the whole run (teacher, training, evaluation). */
  actual: { trainSeconds: number; totalSeconds: number };
  timingPath: string;
}

/** config.json alone: enough to size the run and fail on a bad directory before the teacher is asked anything. */
export async function readCheckpointConfig(dir: string): Promise<ModelConfig> {
  const path = join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ModelConfigError(`${path}: cannot read (${(err as Error).message}); the init directory must hold an HF checkpoint (GPT-2 or a Llama-family model)`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelConfigError(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  return parseModelConfig(json, path);
}

/** GSM8K train and test problems with their socratic annotations (the `*_socratic` files when present). */
export async function loadGsm8kSplits(path: string, limits: { train?: number; test?: number } = {}): Promise<{ train: Problem[]; test: Problem[] }> {
  const load = async (split: 'train' | 'test', limit: number | undefined) =>
    [...(await SocraticDataset.load({ dataset: 'gsm8k', path, split, ...(limit === undefined ? {} : { limit }) })).problems];
  return { train: await load('train', limits.train), test: await load('test', limits.test) };
}

/**
 * The paper's experiment: the four arms (answer-only, CoT, Unified, Iterative QG+QA), every model
 * starting from the same pretrained checkpoint (GPT-2, as in the paper, or a Llama-family model), trained with the same budget and tested on the same problems.
 * Before any arm trains it checks every example fits the checkpoint's n_positions and logs the
 * expected training time; at the end it reports the actual time next to it (also in timing.json).
 */
export async function reproducePaper(options: ReproduceOptions): Promise<ReproduceResult> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const ckpt = await readCheckpointConfig(options.init);
  const config: DemoConfig = {
    ...DEMO_PRESETS.full,
    trainProblems: options.train.length,
    testProblems: options.test.length,
    seeds: options.seeds ?? [0],
    size: checkpointSize(ckpt),
    steps: options.steps,
    batchSize: options.batchSize,
    lr: options.lr,
    maxSteps: options.maxSteps ?? 8,
    backend: options.backend ?? 'auto',
    // The paper's four arms and plain accuracy; the context is the checkpoint's, never re-sized.
    arms: DEFAULT_ARMS,
    attribution: false,
    calculator: false,
    autoPositions: false,
    init: options.init,
  };
  let estimate: TimeEstimate | undefined;
  const result = await runDemo({
    config,
    source: { train: [...options.train], test: [...options.test], teacher: options.teacher, description: options.description },
    outDir: options.outDir,
    resumeChains: options.resumeChains ?? false,
    log,
    ...(options.onTrainProgress ? { onTrainProgress: options.onTrainProgress } : {}),
    beforeTraining: async (data, backend) => {
      // runDemo has checked by now that every example fits the checkpoint's n_positions.
      estimate = await estimateTrainingTime(options, config, data, backend);
      log(estimateLine(estimate, config));
    },
  });
  // The demo pipeline titles its report as a demo; this run is the paper's setting from a checkpoint.
  const report = { ...result.report, title: `socratic-distill reproduce: Socratic CoT students vs CoT and answer-only, every model from ${options.init}`, setup: { ...result.report.setup, init: options.init, ...(ckpt.model_type === 'gpt2' ? {} : { architecture: ckpt.model_type }) } };
  await writeReport(options.outDir, report);
  const trainSeconds = report.stages.filter((s) => s.name.startsWith('train ')).reduce((n, s) => n + s.seconds, 0);
  const actual = { trainSeconds, totalSeconds: (performance.now() - started) / 1000 };
  // beforeTraining always runs before training, so a finished run has an estimate.
  const est = estimate!;
  log(`actual training time: ${formatDuration(trainSeconds)} (estimated ${formatDuration(est.seconds)}); whole run ${formatDuration(actual.totalSeconds)} including teacher and evaluation`);
  const timingPath = join(options.outDir, 'timing.json');
  await writeFileAtomic(timingPath, JSON.stringify({ estimate: est, actual }, null, 2));
  return { ...result, report, estimate: est, actual, timingPath };
}

/** Exact planned tokens per model, and tok/s of a throwaway copy of the checkpoint on the chosen backend. */
async function estimateTrainingTime(options: ReproduceOptions, config: DemoConfig, data: StudentData, backend: BackendReport): Promise<TimeEstimate> {
  const probe = await StudentLM.load(options.init, { backend });
  try {
    const perModel: Record<string, number> = {};
    const examples = new Map(PAPER_MODELS.map((m) => [m.name, modelExamples(probe.tokenizer, m, data, probe.maxPositions)]));
    for (const m of PAPER_MODELS) {
      const lengths = examples.get(m.name)!.map((e) => e.ids.length);
      perModel[m.name] = config.seeds.reduce((n, seed) => n + plannedTokens(lengths, config.batchSize, config.steps, seed), 0);
    }
    // The model with the most tokens dominates the time, so its batches are the ones timed.
    const measuredModel = PAPER_MODELS.map((m) => m.name).reduce((a, b) => (perModel[b]! > perModel[a]! ? b : a));
    const t = await measureThroughput(probe.model.training, examples.get(measuredModel)!, { batchSize: config.batchSize, steps: options.measureSteps ?? 3 });
    const total = Object.values(perModel).reduce((n, x) => n + x, 0);
    return {
      backend: backend.backend, measuredModel, tokensPerSecond: t.tokensPerSecond, measuredSteps: t.steps,
      perModel, plannedTokens: total, seconds: total / t.tokensPerSecond,
    };
  } finally {
    probe.dispose();
  }
}

function estimateLine(e: TimeEstimate, config: DemoConfig): string {
  const seeds = config.seeds.length;
  return (
    `time estimate: ${e.plannedTokens} training tokens (${PAPER_MODELS.length} models x ${seeds} seed${seeds === 1 ? '' : 's'}, ` +
    `${config.steps} steps x batch ${config.batchSize} each) at ${Math.round(e.tokensPerSecond)} tok/s measured on ${e.backend} ` +
    `(${e.measuredSteps} step${e.measuredSteps === 1 ? '' : 's'} of the ${e.measuredModel} model) = ${formatDuration(e.seconds)} of training; evaluation not included`
  );
}
