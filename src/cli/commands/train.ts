import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from '../../errors.js';
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
import { backendFlag, loraFlag } from './student-flags.js';

const HELP = `usage: socratic-distill train --student answer-only|cot|unified|iterative --chains kept.jsonl --out <student dir>
         --dataset gsm8k|svamp|strategyqa|synthetic|jsonl [--data <path>] [--split train] [--count N] [--seed S]
         [--init <HF checkpoint dir> [--lora r=16,alpha=32[,targets=q_proj+v_proj]] [--with-base]] [--arch gpt2|llama] [--n-embd 128] [--n-layer 4] [--n-head 4] [--n-positions 512]
         [--steps N | --epochs N] [--batch-size 16] [--grad-accum 1] [--lr 1e-3] [--warmup N] [--prompt-loss]
         [--keep-calculator-notes] [--shared] [--checkpoint-dir <dir> | --no-checkpoint] [--checkpoint-every 100] [--backend auto]
         [--task default|demo] (--dataset synthetic: which synthetic task; must match generate's)

Trains a student on verified chains. From scratch (default) the model gets a vocabulary trimmed to the
training text, as a GPT-2 (--arch gpt2) or a Llama of the same parameter class (--arch llama: RoPE, GQA, SwiGLU).
--init starts from an HF checkpoint directory instead: GPT-2 (config.json + model.safetensors), or a Llama-family
model such as SmolLM2 or Qwen3 (also tokenizer.json; bf16 and sharded weights are read), which keeps its own
tokenizer and EOS. The student is saved as an HF directory (with the tokenizer files) that solve and eval load.
--from is the old name of --init.
--lora (with --init) trains LoRA adapters over the frozen --init model instead of every weight: rank r, alpha (scale
alpha / r) and optionally the modules to adapt joined by '+' (default every projection: q_proj k_proj v_proj o_proj
gate_proj up_proj down_proj; GPT-2 c_attn c_proj c_fc). Each model is saved as a PEFT adapter directory
(adapter_config.json + adapter_model.safetensors, which PEFT loads), and student.json records the base's path: solve
and eval load the base from there (--base <dir> if it moved). An Iterative pair holds one base in memory for both
adapters. --with-base also copies the base into <out>/base, so the directory is complete on its own (to move it, or
to serve it to the browser example).
--shared (iterative only): one model plays both turns, trained on whole chains.
Training checkpoints every --checkpoint-every steps into <out>/checkpoint (or --checkpoint-dir), so after a
crash or Ctrl-C the same command resumes exactly where it stopped. The default folder is removed once the
student is saved; a --checkpoint-dir is kept. --no-checkpoint turns checkpoints off (nothing to resume).
A from-scratch student whose final loss is still high is a toy, and train says so.`;

const FLAGS = {
  student: { type: 'string' }, chains: { type: 'string' }, out: { type: 'string' }, dataset: { type: 'string' }, data: { type: 'string' },
  split: { type: 'string' }, count: { type: 'string' }, limit: { type: 'string' }, seed: { type: 'string' }, from: { type: 'string' }, init: { type: 'string' }, arch: { type: 'string' },
  'n-embd': { type: 'string' }, 'n-layer': { type: 'string' }, 'n-head': { type: 'string' }, 'n-positions': { type: 'string' },
  steps: { type: 'string' }, epochs: { type: 'string' }, 'batch-size': { type: 'string' }, 'grad-accum': { type: 'string' }, lr: { type: 'string' },
  warmup: { type: 'string' }, 'prompt-loss': { type: 'boolean' }, 'keep-calculator-notes': { type: 'boolean' },
  'checkpoint-dir': { type: 'string' }, 'no-checkpoint': { type: 'boolean' }, 'checkpoint-every': { type: 'string' }, backend: { type: 'string' }, shared: { type: 'boolean' },
  task: { type: 'string' }, lora: { type: 'string' }, 'with-base': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Below this mean loss over the last tenth of the steps, a from-scratch student on the synthetic task writes
 * well-formed steps; above it, it is a toy (the README's 30-step run ends near 2).
 */
const TOY_LOSS = 0.2;
/** What the README's walkthrough trains (and measured): the budget to point a toy run at. */
export const WORKING_STEPS = 3200;

function tailLoss(losses: readonly number[]): number {
  const tail = losses.slice(-Math.max(1, Math.floor(losses.length / 10)));
  return tail.reduce((a, b) => a + b, 0) / tail.length;
}

/** The command line again, quoted for a POSIX shell, so it can be pasted to resume. */
function commandLine(argv: readonly string[]): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  return ['socratic-distill', 'train', ...argv].map(quote).join(' ');
}

interface RunOutcome {
  /** Per model: name, steps done, steps planned, whether it finished. */
  models: Array<{ name: string; steps: number; totalSteps: number; finished: boolean; stoppedEarly: boolean; resumedFromStep: number | null; losses: number[] }>;
}

/** What an interrupted run left and the command that resumes it. */
function stoppedMessage(outcome: RunOutcome, checkpointDir: string | undefined, argv: readonly string[]): string {
  const where = outcome.models.map((m) => `${m.name} ${m.finished ? 'finished' : 'stopped'} at step ${m.steps} of ${m.totalSteps}`).join(', ');
  if (!checkpointDir) return `stopped: ${where}; nothing was saved (--no-checkpoint), so a rerun starts over\n`;
  const sub = outcome.models.length > 1 ? ` (${outcome.models.map((m) => `${m.name.toLowerCase()}/ at step ${m.steps}`).join(', ')})` : ` (step ${outcome.models[0]!.steps})`;
  return `stopped: ${where}; the last checkpoint is in ${checkpointDir}${sub}\nresume with the same command:\n  ${commandLine(argv)}\n`;
}

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
    const chainsPath = stringFlag(v, 'chains');
    const out = stringFlag(v, 'out');
    if (!chainsPath) throw new CliUsageError('--chains <kept.jsonl> is required');
    if (!out) throw new CliUsageError('--out <student dir> is required');
    if (v.shared === true && kind !== 'iterative') throw new CliUsageError('--shared is for --student iterative');
    const seed = intFlag(v, 'seed') ?? 0;
    const dataset = await datasetFromArgs({
      dataset: stringFlag(v, 'dataset'), data: stringFlag(v, 'data'), split: stringFlag(v, 'split'), seed, count: intFlag(v, 'count', 1), limit: intFlag(v, 'limit', 1),
      task: stringFlag(v, 'task'),
    });
    const chains = (await readJsonl(chainsPath, SocraticChainSchema)).records;
    const ids = new Set(chains.map((c) => c.problemId));
    const data: StudentData = { problems: dataset.problems.filter((p) => ids.has(p.id)), chains };
    const format = { keepCalculatorNotes: v['keep-calculator-notes'] === true };
    const backend = backendFlag(stringFlag(v, 'backend'));
    const gpt2Size = {
      n_embd: intFlag(v, 'n-embd', 1) ?? 128, n_layer: intFlag(v, 'n-layer', 1) ?? 4, n_head: intFlag(v, 'n-head', 1) ?? 4, n_positions: intFlag(v, 'n-positions', 8) ?? 512,
    };
    const explicitDir = stringFlag(v, 'checkpoint-dir');
    if (explicitDir && v['no-checkpoint']) throw new CliUsageError('--checkpoint-dir and --no-checkpoint exclude each other');
    const defaultDir = join(out, 'checkpoint');
    const checkpointDir = v['no-checkpoint'] ? undefined : (explicitDir ?? defaultDir);
    const arch = stringFlag(v, 'arch') ?? 'gpt2';
    if (arch !== 'gpt2' && arch !== 'llama') throw new CliUsageError(`--arch must be gpt2|llama, got '${arch}'`);
    const size = arch === 'llama' ? llamaStudentSize(gpt2Size) : gpt2Size;
    const init = stringFlag(v, 'init') ?? stringFlag(v, 'from');
    if (init && stringFlag(v, 'arch')) throw new CliUsageError('--arch is for students from scratch; with --init the checkpoint decides the architecture');
    const lora = loraFlag(stringFlag(v, 'lora'));
    if (lora && !init) throw new CliUsageError('--lora trains adapters over a pretrained model: give it with --init <HF checkpoint dir> (a student from scratch trains every weight)');
    const withBase = v['with-base'] === true;
    if (withBase && !lora) throw new CliUsageError('--with-base is for --lora students (it copies the base beside the adapters)');
    const tokenizer = init ? undefined : tokenizerForTexts(trainingTexts(data, v.shared === true ? ['unified'] : MODES[kind], format));
    const lm = async (s: number): Promise<StudentLM> =>
      init ? StudentLM.load(init, { backend, ...(lora ? { lora, seed: s } : {}) }) : StudentLM.create(size, tokenizer!, { backend, seed: s });
    let label: string = kind;
    // Ctrl-C: finish the current step, write a checkpoint, say how to resume. A second Ctrl-C quits at once.
    const controller = new AbortController();
    let interrupts = 0;
    const onSigint = () => {
      if (++interrupts > 1) process.exit(130);
      process.stderr.write('\nstopping after the current step and writing a checkpoint (Ctrl-C again to quit now)\n');
      controller.abort();
    };
    const options: StudentTrainOptions = {
      batchSize: intFlag(v, 'batch-size', 1) ?? 16, gradAccumSteps: intFlag(v, 'grad-accum', 1), maxSteps: intFlag(v, 'steps', 1), epochs: intFlag(v, 'epochs', 1),
      lr: numberFlag(v, 'lr', 0, 1), warmupSteps: intFlag(v, 'warmup'), seed, promptLoss: v['prompt-loss'] === true, format,
      checkpointDir, checkpointEvery: intFlag(v, 'checkpoint-every', 1), signal: controller.signal,
      onProgress: trainProgressPrinter(() => label),
    };
    process.on('SIGINT', onSigint);
    let outcome: RunOutcome;
    let student: { save(dir: string, options?: { withBase?: boolean }): Promise<void>; dispose(): void };
    try {
      if (kind === 'iterative') {
        const qg = await lm(seed);
        // With --lora, QA is a second adapter over QG's base: one copy of the base in memory.
        const qa = v.shared === true ? qg : lora ? await qg.withAdapter({ lora, seed: seed + 1 }) : await lm(seed + 1);
        const it = new IterativeStudent(qg, qa);
        label = it.shared ? 'iterative (shared)' : 'iterative QG/QA';
        const r = await it.train(data, options, format);
        student = it;
        // One shared model trains once: report it once.
        outcome = { models: it.shared ? [{ name: 'shared', ...r.qg }] : [{ name: 'QG', ...r.qg }, { name: 'QA', ...r.qa }] };
      } else {
        const cls = { 'answer-only': AnswerOnlyStudent, cot: CoTStudent, unified: UnifiedStudent }[kind];
        const single = new cls(await lm(seed), format);
        const r = await single.train(data, options);
        student = single;
        outcome = { models: [{ name: kind, ...r }] };
      }
    } catch (err) {
      // The default folder is ours: say what it holds in this command's words.
      if (err instanceof CheckpointError && checkpointDir === defaultDir && err.dir.startsWith(defaultDir)) {
        // The library's reason (other data, or LoRA vs a full run), after the folder it names, without its own advice
        // (after "; "): the sentence below gives that advice in this command's words.
        const reason = err.message.slice(err.dir.length + 2).split('; ')[0]!;
        throw new CheckpointError(
          defaultDir,
          `holds an interrupted training run with other data or flags (${reason}); rerun with its original flags to resume it, or delete that folder to start over`,
        );
      }
      throw err;
    } finally {
      process.off('SIGINT', onSigint);
    }
    for (const m of outcome.models) {
      if (m.resumedFromStep !== null) process.stderr.write(`${outcome.models.length > 1 ? `${m.name}: ` : ''}resumed from the checkpoint at step ${m.resumedFromStep} in ${checkpointDir}\n`);
    }
    if (outcome.models.some((m) => !m.finished)) {
      process.stderr.write(stoppedMessage(outcome, checkpointDir, argv));
      student.dispose();
      return 130;
    }
    await student.save(out, withBase ? { withBase } : {});
    if (checkpointDir === defaultDir) await rm(defaultDir, { recursive: true, force: true });
    const [first, second] = outcome.models;
    process.stdout.write(
      kind === 'iterative' && !second
        ? `trained iterative student (one shared model, ${first!.steps} steps, loss ${first!.losses.at(-1)?.toFixed(4)}); saved to ${out}\n`
        : second
        ? `trained iterative student (QG ${first!.steps} steps, loss ${first!.losses.at(-1)?.toFixed(4)}; QA ${second.steps} steps, loss ${second.losses.at(-1)?.toFixed(4)}); saved to ${out}\n`
        : `trained ${kind} student: ${first!.steps} steps, final loss ${first!.losses.at(-1)?.toFixed(4)}${first!.stoppedEarly ? ' (early stop)' : ''}; saved to ${out}\n`,
    );
    const high = outcome.models.map((m) => tailLoss(m.losses)).filter((l) => l > TOY_LOSS);
    if (!init && high.length > 0) {
      process.stdout.write(
        `note: the loss is still high (${high.map((l) => l.toFixed(3)).join(', ')} over the last tenth of the steps, above ${TOY_LOSS}): this student is a toy and will mostly write garbled steps and wrong answers. ` +
          `The README's walkthrough trains ${WORKING_STEPS} steps (--steps ${WORKING_STEPS}) to a loss near 0.01 and a student that solves most held-out problems.\n`,
      );
    }
    student.dispose();
    return 0;
  },
};
