import { resolve } from 'node:path';
import { ContextLengthError } from '../../demo/lengths.js';
import { TeacherUnsuitableError } from '../../errors.js';
import { teacherRefusal } from './teacher-flags.js';
import { CliUsageError } from '../usage-error.js';
import { markdownTable } from '../../eval/report.js';
import { loadGsm8kSplits, reproducePaper } from '../../reproduce/index.js';
import { AnnotationTeacher, OpenAICompatibleTeacher, type TeacherClient } from '../../teacher/index.js';
import type { CliCommand } from '../command.js';
import { intFlag, numberFlag, parseFlags, stringFlag } from './data-flags.js';
import { trainProgressPrinter } from './progress.js';
import { backendFlag } from './student-flags.js';

const HELP = `usage: socratic-distill reproduce --init <HF checkpoint dir> --data <gsm8k dir> [--out ./reproduce-output]
         [--teacher annotation|openai] [--base-url URL] [--model M] [--backend auto|cuda|cpu|native|wasm|tfjs-cpu]
         [--steps N] [--batch N] [--lr X] [--seeds 0,1,2] [--max-steps N] [--train-limit N] [--test-limit N] [--measure-steps N]

The paper's GSM8K experiment: answer-only, CoT, Unified and Iterative (QG+QA) students, every model starting
from the HF checkpoint in --init with the same budget, tested on the GSM8K test split. --init is a GPT-2
directory (config.json + model.safetensors), as in the paper, or a Llama-family one such as SmolLM2 or Qwen3
(also tokenizer.json; bf16 and sharded weights are read), whose students keep its tokenizer. The teacher is the GSM8K socratic annotations (default) or an OpenAI-compatible server
(--teacher openai; reads OPENAI_BASE_URL / OPENAI_API_KEY / OPENAI_MODEL). Before training it checks every
example fits the checkpoint's context (n_positions / max_position_embeddings), times a few training steps and prints the expected training time;
at the end it prints the actual time. Writes report.html / report.json / report.md / timing.json to --out.`;

const FLAGS = {
  init: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, teacher: { type: 'string' },
  'base-url': { type: 'string' }, model: { type: 'string' }, backend: { type: 'string' }, steps: { type: 'string' },
  batch: { type: 'string' }, lr: { type: 'string' }, seeds: { type: 'string' }, 'max-steps': { type: 'string' },
  'train-limit': { type: 'string' }, 'test-limit': { type: 'string' }, 'measure-steps': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** This command's own defaults, not the paper's hyperparameters (see docs/reproduce.md). */
const DEFAULTS = { steps: 5000, batch: 16, lr: 1e-4, maxSteps: 8, measureSteps: 3 } as const;

export const command: CliCommand = {
  name: 'reproduce',
  summary: "run the paper's GSM8K experiment from GPT-2 (or Llama-family) weights you provide, with a time estimate",
  async run(argv) {
    const v = parseFlags(argv, FLAGS);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const init = stringFlag(v, 'init');
    const data = stringFlag(v, 'data');
    if (!init) throw new CliUsageError('--init <dir> is required: an HF checkpoint directory (GPT-2, or a Llama-family model with its tokenizer.json)');
    if (!data) throw new CliUsageError('--data <dir> is required: the GSM8K files (train_socratic.jsonl / test_socratic.jsonl)');
    const outDir = resolve(stringFlag(v, 'out') ?? './reproduce-output');
    const teacher = makeTeacher(v);
    const { train, test } = await loadGsm8kSplits(data, { train: intFlag(v, 'train-limit', 1), test: intFlag(v, 'test-limit', 1) });
    let current = '';
    const bar = trainProgressPrinter(() => current);
    try {
      const r = await reproducePaper({
        init: resolve(init), train, test, teacher, outDir,
        description: `GSM8K from ${data} (${train.length} train, ${test.length} test problems)`,
        steps: intFlag(v, 'steps', 1) ?? DEFAULTS.steps,
        batchSize: intFlag(v, 'batch', 1) ?? DEFAULTS.batch,
        lr: numberFlag(v, 'lr', 0) ?? DEFAULTS.lr,
        seeds: seedsFlag(stringFlag(v, 'seeds')),
        maxSteps: intFlag(v, 'max-steps', 1) ?? DEFAULTS.maxSteps,
        backend: backendFlag(stringFlag(v, 'backend')),
        measureSteps: intFlag(v, 'measure-steps', 1) ?? DEFAULTS.measureSteps,
        resumeChains: teacher.id !== 'annotation',
        log: (line) => process.stderr.write(line + '\n'),
        onTrainProgress: (e) => {
          current = `seed ${e.seed} ${e.arm}`;
          bar(e.progress);
        },
      });
      process.stdout.write(`\n${markdownTable(r.report)}\n\n${r.report.findings.join('\n')}\n`);
      process.stdout.write(`\nreports: ${r.paths.html}, ${r.paths.json}, ${r.paths.markdown}, ${r.timingPath}\n`);
      return 0;
    } catch (err) {
      if (err instanceof TeacherUnsuitableError) throw teacherRefusal(err, `the GSM8K files in --data ${data}`, ['annotation', 'openai']);
      // The library error names the API; here every offending problem is listed, one per line.
      if (!(err instanceof ContextLengthError)) throw err;
      process.stderr.write(
        `socratic-distill reproduce: ${err.offenders.length} GSM8K problem${err.offenders.length === 1 ? ' does' : 's do'} not fit the checkpoint's n_positions (${err.nPositions}); ` +
          'remove them from the --data files or use a checkpoint with more positions:\n' +
          err.offenders.map((o) => `  ${o.problemId}\t${o.tokens} tokens\n`).join(''),
      );
      return 1;
    }
  },
};

function makeTeacher(v: Record<string, unknown>): TeacherClient {
  const name = stringFlag(v, 'teacher') ?? 'annotation';
  if (name === 'annotation') return new AnnotationTeacher();
  if (name !== 'openai') throw new CliUsageError(`--teacher must be annotation|openai, got '${name}'`);
  const baseURL = stringFlag(v, 'base-url');
  const model = stringFlag(v, 'model');
  return new OpenAICompatibleTeacher({ ...(baseURL ? { baseURL } : {}), ...(model ? { model } : {}) });
}

function seedsFlag(value: string | undefined): number[] {
  if (value === undefined) return [0];
  return value.split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new CliUsageError(`--seeds must be comma-separated integers, got '${s}'`);
    return n;
  });
}
