import { z } from 'zod';
import type { Problem, TokenUsage } from '../data/schema.js';
import type { ChatMessage } from './prompts.js';
import type { SampleRequest, TeacherClient, TeacherMode, TeacherSample } from './types.js';

/** The body of one chat-completions request, as the live API, the Batch API and vLLM `run-batch` take it. */
export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  temperature: number;
  max_tokens: number;
}

/**
 * A teacher whose requests can be sent elsewhere (a provider's Batch API, vLLM `run-batch`, Ray Data) and whose
 * replies it reads back itself, so a chain from a batch is the chain the live path would have written.
 */
export interface BatchableTeacher extends TeacherClient {
  readonly model: string;
  /** `max_tokens` of every request: the bound on each reply's completion tokens. */
  readonly maxTokens: number;
  /** The request a live `sample` call would send. */
  chatRequest(problem: Problem, request: Pick<SampleRequest, 'mode' | 'temperature'>): ChatCompletionRequest;
  /** A reply read into a sample, as `sample` reads a live one (an unreadable reply throws an `off-format` TeacherError). */
  readReply(problem: Problem, mode: TeacherMode, text: string, usage: TokenUsage | undefined): TeacherSample;
}

export const BATCH_JOB_STATUSES = ['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled'] as const;
export type BatchJobStatus = (typeof BATCH_JOB_STATUSES)[number];

/** Statuses after which a batch changes no more. */
export const FINAL_BATCH_STATUSES: readonly BatchJobStatus[] = ['failed', 'completed', 'expired', 'cancelled'];

/** A batch as the provider reports it (the OpenAI Batch object, narrowed to what a run reads). */
export const BatchJobSchema = z.object({
  id: z.string(),
  status: z.enum(BATCH_JOB_STATUSES),
  input_file_id: z.string(),
  output_file_id: z.string().nullish(),
  error_file_id: z.string().nullish(),
  created_at: z.number(),
  request_counts: z.object({ total: z.number().int(), completed: z.number().int(), failed: z.number().int() }).nullish(),
  errors: z
    .object({ data: z.array(z.object({ code: z.string().nullish(), message: z.string().nullish(), line: z.number().nullish(), param: z.string().nullish() })).nullish() })
    .nullish(),
  metadata: z.record(z.string()).nullish(),
});
export type BatchJob = z.infer<typeof BatchJobSchema>;

/**
 * A provider's files and batches endpoints, narrowed to what a batch run needs. Every failure is a TeacherError
 * whose `retryable` says whether the same call may be tried again; the API key never appears in one.
 * `findUpload` and `findBatch` let a run that was killed between a call and recording its answer pick up the
 * file or batch it made, instead of making a second one.
 */
export interface BatchProvider {
  readonly id: string;
  /** Removes the provider's credentials from a text (a failed line's error) before it reaches a file or a log. */
  redact(text: string): string;
  /** Uploads a JSONL file of request lines for batch use; returns its file id. */
  uploadRequests(fileName: string, content: Uint8Array, signal?: AbortSignal): Promise<string>;
  /** The id of a batch-purpose file named `fileName` created at or after `since` (unix seconds), if any. */
  findUpload(fileName: string, since: number, signal?: AbortSignal): Promise<string | undefined>;
  createBatch(inputFileId: string, metadata: Record<string, string>, signal?: AbortSignal): Promise<BatchJob>;
  /** The batch made from `inputFileId` created at or after `since` (unix seconds), if any. */
  findBatch(inputFileId: string, since: number, signal?: AbortSignal): Promise<BatchJob | undefined>;
  retrieveBatch(batchId: string, signal?: AbortSignal): Promise<BatchJob>;
  cancelBatch(batchId: string, signal?: AbortSignal): Promise<BatchJob>;
  /** A file's whole content (output and error files of a batch). */
  downloadFile(fileId: string, signal?: AbortSignal): Promise<Buffer>;
}

/** A BatchableTeacher that also reaches its provider's Batch API (OpenAICompatibleTeacher does). */
export interface BatchApiTeacher extends BatchableTeacher {
  batchProvider(): BatchProvider;
}
