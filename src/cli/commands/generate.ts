import { SocraticDataset } from '../../data/dataset.js';
import { SYNTHETIC_FAMILIES, type SyntheticFamily, type SyntheticOptions } from '../../data/synthetic.js';
import { TeacherUnsuitableError } from '../../errors.js';
import { CliUsageError } from '../usage-error.js';
import { BATCH_HELP, batchModeOf, checkLiveCost, runBatchCommand } from './generate-batch.js';
import { generateChains, type GenerateProgress, type GenerateSummary } from '../../generate/index.js';
import { AnnotationTeacher, OpenAICompatibleTeacher, SimulatedTeacher, type TeacherClient } from '../../teacher/index.js';
import type { CliCommand } from '../command.js';
import { datasetFromArgs, intFlag, numberFlag, parseFlags, stringFlag } from './data-flags.js';
import { teacherRefusal } from './teacher-flags.js';

const HELP = `usage: socratic-distill generate --teacher openai|annotation|simulated --dataset gsm8k|svamp|strategyqa|synthetic|jsonl
         [--data <path>] [--split train|test|all] [--limit N] [--samples K] [--concurrency C] --out chains.jsonl
         [--base-url URL] [--model M] [--mode socratic|cot] [--temperature T] [--seed S] [--count N]
         [--error-rate R] [--timeout-ms MS] [--max-attempts N] [--price-prompt USD] [--price-completion USD] [--json]
         [--task default|demo] [--family ${SYNTHETIC_FAMILIES.join('|')}] [--min-steps N] [--max-steps N] [--distractors N] [--people 2|3]
         [--batch [--cancel] | --write-requests FILE | --ingest FILE | --estimate] [--max-cost USD] [--max-tokens N]
         [--batch-discount F] [--poll-ms MS]

Asks a teacher for Socratic chains and appends them to --out. Rerun the same command to resume:
finished problems are skipped, failed ones (listed in <out>.failures.json) are tried again.
Retries: one policy for the whole run. A problem is tried at most --max-attempts times (default 5) on
429, 5xx, timeouts, dropped connections and torn replies, with backoff that honours Retry-After; at most
2 times when the reply is off-format; once on other errors. So a server that always fails costs at most
--max-attempts requests per problem and sample. Every reply is counted in the token and cost summary,
usable or not.
The OpenAI teacher reads OPENAI_API_KEY (never pass keys on the command line) and OPENAI_BASE_URL.
--price-* are USD per million tokens, for the cost summary. Ctrl-C stops cleanly.
--family and the flags after it choose the kind of --dataset synthetic problem (docs/data.md); for dag,
--min-steps/--max-steps are the computed quantities the answer needs and --distractors the irrelevant ones.
${BATCH_HELP}`;

const FLAGS = {
  teacher: { type: 'string' }, dataset: { type: 'string' }, data: { type: 'string' }, split: { type: 'string' },
  limit: { type: 'string' }, samples: { type: 'string' }, concurrency: { type: 'string' }, out: { type: 'string' },
  'base-url': { type: 'string' }, model: { type: 'string' }, mode: { type: 'string' }, temperature: { type: 'string' },
  seed: { type: 'string' }, count: { type: 'string' }, 'error-rate': { type: 'string' }, 'timeout-ms': { type: 'string' },
  'max-attempts': { type: 'string' }, 'price-prompt': { type: 'string' }, 'price-completion': { type: 'string' },
  json: { type: 'boolean' }, task: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  family: { type: 'string' }, 'min-steps': { type: 'string' }, 'max-steps': { type: 'string' },
  distractors: { type: 'string' }, people: { type: 'string' },
  batch: { type: 'boolean' }, cancel: { type: 'boolean' }, 'write-requests': { type: 'string' }, ingest: { type: 'string' },
  estimate: { type: 'boolean' }, 'max-cost': { type: 'string' }, 'max-tokens': { type: 'string' }, 'batch-discount': { type: 'string' },
  'poll-ms': { type: 'string' },
} as const;

/** The synthetic-family flags, or undefined when none is given (then the plain synthetic dataset is used). */
function syntheticFlags(v: Record<string, unknown>): Partial<SyntheticOptions> | undefined {
  const family = stringFlag(v, 'family');
  if (family !== undefined && !(SYNTHETIC_FAMILIES as readonly string[]).includes(family)) {
    throw new CliUsageError(`--family must be ${SYNTHETIC_FAMILIES.join('|')}, got '${family}'`);
  }
  const options: Partial<SyntheticOptions> = {
    ...(family === undefined ? {} : { family: family as SyntheticFamily }),
    ...(v['min-steps'] === undefined ? {} : { minSteps: intFlag(v, 'min-steps', 1) }),
    ...(v['max-steps'] === undefined ? {} : { maxSteps: intFlag(v, 'max-steps', 1) }),
    ...(v.distractors === undefined ? {} : { distractors: intFlag(v, 'distractors', 1) }),
    ...(v.people === undefined ? {} : { people: intFlag(v, 'people', 2) }),
  };
  return Object.keys(options).length > 0 ? options : undefined;
}

function makeTeacher(v: Record<string, unknown>): TeacherClient {
  // Batch engines answer chat-completion requests: the OpenAI-compatible teacher is the one that makes them.
  const name = stringFlag(v, 'teacher') ?? (batchModeOf(v) ? 'openai' : undefined);
  if (name === 'annotation') return new AnnotationTeacher();
  if (name === 'simulated') {
    const errorRate = numberFlag(v, 'error-rate', 0, 1);
    return new SimulatedTeacher({ seed: intFlag(v, 'seed') ?? 0, ...(errorRate === undefined ? {} : { errorRate }) });
  }
  if (name === 'openai') {
    const baseURL = stringFlag(v, 'base-url');
    const model = stringFlag(v, 'model');
    const timeoutMs = intFlag(v, 'timeout-ms', 1);
    const maxTokens = intFlag(v, 'max-tokens', 1);
    return new OpenAICompatibleTeacher({
      ...(baseURL ? { baseURL } : {}),
      ...(model ? { model } : {}),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(maxTokens === undefined ? {} : { maxTokens }),
    });
  }
  throw new CliUsageError(`--teacher must be openai|annotation|simulated${name ? `, got '${name}'` : ''}`);
}

/** As datasetFromArgs builds `--dataset synthetic`, with the family options; bad values are usage errors. */
function syntheticDataset(options: Partial<SyntheticOptions>, count: number, seed: number, limit: number | undefined): SocraticDataset {
  let d: SocraticDataset;
  try {
    d = SocraticDataset.synthetic({ ...options, count, seed });
  } catch (err) {
    if (err instanceof RangeError) throw new CliUsageError(`synthetic options: ${err.message}`);
    throw err;
  }
  return limit !== undefined && limit < d.size ? SocraticDataset.fromProblems('synthetic', d.problems.slice(0, limit)) : d;
}

function bar(p: GenerateProgress): string {
  const width = 30;
  const filled = p.total === 0 ? width : Math.round((p.done / p.total) * width);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total} done, ${p.failed} failed, ${p.usage.promptTokens + p.usage.completionTokens} tokens`;
}

function report(s: GenerateSummary): string {
  const cost = s.costUSD === null ? '' : `, cost $${s.costUSD.toFixed(4)} (file total $${(s.costTotalUSD ?? 0).toFixed(4)})`;
  const lines = [
    `${s.aborted ? 'stopped' : 'finished'}: ${s.alreadyDone + s.completed}/${s.total} problems done (${s.completed} this run, ${s.alreadyDone} before), ${s.chainsWritten} chains written to ${s.out}`,
    `tokens this run: ${s.usage.promptTokens} prompt + ${s.usage.completionTokens} completion, every reply counted${cost}`,
    `teacher attempts this run: ${s.attempts} (retry policy: at most ${s.retry.maxAttempts} per problem on 429/5xx/timeouts, ${s.retry.offFormatAttempts} on off-format replies)`,
  ];
  if (s.repairedTruncatedBytes > 0) lines.push(`repaired a torn last line (${s.repairedTruncatedBytes} bytes) left by an earlier crash`);
  if (s.failed.length > 0) lines.push(failuresLine(s));
  return lines.join('\n');
}

/** Only failures of the moment are worth a rerun; the rest would fail the same way again. */
function failuresLine(s: GenerateSummary): string {
  const retryable = s.failed.filter((f) => f.retryable).length;
  const fixed = s.failed.length - retryable;
  const head = `${s.failed.length} problem${s.failed.length === 1 ? '' : 's'} failed (listed with their reasons in ${s.failuresPath})`;
  if (fixed === 0) return `${head}; rerun to retry them`;
  const never = `a rerun cannot fix ${retryable === 0 ? 'them' : `the other ${fixed}`} (the same request would fail the same way): fix the cause given there first`;
  return retryable === 0 ? `${head}; ${never}` : `${head}; rerun to retry the ${retryable} that failed for the moment (rate limits, server errors, timeouts, off-format replies); ${never}`;
}

export const command: CliCommand = {
  name: 'generate',
  summary: 'ask a teacher LLM (or an offline teacher) for Socratic chains, resumably',
  async run(argv) {
    const v = parseFlags(argv, FLAGS);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const out = stringFlag(v, 'out');
    const batchMode = batchModeOf(v);
    // --write-requests and --estimate read --out only to leave out what it already has.
    if (!out && batchMode !== 'write-requests' && batchMode !== 'estimate') throw new CliUsageError('--out <chains.jsonl> is required');
    const mode = stringFlag(v, 'mode') ?? 'socratic';
    if (mode !== 'socratic' && mode !== 'cot') throw new CliUsageError(`--mode must be socratic|cot, got '${mode}'`);
    const teacher = makeTeacher(v);
    const family = syntheticFlags(v);
    if (family && stringFlag(v, 'dataset') !== 'synthetic') throw new CliUsageError('--family, --min-steps, --max-steps, --distractors and --people need --dataset synthetic');
    if (family && v.task !== undefined) throw new CliUsageError('--task and --family (or --min-steps, --max-steps, --distractors, --people) exclude each other');
    const limit = intFlag(v, 'limit', 1);
    const dataset = family
      ? syntheticDataset(family, intFlag(v, 'count', 1) ?? limit ?? 1000, intFlag(v, 'seed') ?? 0, limit)
      : await datasetFromArgs({
          dataset: stringFlag(v, 'dataset'), data: stringFlag(v, 'data'), split: stringFlag(v, 'split'),
          seed: intFlag(v, 'seed') ?? 0, limit, count: intFlag(v, 'count', 1), task: stringFlag(v, 'task'),
        });
    const pp = numberFlag(v, 'price-prompt');
    const pc = numberFlag(v, 'price-completion');
    const temperature = numberFlag(v, 'temperature', 0, 2);
    const maxAttempts = intFlag(v, 'max-attempts', 1);
    const samples = intFlag(v, 'samples', 1) ?? 1;
    if (batchMode) return runBatchCommand({ mode: batchMode, flags: v, teacher, problems: dataset.problems, out, teacherMode: mode, samples, temperature });
    const maxCost = numberFlag(v, 'max-cost');
    if (maxCost !== undefined) await checkLiveCost(teacher, dataset.problems, { out: out!, mode, samples, maxCost, flags: v });
    const controller = new AbortController();
    let interrupts = 0;
    const onSigint = () => {
      if (++interrupts > 1) process.exit(130);
      process.stderr.write('\nstopping after in-flight requests are cancelled (Ctrl-C again to quit now)\n');
      controller.abort();
    };
    process.on('SIGINT', onSigint);
    const tty = process.stdout.isTTY === true && !v.json;
    try {
      const summary = await generateChains({
        teacher, problems: dataset.problems, out: out!, mode,
        samplesPerProblem: samples,
        concurrency: intFlag(v, 'concurrency', 1) ?? 4,
        ...(maxAttempts === undefined ? {} : { retry: { maxAttempts } }),
        signal: controller.signal,
        ...(temperature === undefined ? {} : { temperature }),
        ...(pp !== undefined || pc !== undefined ? { pricing: { promptPerMillion: pp ?? 0, completionPerMillion: pc ?? 0 } } : {}),
        ...(tty ? { onProgress: (p: GenerateProgress) => process.stdout.write(bar(p)) } : {}),
      });
      if (tty) process.stdout.write('\n');
      process.stdout.write((v.json ? JSON.stringify(summary) : report(summary)) + '\n');
      return summary.aborted ? 130 : summary.failed.length > 0 ? 1 : 0;
    } catch (err) {
      throw err instanceof TeacherUnsuitableError ? teacherRefusal(err, `--dataset ${stringFlag(v, 'dataset') ?? err.dataset}`, ['openai', 'annotation', 'simulated']) : err;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
