import { join } from 'node:path';
import { SocraticChainSchema } from '../../data/schema.js';
import { CliUsageError } from '../usage-error.js';
import { readJsonl } from '../../io/jsonl.js';
import { STUDENT_KINDS, tokenizerForTexts, trainingTexts, type StudentData, type StudentKind, type StudentTrainOptions } from '../../students/common.js';
import { IterativeStudent } from '../../students/iterative.js';
import { llamaStudentSize, StudentLM } from '../../students/lm.js';
import { AnswerOnlyStudent, CoTStudent, UnifiedStudent } from '../../students/single.js';
import type { FormatMode } from '../../format/pairs.js';
import type { CliCommand } from '../command.js';
import { datasetFromArgs, intFlag, numberFlag, parseFlags, stringFlag } from './data-flags.js';
import { trainProgressPrinter } from './progress.js';
import { backendFlag } from './student-flags.js';

const HELP = `usage: socratic-distill train --student answer-only|cot|unified|iterative --chains kept.jsonl --out <student dir>
         --dataset gsm8k|svamp|strategyqa|synthetic|jsonl [--data <path>] [--split train] [--count N] [--seed S]
         [--init <HF checkpoint dir>] [--arch gpt2|llama] [--n-embd 128] [--n-layer 4] [--n-head 4] [--n-positions 512]
         [--steps N | --epochs N] [--batch-size 16] [--grad-accum 1] [--lr 1e-3] [--warmup N] [--prompt-loss]
         [--keep-calculator-notes] [--shared] [--checkpoint-dir <dir>] [--checkpoint-every 100] [--backend auto]

Trains a student on verified chains. From scratch (default) the model gets a vocabulary trimmed to the
training text, as a GPT-2 (--arch gpt2) or a Llama of the same parameter class (--arch llama: RoPE, GQA, SwiGLU).
--init starts from an HF checkpoint directory instead: GPT-2 (config.json + model.safetensors), or a Llama-family
model such as SmolLM2 or Qwen3 (also tokenizer.json; bf16 and sharded weights are read), which keeps its own
tokenizer and EOS. The student is saved as an HF directory (with the tokenizer files) that solve and eval load.
--from is the old name of --init. --shared (iterative only): one model plays both turns, trained on whole chains.
With --checkpoint-dir, training resumes exactly where an interrupted run stopped.`;

const FLAGS = {
  student: { type: 'string' }, chains: { type: 'string' }, out: { type: 'string' }, dataset: { type: 'string' }, data: { type: 'string' },
  split: { type: 'string' }, count: { type: 'string' }, limit: { type: 'string' }, seed: { type: 'string' }, from: { type: 'string' }, init: { type: 'string' }, arch: { type: 'string' },
  'n-embd': { type: 'string' }, 'n-layer': { type: 'string' }, 'n-head': { type: 'string' }, 'n-positions': { type: 'string' },
  steps: { type: 'string' }, epochs: { type: 'string' }, 'batch-size': { type: 'string' }, 'grad-accum': { type: 'string' }, lr: { type: 'string' },
  warmup: { type: 'string' }, 'prompt-loss': { type: 'boolean' }, 'keep-calculator-notes': { type: 'boolean' },
  'checkpoint-dir': { type: 'string' }, 'checkpoint-every': { type: 'string' }, backend: { type: 'string' }, shared: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

const MODES: Record<StudentKind, FormatMode[]> = { 'answer-only': ['answer-only'], cot: ['cot'], unified: ['unified'], iterative: ['qg', 'qa'] };

export const command: CliCommand = {
  name: 'train',
  summary: 'train a student (answer-only, CoT, Unified or Iterative) on verified chains',
  async run(argv) {
    const v = parseFlags(argv, FLAGS);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const kind = stringFlag(v, 'student') as StudentKind | undefined;
    if (!kind || !STUDENT_KINDS.includes(kind)) throw new CliUsageError(`--student must be one of ${STUDENT_KINDS.join('|')}`);
    if (v.shared === true && kind !== 'iterative') throw new CliUsageError('--shared is for --student iterative');
    const chainsPath = stringFlag(v, 'chains');
    const out = stringFlag(v, 'out');
    if (!chainsPath) throw new CliUsageError('--chains <kept.jsonl> is required');
    if (!out) throw new CliUsageError('--out <student dir> is required');
    const seed = intFlag(v, 'seed') ?? 0;
    const dataset = await datasetFromArgs({
      dataset: stringFlag(v, 'dataset'), data: stringFlag(v, 'data'), split: stringFlag(v, 'split'), seed, count: intFlag(v, 'count', 1), limit: intFlag(v, 'limit', 1),
    });
    const chains = (await readJsonl(chainsPath, SocraticChainSchema)).records;
    const ids = new Set(chains.map((c) => c.problemId));
    const data: StudentData = { problems: dataset.problems.filter((p) => ids.has(p.id)), chains };
    const format = { keepCalculatorNotes: v['keep-calculator-notes'] === true };
    const backend = backendFlag(stringFlag(v, 'backend'));
    const gpt2Size = {
      n_embd: intFlag(v, 'n-embd', 1) ?? 128, n_layer: intFlag(v, 'n-layer', 1) ?? 4, n_head: intFlag(v, 'n-head', 1) ?? 4, n_positions: intFlag(v, 'n-positions', 8) ?? 512,
    };
    const arch = stringFlag(v, 'arch') ?? 'gpt2';
    if (arch !== 'gpt2' && arch !== 'llama') throw new CliUsageError(`--arch must be gpt2|llama, got '${arch}'`);
    const size = arch === 'llama' ? llamaStudentSize(gpt2Size) : gpt2Size;
    const init = stringFlag(v, 'init') ?? stringFlag(v, 'from');
    if (init && stringFlag(v, 'arch')) throw new CliUsageError('--arch is for students from scratch; with --init the checkpoint decides the architecture');
    const tokenizer = init ? undefined : tokenizerForTexts(trainingTexts(data, v.shared === true ? ['unified'] : MODES[kind], format));
    const lm = async (s: number): Promise<StudentLM> => (init ? StudentLM.load(init, { backend }) : StudentLM.create(size, tokenizer!, { backend, seed: s }));
    let label: string = kind;
    const options: StudentTrainOptions = {
      batchSize: intFlag(v, 'batch-size', 1) ?? 16, gradAccumSteps: intFlag(v, 'grad-accum', 1), maxSteps: intFlag(v, 'steps', 1), epochs: intFlag(v, 'epochs', 1),
      lr: numberFlag(v, 'lr', 0, 1), warmupSteps: intFlag(v, 'warmup'), seed, promptLoss: v['prompt-loss'] === true, format,
      checkpointDir: stringFlag(v, 'checkpoint-dir'), checkpointEvery: intFlag(v, 'checkpoint-every', 1),
      onProgress: trainProgressPrinter(() => label),
    };
    if (kind === 'iterative') {
      const qg = await lm(seed);
      const student = v.shared === true ? new IterativeStudent(qg, qg) : new IterativeStudent(qg, await lm(seed + 1));
      label = student.shared ? 'iterative (shared)' : 'iterative QG/QA';
      const r = await student.train(data, options, format);
      await student.save(out);
      if (student.shared) {
        process.stdout.write(`trained iterative student (one shared model, ${r.qg.steps} steps, loss ${r.qg.losses.at(-1)?.toFixed(4)}); saved to ${out}\n`);
        return 0;
      }
      process.stdout.write(`trained iterative student (QG ${r.qg.steps} steps, loss ${r.qg.losses.at(-1)?.toFixed(4)}; QA ${r.qa.steps} steps, loss ${r.qa.losses.at(-1)?.toFixed(4)}); saved to ${out}\n`);
      return 0;
    }
    const cls = { 'answer-only': AnswerOnlyStudent, cot: CoTStudent, unified: UnifiedStudent }[kind];
    const student = new cls(await lm(seed), format);
    const r = await student.train(data, options);
    await student.save(out);
    process.stdout.write(`trained ${kind} student: ${r.steps} steps, final loss ${r.losses.at(-1)?.toFixed(4)}${r.stoppedEarly ? ' (early stop)' : ''}; saved to ${join(out)}\n`);
    return 0;
  },
};
