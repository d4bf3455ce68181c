import { readFile, rm } from 'node:fs/promises';
import { z } from 'zod';
import { SocraticChainSchema, type SocraticChain, type TokenUsage } from '../data/schema.js';
import { writeFileAtomic } from '../io/atomic.js';
import { JsonlAppender, readJsonl, repairJsonlTail } from '../io/jsonl.js';
import type { BatchableTeacher } from '../teacher/batch.js';
import type { TeacherMode } from '../teacher/types.js';
import { batchCustomId, readResultLine, resultModel, resultUsage, type BatchLineFailure, type BatchResultLine, type PlannedRequest } from './batch-lines.js';
import { sumUsage } from './usage.js';

/** A result line with where it came from, so a rejected one can be named. */
export interface NumberedResult {
  record: BatchResultLine;
  /** 1-based line in its file. */
  line: number;
  /** The file (a path, or a provider's file id). */
  file: string;
}

/** A line whose custom_id no request of the plan has. */
export interface UnknownResult {
  file: string;
  line: number;
  customId: string;
}

export interface CollectedResults {
  /** New chains, in plan order (problem, then sample), as the live path writes them. */
  chains: SocraticChain[];
  /** Failed lines for samples not in the chains file, in plan order. */
  failures: BatchLineFailure[];
  /** Tokens the response bodies of all lines report (what the provider billed for them). */
  usageAll: TokenUsage;
  /** Tokens of the lines that were new (not already in the chains file, nor read before in these files). */
  usageNew: TokenUsage;
  /** Lines for samples already in the chains file, or repeated in these files. */
  duplicates: number;
  unknown: UnknownResult[];
  /** custom_ids with a line. */
  answered: Set<string>;
  /** Models the response bodies name, with how many lines each. */
  models: Map<string, number>;
}

/**
 * Read result lines against a plan: each known, new line becomes a chain or a failure; lines for samples already
 * in the file are counted as duplicates and add nothing, so reading the same results twice writes nothing twice.
 * A failed line that a later line of the same custom_id answers is superseded by it.
 */
export function collectResults(teacher: BatchableTeacher, mode: TeacherMode, plan: ReadonlyMap<string, PlannedRequest>, results: readonly NumberedResult[], have: ReadonlySet<string>): CollectedResults {
  const chains = new Map<string, { order: number; chain: SocraticChain }>();
  const failures = new Map<string, { order: number; failure: BatchLineFailure; usage: TokenUsage }>();
  const out: CollectedResults = {
    chains: [], failures: [], usageAll: { promptTokens: 0, completionTokens: 0 }, usageNew: { promptTokens: 0, completionTokens: 0 },
    duplicates: 0, unknown: [], answered: new Set(), models: new Map(),
  };
  for (const { record, line, file } of results) {
    const usage = resultUsage(record);
    sumUsage(out.usageAll, usage);
    const model = resultModel(record);
    if (model !== undefined) out.models.set(model, (out.models.get(model) ?? 0) + 1);
    const planned = plan.get(record.custom_id);
    if (!planned) {
      out.unknown.push({ file, line, customId: record.custom_id });
      continue;
    }
    out.answered.add(record.custom_id);
    if (have.has(record.custom_id) || chains.has(record.custom_id)) {
      out.duplicates++;
      continue;
    }
    const result = readResultLine(teacher, mode, planned, record);
    const earlier = failures.get(record.custom_id);
    if (earlier) {
      out.duplicates++;
      if (!result.chain) continue;
      failures.delete(record.custom_id);
    }
    sumUsage(out.usageNew, usage);
    if (result.chain) chains.set(record.custom_id, { order: planned.order, chain: result.chain });
    else failures.set(record.custom_id, { order: planned.order, failure: result.failure, usage });
  }
  out.chains = [...chains.values()].sort((a, b) => a.order - b.order).map((c) => c.chain);
  out.failures = [...failures.values()].sort((a, b) => a.order - b.order).map((f) => f.failure);
  return out;
}

/** The (problem, sample) keys of a chains file, after cutting a torn last line a crash left. */
export async function readDoneKeys(out: string): Promise<{ keys: Set<string>; records: SocraticChain[]; repairedTruncatedBytes: number }> {
  const existing = await readJsonl(out, SocraticChainSchema);
  await repairJsonlTail(out, existing);
  return {
    keys: new Set(existing.records.map((c) => batchCustomId(c.problemId, c.teacher.sampleIndex))),
    records: existing.records,
    repairedTruncatedBytes: existing.truncatedTail?.bytes ?? 0,
  };
}

/** Append chains in one write (a crash leaves at most a torn last line, which the next run cuts). */
export async function appendChains(out: string, chains: readonly SocraticChain[]): Promise<void> {
  if (chains.length === 0) return;
  const writer = await JsonlAppender.open(out);
  try {
    await writer.append(chains);
  } finally {
    await writer.close();
  }
}

const FailureFileSchema = z.object({
  failures: z.array(z.object({ problemId: z.string(), sampleIndex: z.number().int().optional() }).passthrough()),
});

/**
 * Rewrite the failures file: this read's failed lines, plus earlier per-sample failures that are neither answered
 * now nor done (results of other shards). Entries without a sample index (the live runner's) are dropped: every
 * run retries them anyway. Removed when nothing is left.
 */
export async function writeFailures(path: string, out: string, failures: readonly BatchLineFailure[], settled: (customId: string) => boolean): Promise<BatchLineFailure[]> {
  let earlier: BatchLineFailure[] = [];
  try {
    const parsed = FailureFileSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
    if (parsed.success) earlier = parsed.data.failures.filter((f): f is typeof f & BatchLineFailure => typeof f.sampleIndex === 'number' && typeof f.customId === 'string');
  } catch {
    // No file yet, or one that is not ours to merge: start over.
  }
  const now = new Set(failures.map((f) => f.customId));
  const kept = [...earlier.filter((f) => !now.has(f.customId) && !settled(f.customId)), ...failures];
  if (kept.length > 0) await writeFileAtomic(path, JSON.stringify({ out, failures: kept }, null, 2) + '\n');
  else await rm(path, { force: true });
  return kept;
}
