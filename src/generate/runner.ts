import { rm } from 'node:fs/promises';
import { ZodError } from 'zod';
import { SocraticChainSchema, type Problem, type SocraticChain, type TokenUsage } from '../data/schema.js';
import { DatasetFormatError, OptionalDependencyError, TeacherError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { JsonlAppender, readJsonl, repairJsonlTail } from '../io/jsonl.js';
import { checkTeacherNeeds } from '../teacher/needs.js';
import { askTeacher } from '../teacher/sampling.js';
import type { TeacherClient, TeacherMode } from '../teacher/types.js';
import { lockOutput } from './lock.js';
import { costOf, sumUsage, type Pricing } from './usage.js';
import { abortableSleep } from '../util/sleep.js';

/**
 * The one retry policy of a generate run. Teachers do not retry on their own (the OpenAI teacher turns
 * the SDK's retries off), so a problem costs at most `maxAttempts` teacher calls, and with the OpenAI
 * teacher at most `maxAttempts` HTTP requests per sample, however the server fails.
 */
export interface RetryPolicy {
  /** Attempts per problem for retryable failures (429, 5xx, timeouts, dropped connections, torn bodies). Default 5. */
  maxAttempts?: number;
  /** Attempts per problem when the teacher answers off-format (re-sampling may fix it). Default 2. */
  offFormatAttempts?: number;
  /** First backoff delay; doubles per attempt with jitter, unless the server sent Retry-After. Default 1000. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface GenerateProgress {
  total: number;
  /** Problems finished, including those already in the file. */
  done: number;
  failed: number;
  usage: TokenUsage;
}

export interface GenerateOptions {
  teacher: TeacherClient;
  problems: readonly Problem[];
  /** Append-only JSONL of SocraticChain records; rerunning with the same path resumes. */
  out: string;
  mode?: TeacherMode;
  samplesPerProblem?: number;
  concurrency?: number;
  temperature?: number;
  signal?: AbortSignal;
  onProgress?: (p: GenerateProgress) => void;
  retry?: RetryPolicy;
  pricing?: Pricing;
  /** Where failed problems are listed. Default `<out>.failures.json`. */
  failuresPath?: string;
}

export interface GenerationFailure {
  problemId: string;
  kind: string;
  reason: string;
  attempts: number;
  /**
   * Whether running again may succeed: true for failures of the moment (429, 5xx, timeouts, dropped
   * connections, off-format replies that a new sample may fix), false when the same request fails the same way.
   */
  retryable: boolean;
}

export interface GenerateSummary {
  out: string;
  failuresPath: string;
  total: number;
  /** Problems that were complete before this run started. */
  alreadyDone: number;
  /** Problems completed by this run. */
  completed: number;
  failed: GenerationFailure[];
  chainsWritten: number;
  /**
   * Tokens billed by this run: every reply counts, also off-format ones and replies of attempts that failed
   * later. `usageTotal` adds the usage recorded in the chains already in the file (kept replies only).
   */
  usage: TokenUsage;
  usageTotal: TokenUsage;
  /** Teacher calls this run made (one per attempt at a problem; each asks for that problem's missing samples). */
  attempts: number;
  /** The retry policy the run used, defaults filled in. */
  retry: Required<RetryPolicy>;
  costUSD: number | null;
  costTotalUSD: number | null;
  aborted: boolean;
  /** Bytes of a torn last line (left by a crash) that were cut before appending. */
  repairedTruncatedBytes: number;
}

/** [first, count] runs of consecutive sample indices, so each teacher call numbers its samples right. */
function contiguousRuns(indices: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const i of indices) {
    const last = runs.at(-1);
    if (last && last[0] + last[1] === i) last[1]++;
    else runs.push([i, 1]);
  }
  return runs;
}

function asTeacherError(err: unknown): TeacherError {
  if (err instanceof TeacherError) return err;
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const where = issue ? `${issue.path.join('.') || '(chain)'}: ${issue.message}` : err.message;
    return new TeacherError('client', `teacher returned a malformed chain: ${where}`, { retryable: false, cause: err });
  }
  return new TeacherError('client', err instanceof Error ? err.message : String(err), { retryable: false, cause: err });
}

/**
 * Ask a teacher for chains for every problem, resumably. Finished samples are
 * read back from `out` and skipped; each problem's new chains are appended in
 * one write once they are all in, so a crash loses at most in-flight work and
 * never duplicates a (problem, sample). Failures are listed (each says whether a rerun may fix it), and
 * retried next run. A teacher whose declared `needs` the problems do not meet is refused before the first one.
 */
export async function generateChains(options: GenerateOptions): Promise<GenerateSummary> {
  const { out } = options;
  const samples = options.samplesPerProblem ?? 1;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const r = options.retry ?? {};
  const retry = { maxAttempts: r.maxAttempts ?? 5, offFormatAttempts: r.offFormatAttempts ?? 2, baseDelayMs: r.baseDelayMs ?? 1000, maxDelayMs: r.maxDelayMs ?? 30_000 };
  const failuresPath = options.failuresPath ?? `${out}.failures.json`;
  const wanted = new Set(options.problems.map((p) => p.id));
  if (wanted.size !== options.problems.length) {
    const seen = new Set<string>();
    const dup = options.problems.find((p) => (seen.has(p.id) ? true : (seen.add(p.id), false)))!;
    throw new DatasetFormatError('(problems)', undefined, `duplicate problem id '${dup.id}'; each problem must appear once`, 'id');
  }
  // A teacher that cannot answer these problems at all says so now, not once per problem in the failures file.
  checkTeacherNeeds(options.teacher, options.mode ?? 'socratic', options.problems);
  const unlock = await lockOutput(out);
  try {
    return await run(options, out, failuresPath, samples, concurrency, retry, wanted);
  } finally {
    await unlock();
  }
}

async function run(
  options: GenerateOptions,
  out: string,
  failuresPath: string,
  samples: number,
  concurrency: number,
  retry: Required<RetryPolicy>,
  wanted: Set<string>,
): Promise<GenerateSummary> {
  const { teacher, signal } = options;
  const existing = await readJsonl(out, SocraticChainSchema);
  await repairJsonlTail(out, existing);
  const have = new Map<string, Set<number>>();
  for (const c of existing.records) {
    if (!have.has(c.problemId)) have.set(c.problemId, new Set());
    have.get(c.problemId)!.add(c.teacher.sampleIndex);
  }
  const queue: { problem: Problem; missing: number[] }[] = [];
  for (const problem of options.problems) {
    const got = have.get(problem.id) ?? new Set<number>();
    const missing = Array.from({ length: samples }, (_, i) => i).filter((i) => !got.has(i));
    if (missing.length > 0) queue.push({ problem, missing });
  }
  const alreadyDone = wanted.size - queue.length;
  const usage: TokenUsage = { promptTokens: 0, completionTokens: 0 };
  const failed: GenerationFailure[] = [];
  let completed = 0;
  let chainsWritten = 0;
  let attempts = 0;
  const progress = () => options.onProgress?.({ total: wanted.size, done: alreadyDone + completed, failed: failed.length, usage: { ...usage } });
  progress();

  let fatal: OptionalDependencyError | undefined;
  const writer = await JsonlAppender.open(out);
  const runOne = async ({ problem, missing }: { problem: Problem; missing: number[] }): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted || fatal) return;
      attempts++;
      const chains: SocraticChain[] = [];
      let counted = false;
      try {
        for (const [first, count] of contiguousRuns(missing)) {
          chains.push(
            ...(await askTeacher(teacher, options.mode ?? 'socratic', problem, {
              samples: count,
              sampleOffset: first,
              ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
              ...(signal ? { signal } : {}),
            })),
          );
        }
        if (signal?.aborted) {
          for (const c of chains) sumUsage(usage, c.teacher.usage);
          return;
        }
        // askTeacher numbered the samples and wrote the provenance; the schema catches a teacher's malformed content.
        const records: SocraticChain[] = chains.map((c) => SocraticChainSchema.parse(c));
        await writer.append(records);
        for (const r of records) sumUsage(usage, r.teacher.usage);
        counted = true;
        chainsWritten += records.length;
        completed++;
        progress();
        return;
      } catch (err) {
        // Billed even though nothing is written: replies received before the failure, and the failing one's.
        if (!counted) for (const c of chains) sumUsage(usage, c.teacher.usage);
        if (err instanceof TeacherError) sumUsage(usage, err.usage);
        if (signal?.aborted) return;
        // A missing optional package fails every problem alike: stop the run and say what to install.
        if (err instanceof OptionalDependencyError) {
          fatal ??= err;
          return;
        }
        const te = asTeacherError(err);
        const limit = te.kind === 'off-format' ? retry.offFormatAttempts : te.retryable ? retry.maxAttempts : 1;
        if (attempt >= limit) {
          failed.push({ problemId: problem.id, kind: te.kind, reason: te.message.split('\n')[0]!, attempts: attempt, retryable: te.retryable || te.kind === 'off-format' });
          progress();
          return;
        }
        const backoff = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        await abortableSleep(te.retryAfterMs ?? backoff, signal);
      }
    }
  };

  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
        while (next < queue.length && !signal?.aborted && !fatal) await runOne(queue[next++]!);
      }),
    );
  } finally {
    await writer.close();
  }
  if (fatal) throw fatal;

  if (failed.length > 0) {
    await writeFileAtomic(failuresPath, JSON.stringify({ out, failures: failed }, null, 2) + '\n');
  } else if (!signal?.aborted) {
    await rm(failuresPath, { force: true });
  }
  const usageTotal = { promptTokens: 0, completionTokens: 0 };
  for (const c of existing.records) sumUsage(usageTotal, c.teacher.usage);
  sumUsage(usageTotal, usage);
  return {
    out,
    failuresPath,
    total: wanted.size,
    alreadyDone,
    completed,
    failed,
    chainsWritten,
    usage,
    usageTotal,
    attempts,
    retry,
    costUSD: costOf(usage, options.pricing),
    costTotalUSD: costOf(usageTotal, options.pricing),
    aborted: signal?.aborted ?? false,
    repairedTruncatedBytes: existing.truncatedTail?.bytes ?? 0,
  };
}
