import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { TokenUsageSchema } from '../data/schema.js';
import { DatasetFormatError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { BATCH_JOB_STATUSES } from '../teacher/batch.js';

/**
 * The batch a chains file is waiting for, recorded next to it (`<out>.batch.json`, written atomically) after each
 * step, so a run killed at any point resumes that batch instead of submitting another:
 * planned (request file written) → uploaded (`inputFileId`) → submitted (`batchId`) → ingested (moved to `history`).
 */
export const BatchJobRecordSchema = z.object({
  /** Random; names the uploaded file and tags the batch, so a run killed before recording an id can find it. */
  token: z.string().min(1),
  /** The uploaded file's name at the provider. */
  fileName: z.string().min(1),
  /** The request lines, next to the chains file. */
  requestFile: z.string().min(1),
  requests: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  model: z.string(),
  mode: z.enum(['socratic', 'cot']),
  samplesPerProblem: z.number().int().positive(),
  /** Unix seconds when the run planned it: list calls that look for a lost upload or batch stop before this. */
  createdAt: z.number(),
  inputFileId: z.string().optional(),
  batchId: z.string().optional(),
  /** The last status seen. */
  status: z.enum(BATCH_JOB_STATUSES).optional(),
});
export type BatchJobRecord = z.infer<typeof BatchJobRecordSchema>;

/** A batch whose results were read into the chains file (or that failed as a whole): billed once, here. */
export const BatchHistoryEntrySchema = z.object({
  batchId: z.string(),
  status: z.enum(BATCH_JOB_STATUSES),
  requests: z.number().int().nonnegative(),
  chainsWritten: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  /** Every response body's usage in the batch's output and error files. */
  usage: TokenUsageSchema,
  finishedAt: z.string(),
});
export type BatchHistoryEntry = z.infer<typeof BatchHistoryEntrySchema>;

export const BatchStateSchema = z.object({
  version: z.literal(1),
  out: z.string(),
  current: BatchJobRecordSchema.nullable(),
  history: z.array(BatchHistoryEntrySchema),
});
export type BatchState = z.infer<typeof BatchStateSchema>;

export function batchStatePath(out: string): string {
  return `${out}.batch.json`;
}

export function batchRequestPath(out: string): string {
  return `${out}.batch-requests.jsonl`;
}

export async function readBatchState(out: string): Promise<BatchState> {
  const path = batchStatePath(out);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, out, current: null, history: [] };
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DatasetFormatError(path, undefined, `invalid JSON (${(err as Error).message}); it records the batch this chains file waits for, so it is not replaced`, undefined, { cause: err });
  }
  const parsed = BatchStateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DatasetFormatError(path, undefined, issue.message, issue.path.join('.') || '(state)');
  }
  return parsed.data;
}

export async function writeBatchState(out: string, state: BatchState): Promise<void> {
  await writeFileAtomic(batchStatePath(out), JSON.stringify(state, null, 2) + '\n');
}
