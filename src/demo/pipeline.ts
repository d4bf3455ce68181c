import { mkdir, readFile, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../backend/select.js';
import type { BackendReport } from '../backend/types.js';
import { generateSynthetic } from '../data/synthetic.js';
import { SocraticChainSchema, type Problem } from '../data/schema.js';
import { evaluateStudents, type Solver } from '../eval/evaluator.js';
import { majorityClassBaseline } from '../eval/metrics.js';
import { orderingFinding, socraticComparisons, summarize, type EvalReport, type RunResult, type Stage } from '../eval/report.js';
import { writeReport } from '../eval/write.js';
import { generateChains } from '../generate/runner.js';
import { readJsonl } from '../io/jsonl.js';
import { tokenizerForTexts, trainingTexts, type StudentData, type StudentKind, type StudentTrainOptions } from '../students/common.js';
import { IterativeStudent } from '../students/iterative.js';
import { AnswerOnlyStudent, CoTStudent, UnifiedStudent } from '../students/single.js';
import type { TeacherClient } from '../teacher/types.js';
import type { TrainProgress } from '../train/trainer.js';
import { ChainVerifier, type VerifyStats } from '../verify/verifier.js';
import type { DemoConfig } from './config.js';

export interface DemoSource {
  /** Problems to train on (the teacher decomposes them) and held-out problems to test on. */
  train: Problem[];
  test: Problem[];
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
}

export interface DemoResult {
  report: EvalReport;
  paths: { json: string; markdown: string; html: string };
  verify: VerifyStats;
}

/** Seeded synthetic train/test split; test problems whose text also occurs in train are dropped and replaced. */
export function syntheticSplit(
  config: Pick<DemoConfig, 'trainProblems' | 'testProblems' | 'minOps' | 'maxOps' | 'maxOperand' | 'maxFactor' | 'maxResult'>,
  seed = 0,
): { train: Problem[]; test: Problem[] } {
  const opts = { seed, minSteps: config.minOps, maxSteps: config.maxOps, maxOperand: config.maxOperand, maxFactor: config.maxFactor, maxResult: config.maxResult };
  const train = generateSynthetic({ ...opts, count: config.trainProblems });
  const seen = new Set(train.map((p) => p.question));
  const test: Problem[] = [];
  for (let start = config.trainProblems; test.length < config.testProblems; start += config.testProblems) {
    for (const p of generateSynthetic({ ...opts, count: config.testProblems, startIndex: start })) {
      if (!seen.has(p.question) && test.length < config.testProblems) {
        seen.add(p.question);
        test.push(p);
      }
    }
  }
  return { train, test };
}

/** The whole Socratic CoT pipeline: teacher -> verifier -> four students per seed -> evaluator -> reports. */
export async function runDemo(options: DemoRunOptions): Promise<DemoResult> {
  const { config, source, outDir } = options;
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
  const data: StudentData = { problems: source.train.filter((p) => keptIds.has(p.id)), chains: verified.kept };

  const runs: RunResult[] = [];
  for (const seed of config.seeds) runs.push(await runSeed(seed, data, source.test, config, backend, timed, options));

  const summary = summarize(runs);
  const findings = [
    orderingFinding(summary),
    ...socraticComparisons(summary),
    `The verifier rejected ${stats.rejected} of ${stats.total} teacher chains (${reasons || 'none'}); every student trained on the ${stats.kept} kept ones.`,
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
      teacher: source.teacher.id,
      verifier: stats,
      trainedOnChains: data.chains.length,
      model: config.size,
      budget: { optimizerStepsPerModel: config.steps, batchSize: config.batchSize, lr: config.lr, schedule: 'warmup 10% + cosine to 10%' },
      iterativeMaxSteps: config.maxSteps,
      seeds: config.seeds,
      note: 'Every arm: same model size, same steps, batch and schedule. The Iterative student is two such models (QG and QA), as in the paper.',
    },
    runs,
    summary,
    baselines,
    stages,
    findings,
  };
  const paths = await writeReport(outDir, report);
  return { report, paths, verify: stats };
}

type Timed = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

async function runSeed(seed: number, data: StudentData, test: Problem[], config: DemoConfig, backend: BackendReport, timed: Timed, options: DemoRunOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  // One vocabulary for all arms, so every arm has exactly the same model size.
  const tokenizer = tokenizerForTexts(trainingTexts(data, ['answer-only', 'cot', 'unified', 'qg', 'qa']));
  const common = { size: config.size, tokenizer, backend, seed };
  const trainOptions = (arm: string): StudentTrainOptions => ({
    batchSize: config.batchSize,
    maxSteps: config.steps,
    lr: config.lr,
    warmupSteps: Math.max(1, Math.floor(config.steps / 10)),
    seed,
    onProgress: (progress) => options.onTrainProgress?.({ seed, arm, progress }),
  });
  const losses: Record<string, number[]> = {};
  const arms: Array<{ name: string; kind: StudentKind; solver: Solver & { dispose(): void; save(dir: string): Promise<void> } }> = [];

  for (const [name, kind, make] of [
    ['Answer-only', 'answer-only', () => AnswerOnlyStudent.create(common)],
    ['CoT', 'cot', () => CoTStudent.create(common)],
    ['Unified Socratic', 'unified', () => UnifiedStudent.create(common)],
  ] as const) {
    const student = await make();
    const r = await timed(`train ${name} (seed ${seed})`, () => student.train(data, trainOptions(name)));
    losses[name] = r.losses;
    log(`seed ${seed} · ${name}: ${r.steps} steps, final loss ${r.losses.at(-1)?.toFixed(3)} (${r.wallSeconds.toFixed(1)} s)`);
    arms.push({ name, kind, solver: student });
  }
  const iterative = await IterativeStudent.create({ qgSize: config.size, qaSize: config.size, tokenizer, backend, seed, maxSteps: config.maxSteps });
  const ir = await timed(`train Iterative QG+QA (seed ${seed})`, () => iterative.train(data, trainOptions('Iterative')));
  losses['Iterative/QG'] = ir.qg.losses;
  losses['Iterative/QA'] = ir.qa.losses;
  log(`seed ${seed} · Iterative: QG loss ${ir.qg.losses.at(-1)?.toFixed(3)}, QA loss ${ir.qa.losses.at(-1)?.toFixed(3)} (${(ir.qg.wallSeconds + ir.qa.wallSeconds).toFixed(1)} s)`);
  arms.push({ name: 'Iterative Socratic (QG+QA)', kind: 'iterative', solver: iterative });

  const results = await timed(`evaluate (seed ${seed})`, () => evaluateStudents(arms, test, { maxSteps: config.maxSteps, batchSize: 100 }));
  for (const a of results) log(`seed ${seed} · ${a.name}: accuracy ${(100 * a.flexible).toFixed(1)}% flexible, ${(100 * a.strict).toFixed(1)}% strict (${a.wallSeconds.toFixed(1)} s)`);
  // The first seed's students are kept so `solve --student` and the browser example can use them.
  if (seed === config.seeds[0]) {
    for (const a of arms) await a.solver.save(join(options.outDir, 'students', a.kind));
    log(`saved seed ${seed}'s students under ${join(options.outDir, 'students')}/`);
  }
  for (const a of arms) a.solver.dispose();
  return { seed, arms: results, losses };
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
