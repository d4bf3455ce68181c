import { readFile } from 'node:fs/promises';
import type { Problem, TokenUsage } from '../data/schema.js';
import { DatasetFormatError, InvalidOptionError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { parseJsonl } from '../io/jsonl.js';
import type { BatchableTeacher } from '../teacher/batch.js';
import type { TeacherMode } from '../teacher/types.js';
import { BatchResultLineSchema, batchCustomId, planBatchRequests, requestFileText, type BatchLineFailure } from './batch-lines.js';
import { appendChains, collectResults, readDoneKeys, writeFailures, type UnknownResult } from './batch-results.js';
import { lockOutput } from './lock.js';
import { costOf, type Pricing, type PricingWithSource } from './usage.js';

export interface WriteRequestsOptions {
  teacher: BatchableTeacher;
  problems: readonly Problem[];
  /** Where the JSONL request lines go (written atomically). */
  path: string;
  mode?: TeacherMode;
  samplesPerProblem?: number;
  temperature?: number;
  /** A chains file: samples already in it get no request line. */
  out?: string;
}

export interface WriteRequestsSummary {
  path: string;
  requests: number;
  /** Samples left out because `out` already has them. */
  alreadyDone: number;
}

function assertUniqueIds(problems: readonly Problem[]): void {
  const seen = new Set<string>();
  for (const p of problems) {
    if (seen.has(p.id)) throw new DatasetFormatError('(problems)', undefined, `duplicate problem id '${p.id}'; each problem must appear once`, 'id');
    seen.add(p.id);
  }
}

/**
 * Write one chat-completions request line per (problem, sample), `custom_id` = problem id + `#` + sample index:
 * the OpenAI Batch API's input format, which vLLM `run-batch` reads unchanged. The bodies are what the live
 * path sends. Answer them anywhere, then read the results back with `ingestBatchResults`.
 */
export async function writeBatchRequests(options: WriteRequestsOptions): Promise<WriteRequestsSummary> {
  assertUniqueIds(options.problems);
  const samplesPerProblem = options.samplesPerProblem ?? 1;
  const done = options.out ? (await readDoneKeys(options.out)).keys : new Set<string>();
  const plan = planBatchRequests({
    teacher: options.teacher,
    problems: options.problems,
    mode: options.mode ?? 'socratic',
    samplesPerProblem,
    ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
    skip: (id, i) => done.has(batchCustomId(id, i)),
  });
  await writeFileAtomic(options.path, requestFileText(plan));
  return { path: options.path, requests: plan.length, alreadyDone: options.problems.length * samplesPerProblem - plan.length };
}

export interface IngestOptions {
  teacher: BatchableTeacher;
  /** The problems the requests were written for (the same selection). */
  problems: readonly Problem[];
  /** A results file in the Batch API / vLLM `run-batch` output format. */
  results: string;
  /** Append-only chains file, as `generateChains` writes it. */
  out: string;
  mode?: TeacherMode;
  samplesPerProblem?: number;
  /** Default `<out>.failures.json`. */
  failuresPath?: string;
  pricing?: Pricing | PricingWithSource;
}

export interface IngestSummary {
  out: string;
  results: string;
  failuresPath: string;
  /** Result lines read (a torn last line not counted). */
  linesRead: number;
  chainsWritten: number;
  /** Failed lines, with their error (also in the failures file). */
  failed: BatchLineFailure[];
  /** Lines for samples already in `out`: ingesting a file twice writes nothing twice. */
  duplicates: number;
  /** Lines whose custom_id matches no request of these problems and samples: skipped. */
  unknown: UnknownResult[];
  /** A last line cut off mid-record (the engine is still writing, or crashed): skipped, and reported. */
  truncatedTail: { line: number; bytes: number } | undefined;
  /** (problem, sample) pairs still without a chain. */
  missing: number;
  /** Tokens of the lines ingested now (known, not duplicates), as their response bodies report them. */
  usage: TokenUsage;
  costUSD: number | null;
  pricing: PricingWithSource | undefined;
  repairedTruncatedBytes: number;
}

/** OpenAI answers `gpt-4o-mini` requests as `gpt-4o-mini-2024-07-18`: a dated variant is the same model. */
function sameModel(requested: string, answered: string): boolean {
  return answered === requested || answered.startsWith(`${requested}-`);
}

/**
 * Read an engine's result lines (the OpenAI Batch API's output and error files, vLLM `run-batch` output, or Ray
 * Data rows written in that format) into chains, exactly as the live path builds them: the teacher reads each
 * reply, the library adds the provenance. Samples already in `out` are skipped, so ingesting twice adds nothing;
 * lines with unknown custom_ids are reported and skipped; a torn last line is reported with its line number.
 * A bad line before the end stops with a DatasetFormatError naming it, before anything is written.
 */
export async function ingestBatchResults(options: IngestOptions): Promise<IngestSummary> {
  assertUniqueIds(options.problems);
  const { teacher, out, results } = options;
  const mode = options.mode ?? 'socratic';
  const failuresPath = options.failuresPath ?? `${out}.failures.json`;
  const read = parseJsonl(await readFile(results), BatchResultLineSchema, results);
  const unlock = await lockOutput(out);
  try {
    const done = await readDoneKeys(out);
    const plan = new Map(planBatchRequests({ teacher, problems: options.problems, mode, samplesPerProblem: options.samplesPerProblem ?? 1 }).map((p) => [p.customId, p]));
    const numbered = read.records.map((record, i) => ({ record, line: read.lineNumbers[i]!, file: results }));
    const got = collectResults(teacher, mode, plan, numbered, done.keys);
    const foreign = [...got.models.keys()].filter((m) => !sameModel(teacher.model, m));
    if (foreign.length > 0) {
      // The chains would name the wrong model: refuse before writing, and say which one answered.
      throw new InvalidOptionError('model', `must name the model that answered: ${results} has replies from '${foreign.join("', '")}', but the teacher's model is '${teacher.model}'`);
    }
    await appendChains(out, got.chains);
    const written = new Set([...done.keys, ...got.chains.map((c) => batchCustomId(c.problemId, c.teacher.sampleIndex))]);
    await writeFailures(failuresPath, out, got.failures, (id) => written.has(id) || !plan.has(id));
    const pricing = options.pricing && { ...options.pricing, source: 'source' in options.pricing ? options.pricing.source : 'given by the caller' };
    return {
      out,
      results,
      failuresPath,
      linesRead: read.records.length,
      chainsWritten: got.chains.length,
      failed: got.failures,
      duplicates: got.duplicates,
      unknown: got.unknown,
      truncatedTail: read.truncatedTail,
      missing: [...plan.keys()].filter((id) => !written.has(id)).length,
      usage: got.usageNew,
      costUSD: costOf(got.usageNew, pricing),
      pricing,
      repairedTruncatedBytes: done.repairedTruncatedBytes,
    };
  } finally {
    await unlock();
  }
}
