import { mkdir, readFile, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../backend/select.js';
import type { BackendReport } from '../backend/types.js';
import { generateSynthetic } from '../data/synthetic.js';
import { SocraticChainSchema, type Problem } from '../data/schema.js';
import { InvalidOptionError, ModelConfigError } from '../errors.js';
import { evaluateStudents } from '../eval/evaluator.js';
import { majorityClassBaseline } from '../eval/metrics.js';
import { CALCULATOR_SUFFIX, compareRuns, type EvalReport, type RunResult, type Stage, type SubsetRun, type TestSubset } from '../eval/report.js';
import { writeReport } from '../eval/write.js';
import { generateChains } from '../generate/runner.js';
import { readJsonl } from '../io/jsonl.js';
import { tokenizerForTexts, trainingTexts, type StudentData } from '../students/common.js';
import { readCheckpointTokenizer } from '../model/checkpoint-fs.js';
import type { TextTokenizer } from '../tokenizer/index.js';
import { ARMS, type ArmContext, type TrainedArm } from './arms.js';
import { assertFits, exampleLengths, goldChains, positionsFor } from './lengths.js';
import type { TeacherClient } from '../teacher/types.js';
import type { TrainProgress } from '../train/trainer.js';
import { ChainVerifier, type VerifyStats } from '../verify/verifier.js';
import type { DemoConfig } from './config.js';
import { checkStudentSize, studentSize } from './sizes.js';

export interface DemoSource {
  /** Problems to train on (the teacher decomposes them) and held-out problems to test on. */
  train: Problem[];
  test: Problem[];
  /** Name of `test` in the per-subset tables when there are `subsets`. Default `test`. */
  testName?: string;
  /**
   * Further held-out sets (e.g. problems deeper than any in `train`), each evaluated like `test` and
   * reported apart: every arm's accuracy, paired comparisons, shift from `test`, attribution.
   */
  subsets?: TestSubset[];
  teacher: TeacherClient;
  /** Human-readable description for the report. */
  description: string;
}

export interface DemoEvent {
  seed: number;
  arm: string;
  progress: TrainProgress;
}

export interface DemoRunOptions {
  config: DemoConfig;
  source: DemoSource;
  outDir: string;
  /** Keep the teacher's chains file from a previous run and resume it (real teachers cost money). Default false. */
  resumeChains?: boolean;
  log?: (line: string) => void;
  onTrainProgress?: (event: DemoEvent) => void;
  /** Runs once after the length checks, before any student trains (e.g. to measure throughput); may throw to stop. */
  beforeTraining?: (data: StudentData, backend: BackendReport, config: DemoConfig) => Promise<void>;
}

export interface DemoResult {
  report: EvalReport;
  paths: { json: string; markdown: string; html: string };
  verify: VerifyStats;
}

/**
 * The first held-out problem's index. Fixed, so the held-out problems do not depend on how many training
 * problems come before them: runs with different `trainProblems` are tested on the same problems and pair by seed.
 */
export const HELD_OUT_START = 1_000_000;

/**
 * Seeded synthetic train/test split; test problems whose text also occurs in train are dropped and replaced.
 * Test problems start at index HELD_OUT_START (or after the training problems, if there are more).
 * With `testOps`, a second test set of that many operations follows (its own problem indices, deduplicated
 * the same way) as `subsets[0]`, and `testName` names the first.
 */
export function syntheticSplit(
  config: Pick<DemoConfig, 'trainProblems' | 'testProblems' | 'family' | 'minOps' | 'maxOps' | 'maxOperand' | 'maxFactor' | 'maxResult' | 'testOps' | 'distractors'>,
  seed = 0,
): { train: Problem[]; test: Problem[]; testName?: string; subsets: TestSubset[] } {
  const opts = {
    seed, family: config.family, minSteps: config.minOps, maxSteps: config.maxOps, maxOperand: config.maxOperand, maxFactor: config.maxFactor, maxResult: config.maxResult,
    ...(config.distractors === undefined ? {} : { distractors: config.distractors }),
  };
  const train = generateSynthetic({ ...opts, count: config.trainProblems });
  const seen = new Set(train.map((p) => p.question));
  let start = Math.max(config.trainProblems, HELD_OUT_START);
  const fresh = (o: typeof opts): Problem[] => {
    const out: Problem[] = [];
    for (; out.length < config.testProblems; start += config.testProblems) {
      for (const p of generateSynthetic({ ...o, count: config.testProblems, startIndex: start })) {
        if (!seen.has(p.question) && out.length < config.testProblems) {
          seen.add(p.question);
          out.push(p);
        }
      }
    }
    return out;
  };
  const test = fresh(opts);
  const t = config.testOps;
  if (!t) return { train, test, subsets: [] };
  // Indices after the test set's: a deeper problem never extends a training problem with the same opening.
  const other = fresh({ ...opts, minSteps: t.min, maxSteps: t.max });
  const depth = t.min > config.maxOps ? 'deeper' : t.max < config.minOps ? 'shallower' : 'other depth';
  return { train, test, testName: `in distribution (${range(config.minOps, config.maxOps)} ops)`, subsets: [{ name: `${depth} (${range(t.min, t.max)} ops)`, problems: other }] };
}

const range = (lo: number, hi: number): string => (lo === hi ? String(lo) : `${lo}-${hi}`);

/** The whole Socratic CoT pipeline: teacher -> verifier -> four students per seed -> evaluator -> reports. */
export async function runDemo(options: DemoRunOptions): Promise<DemoResult> {
  const { source, outDir } = options;
  let config = options.config;
  const log = options.log ?? (() => {});
  const stages: Stage[] = [];
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      stages.push({ name, seconds: (performance.now() - t0) / 1000 });
    }
  };

  const subsets = source.subsets ?? [];
  if (config.averageLast !== undefined && !(config.averageLast > 0 && config.averageLast <= 1)) throw new InvalidOptionError('averageLast', `must be in (0, 1], got ${config.averageLast}`);
  if (config.averageLast !== undefined && config.validation) throw new InvalidOptionError('averageLast', 'cannot be combined with validation: a model ends with the averaged or the best weights, not both');
  if (config.init === undefined) checkStudentSize(config);
  for (const id of config.arms) ARMS[id].check?.(source.train);
  // A checkpoint's own tokenizer counts its lengths (a Llama-family one splits text unlike GPT-2); from scratch, the
  // trimmed vocabulary does. Read before the teacher, so a bad init directory fails first.
  const codec = config.init === undefined ? undefined : await initTokenizer(config.init);
  // Every example must fit the model before a single (possibly paid) teacher call is made.
  const everyProblem = [...source.train, ...source.test, ...subsets.flatMap((x) => x.problems)];
  assertFits(exampleLengths(everyProblem, goldChains(everyProblem), codec), config.autoPositions ? MAX_POSITIONS : config.size.n_positions, 'even before the teacher wrote a chain');
  const backend = await selectBackend(config.backend);
  log(`backend: ${backend.summary}`);
  await mkdir(outDir, { recursive: true });
  const chainsPath = join(outDir, 'chains.jsonl');
  if (!options.resumeChains) await rm(chainsPath, { force: true });
  const gen = await timed('teacher', () => generateChains({ teacher: source.teacher, problems: source.train, out: chainsPath, concurrency: 8 }));
  if (gen.failed.length > 0) log(`teacher failed on ${gen.failed.length} problems (listed in ${gen.failuresPath})`);
  const chains = (await readJsonl(chainsPath, SocraticChainSchema)).records;
  const verified = await timed('verify', async () => new ChainVerifier().verifyAll(chains, source.train));
  const stats = verified.stats;
  const reasons = Object.entries(stats.reasons).filter(([r]) => r !== 'ok').map(([r, n]) => `${r} ${n}`).join(', ');
  log(`teacher wrote ${stats.total} chains; verifier kept ${stats.kept} and rejected ${stats.rejected} (${reasons || 'none'})`);
  const keptIds = new Set(verified.kept.map((c) => c.problemId));
  const kept: StudentData = { problems: source.train.filter((p) => keptIds.has(p.id)), chains: verified.kept };
  const { fit: data, held } = config.validation ? holdOut(kept, config.validation.share) : { fit: kept, held: undefined };
  if (held) log(`held out ${held.chains.length} of the ${kept.chains.length} kept chains to choose each model's checkpoint by loss`);
  // The teacher's chains are known now: size the context from them, or check them, before any training.
  const lengths = exampleLengths([...kept.problems, ...source.test, ...subsets.flatMap((x) => x.problems)], new Map(kept.chains.map((c) => [c.problemId, c])), codec);
  // Arms that train on chains of their own (the wrong-locality control): their longer examples must fit too.
  for (const id of config.arms) {
    const own = ARMS[id].chains?.(kept);
    if (own) for (const [pid, n] of exampleLengths(own.problems, new Map(own.chains.map((c) => [c.problemId, c])), codec)) lengths.set(pid, Math.max(n, lengths.get(pid) ?? 0));
  }
  const size = { ...config.size, n_positions: config.autoPositions ? positionsFor(lengths, MAX_POSITIONS) : config.size.n_positions };
  assertFits(lengths, size.n_positions, 'with the teacher\'s chains');
  if (config.autoPositions) log(`context sized from the data: n_positions ${size.n_positions} (longest example ${Math.max(...lengths.values())} tokens)`);
  config = { ...config, size };
  await options.beforeTraining?.(data, backend, config);

  const runs: RunResult[] = [];
  const tests: TestSubset[] = [{ name: source.testName ?? 'test', problems: source.test }, ...subsets];
  for (const seed of config.seeds) runs.push(await runSeed(seed, { data, held, vocabulary: kept }, tests, config, backend, timed, options, codec));

  const compared = compareRuns(runs);
  const { summary, comparisons } = compared;
  const findings = [
    ...compared.findings,
    held
      ? `The verifier rejected ${stats.rejected} of ${stats.total} teacher chains (${reasons || 'none'}); every student trained on ${data.chains.length} of the ${stats.kept} kept ones, and the other ${held.chains.length} chose its checkpoint.`
      : `The verifier rejected ${stats.rejected} of ${stats.total} teacher chains (${reasons || 'none'}); every student trained on the ${stats.kept} kept ones.`,
  ];
  const baselines = source.test.some((p) => p.dataset === 'strategyqa')
    ? [{ name: 'Majority class', dataset: 'strategyqa', accuracy: majorityClassBaseline(source.train, source.test, 'strategyqa').accuracy }]
    : [];
  const report: EvalReport = {
    title: 'socratic-distill demo: Socratic CoT students vs CoT and answer-only baselines',
    createdAt: new Date().toISOString(),
    machine: await machineName(),
    backend: backend.summary,
    setup: {
      data: source.description,
      trainProblems: source.train.length,
      testProblems: source.test.length,
      ...(subsets.length > 0 ? { testSubsets: tests.map((x) => ({ name: x.name, problems: x.problems.length })) } : {}),
      teacher: source.teacher.id,
      verifier: stats,
      trainedOnChains: data.chains.length,
      model: config.init === undefined ? studentSize(config) : config.size,
      budget: {
        optimizerStepsPerModel: config.steps, batchSize: config.batchSize, lr: config.lr, schedule: 'warmup 10% + cosine to 10%',
        ...(config.weightDecay === undefined ? {} : { weightDecay: config.weightDecay }),
        ...(config.averageLast === undefined ? {} : { weights: `average over the last ${Math.round(100 * config.averageLast)}% of steps, every 10th step` }),
        ...(held && config.validation ? { checkpoint: `lowest loss on ${held.chains.length} held-out kept chains, every ${config.validation.every} steps` } : {}),
      },
      iterativeMaxSteps: config.maxSteps,
      seeds: config.seeds,
      note: 'Every arm: same model size, same steps, batch and schedule. The Iterative student is two such models (QG and QA), as in the paper.',
    },
    runs,
    summary,
    comparisons,
    baselines,
    stages,
    findings,
    ...(compared.subsets ? { subsets: compared.subsets } : {}),
  };
  const paths = await writeReport(outDir, report);
  return { report, paths, verify: stats };
}

/** GPT-2's own context; an automatically sized student never exceeds it. */
const MAX_POSITIONS = 1024;

type Timed = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

/** Training data of one seed: what the models fit, the held-out chains (validation), and what the vocabulary is built from. */
interface SeedData {
  data: StudentData;
  held: StudentData | undefined;
  vocabulary: StudentData;
}

/**
 * `share` of the kept chains, chosen by a hash of the problem id (so the same problems whatever the seed, the
 * arm or the order of the chains), held out from training.
 */
export function holdOut(kept: StudentData, share: number): { fit: StudentData; held: StudentData } {
  if (!(share > 0 && share < 1)) throw new RangeError(`validation share must be in (0, 1), got ${share}`);
  const isHeld = (id: string): boolean => {
    let h = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
    return h / 4294967296 < share;
  };
  const part = (held: boolean): StudentData => ({ problems: kept.problems.filter((p) => isHeld(p.id) === held), chains: kept.chains.filter((c) => isHeld(c.problemId) === held) });
  return { fit: part(false), held: part(true) };
}

async function runSeed(
  seed: number, { data, held, vocabulary }: SeedData, tests: readonly TestSubset[], config: DemoConfig, backend: BackendReport, timed: Timed, options: DemoRunOptions,
  initCodec: TextTokenizer | undefined,
): Promise<RunResult> {
  const log = options.log ?? (() => {});
  // One vocabulary for all arms (from every kept chain, held out or not), so every arm has exactly the same
  // model size and a held-out split leaves it unchanged (a checkpoint brings its own).
  const tokenizer = initCodec ?? tokenizerForTexts(trainingTexts(vocabulary, ['answer-only', 'cot', 'unified', 'qg', 'qa']));
  const ctx: ArmContext = {
    size: studentSize(config),
    init: config.init,
    tokenizer,
    backend,
    seed,
    steps: config.steps,
    maxSteps: config.maxSteps,
    trainOptions: (arm, steps) => ({
      batchSize: config.batchSize,
      maxSteps: steps,
      lr: config.lr,
      warmupSteps: Math.max(1, Math.floor(steps / 10)),
      seed,
      ...(config.weightDecay === undefined ? {} : { weightDecay: config.weightDecay }),
      ...(held && config.validation ? { eval: { data: held, every: config.validation.every } } : {}),
      ...(config.averageLast === undefined ? {} : { average: { from: Math.max(1, steps - Math.round(steps * config.averageLast) + 1), every: 10 } }),
      onProgress: (progress) => options.onTrainProgress?.({ seed, arm, progress }),
    }),
  };
  const losses: Record<string, number[]> = {};
  const arms: TrainedArm[] = [];
  for (const id of config.arms) {
    const spec = ARMS[id];
    const arm = await timed(`train ${spec.name} (seed ${seed})`, () => spec.train(data, ctx));
    Object.assign(losses, arm.losses);
    const finals = Object.entries(arm.losses).map(([k, v]) => `${k} ${v.at(-1)?.toFixed(3)}`).join(', ');
    log(`seed ${seed} · ${spec.name}: final loss ${finals} (${arm.seconds.toFixed(1)} s)`);
    arms.push(arm);
  }

  const evalOptions = { maxSteps: config.maxSteps, batchSize: 100 };
  const evaluateOn = async (t: TestSubset, label: string) => {
    const results = await timed(`evaluate${label} (seed ${seed})`, () => evaluateStudents(arms, t.problems, { ...evalOptions, attribution: config.attribution }));
    if (config.calculator) {
      // The same students again, with the safe parser writing every result: arithmetic slips vs reasoning.
      const stepwise = arms.filter((a) => a.solver.kind !== 'answer-only').map((a) => ({ name: `${a.name}${CALCULATOR_SUFFIX}`, solver: a.solver }));
      results.push(...(await timed(`evaluate with calculator${label} (seed ${seed})`, () => evaluateStudents(stepwise, t.problems, { ...evalOptions, calculator: true }))));
    }
    for (const a of results) log(`seed ${seed} · ${a.name}${label}: accuracy ${(100 * a.flexible).toFixed(1)}% flexible, ${(100 * a.strict).toFixed(1)}% strict (${a.wallSeconds.toFixed(1)} s)`);
    return results;
  };
  // Each subset apart, the main test set first and alone as before, so its numbers do not depend on the others.
  const subsets: SubsetRun[] = [];
  for (const [i, t] of tests.entries()) subsets.push({ name: t.name, problems: t.problems.length, arms: await evaluateOn(t, i === 0 ? '' : ` on ${t.name}`) });
  const results = subsets[0]!.arms;
  // The first seed's students are kept so `solve --student` and the browser example can use them.
  if (seed === config.seeds[0]) {
    const saved = new Set<string>();
    for (const a of arms) {
      if (saved.has(a.solver.kind)) continue;
      saved.add(a.solver.kind);
      await a.solver.save(join(options.outDir, 'students', a.solver.kind));
    }
    log(`saved seed ${seed}'s students under ${join(options.outDir, 'students')}/`);
  }
  for (const a of arms) a.solver.dispose();
  return { seed, arms: results, losses, ...(tests.length > 1 ? { subsets } : {}) };
}

async function machineName(): Promise<string> {
  let model = cpus()[0]?.model ?? 'unknown CPU';
  try {
    const info = await readFile('/proc/cpuinfo', 'utf8');
    model = /model name\s*:\s*(.+)/.exec(info)?.[1]?.trim() ?? model;
  } catch {
    // Not Linux: os.cpus() is good enough.
  }
  return `${model}, ${cpus().length} cores, Node ${process.versions.node}`;
}

/** The tokenizer of the checkpoint every arm starts from (a student needs one). */
async function initTokenizer(dir: string): Promise<TextTokenizer> {
  const tokenizer = await readCheckpointTokenizer(dir);
  if (!tokenizer) throw new ModelConfigError(`${dir}: the checkpoint has no tokenizer (a Llama-family model needs its tokenizer.json beside the weights)`);
  return tokenizer;
}
