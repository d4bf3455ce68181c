import { basename, resolve } from 'node:path';
import type { BackendPreference } from '../../backend/types.js';
import { SocraticDataset } from '../../data/dataset.js';
import { CliUsageError } from '../../errors.js';
import { markdownTable } from '../../eval/report.js';
import { DEMO_PRESETS, type DemoConfig } from '../../demo/config.js';
import { runDemo, syntheticSplit, type DemoSource } from '../../demo/pipeline.js';
import { OpenAICompatibleTeacher } from '../../teacher/openai.js';
import { SimulatedTeacher } from '../../teacher/simulated.js';
import type { CliCommand } from '../command.js';
import { intFlag, numberFlag, parseFlags, stringFlag } from './data-flags.js';
import { trainProgressPrinter } from './progress.js';

const HELP = `usage: socratic-distill demo [--quick] [--out ./demo-output] [--seeds 0,1,2] [--steps N] [--backend auto|cpu|native|wasm|tfjs-cpu]
         [--teacher simulated|openai] [--dataset synthetic|gsm8k] [--data <gsm8k dir or file>] [--train N] [--test N]

Runs the whole pipeline offline: synthetic multi-step problems -> SimulatedTeacher (~15% flawed chains)
-> ChainVerifier -> answer-only, CoT, Unified and Iterative students trained from scratch with the same
model size and budget -> Evaluator. Prints the results table and writes report.html / report.json / report.md.
--quick is a ~2 minute smoke run (1 seed, small models). With --teacher openai (needs OPENAI_BASE_URL)
and --dataset gsm8k --data <path>, the same pipeline runs on real data with a real teacher.`;

const FLAGS = {
  quick: { type: 'boolean' }, out: { type: 'string' }, seeds: { type: 'string' }, steps: { type: 'string' }, backend: { type: 'string' },
  teacher: { type: 'string' }, dataset: { type: 'string' }, data: { type: 'string' }, train: { type: 'string' }, test: { type: 'string' },
  'error-rate': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

export const command: CliCommand = {
  name: 'demo',
  summary: 'run the whole Socratic CoT pipeline offline and compare the students',
  async run(argv) {
    const v = parseFlags(argv, FLAGS);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const base = v.quick ? DEMO_PRESETS.quick : DEMO_PRESETS.full;
    const seeds = stringFlag(v, 'seeds')?.split(',').map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 0) throw new CliUsageError(`--seeds must be comma-separated integers, got '${s}'`);
      return n;
    });
    const config: DemoConfig = {
      ...base,
      seeds: seeds ?? [...base.seeds],
      steps: intFlag(v, 'steps', 1) ?? base.steps,
      trainProblems: intFlag(v, 'train', 1) ?? base.trainProblems,
      testProblems: intFlag(v, 'test', 1) ?? base.testProblems,
      teacherErrorRate: numberFlag(v, 'error-rate', 0, 1) ?? base.teacherErrorRate,
      backend: (stringFlag(v, 'backend') as BackendPreference | undefined) ?? base.backend,
    };
    const outDir = resolve(stringFlag(v, 'out') ?? './demo-output');
    const source = await demoSource(config, stringFlag(v, 'teacher') ?? 'simulated', stringFlag(v, 'dataset') ?? 'synthetic', stringFlag(v, 'data'));
    const started = performance.now();
    let current = '';
    const bar = trainProgressPrinter(() => current);
    const result = await runDemo({
      config,
      source,
      outDir,
      resumeChains: source.teacher.id !== 'simulated',
      log: (line) => process.stderr.write(line + '\n'),
      onTrainProgress: (e) => {
        current = `seed ${e.seed} ${e.arm}`;
        bar(e.progress);
      },
    });
    process.stdout.write(`\n${markdownTable(result.report)}\n\n${result.report.findings.join('\n')}\n`);
    process.stdout.write(`\nwall time ${((performance.now() - started) / 1000).toFixed(0)} s; reports: ${result.paths.html}, ${result.paths.json}, ${result.paths.markdown}\n`);
    return 0;
  },
};

async function demoSource(config: DemoConfig, teacher: string, dataset: string, data: string | undefined): Promise<DemoSource> {
  if (teacher !== 'simulated' && teacher !== 'openai') throw new CliUsageError(`--teacher must be simulated|openai, got '${teacher}'`);
  if (dataset === 'synthetic') {
    if (teacher === 'openai') requireOpenAI();
    const { train, test } = syntheticSplit(config);
    return {
      train, test,
      teacher: teacher === 'openai' ? new OpenAICompatibleTeacher() : new SimulatedTeacher({ errorRate: config.teacherErrorRate, seed: 0 }),
      description: `synthetic multi-step arithmetic (${config.minOps}-${config.maxOps} operations, operands <= ${config.maxOperand}, factors <= ${config.maxFactor}, results <= ${config.maxResult})`,
    };
  }
  if (dataset !== 'gsm8k') throw new CliUsageError(`--dataset must be synthetic|gsm8k, got '${dataset}'`);
  if (!data) throw new CliUsageError('--dataset gsm8k needs --data <path to the GSM8K files>');
  const load = (split: 'train' | 'test', limit: number) => SocraticDataset.load({ dataset: 'gsm8k', path: data, split, seed: 0, limit });
  const train = [...(await load('train', config.trainProblems)).problems];
  const test = [...(await load('test', config.testProblems)).problems];
  // GSM8K's socratic annotations let the simulated teacher run offline; a real teacher needs a server.
  if (teacher === 'openai') requireOpenAI();
  return {
    train, test,
    teacher: teacher === 'openai' ? new OpenAICompatibleTeacher() : new SimulatedTeacher({ errorRate: config.teacherErrorRate, seed: 0 }),
    // The report is shared: name the data by its folder or file name, not the machine's absolute path.
    description: `GSM8K (${basename(resolve(data))})`,
  };
}

function requireOpenAI(): void {
  if (!process.env.OPENAI_BASE_URL) throw new CliUsageError('--teacher openai needs OPENAI_BASE_URL (and OPENAI_API_KEY / OPENAI_MODEL as your server requires)');
}
