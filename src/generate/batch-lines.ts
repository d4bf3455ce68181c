import { ZodError, z } from 'zod';
import { SocraticChainSchema, type Problem, type SocraticChain, type TokenUsage } from '../data/schema.js';
import { TeacherError } from '../errors.js';
import type { BatchableTeacher } from '../teacher/batch.js';
import { chainFromSample } from '../teacher/sampling.js';
import type { TeacherMode } from '../teacher/types.js';
import type { GenerationFailure } from './runner.js';

/** The one endpoint batch request lines go to. */
export const BATCH_ENDPOINT = '/v1/chat/completions';

/**
 * One request line of a batch input file: the OpenAI Batch API's format, which vLLM `run-batch` reads unchanged.
 * `body` is exactly what the live path sends for the same (problem, sample).
 */
export const BatchRequestLineSchema = z.object({
  custom_id: z.string().min(1),
  method: z.literal('POST'),
  url: z.literal(BATCH_ENDPOINT),
  body: z.object({
    model: z.string().min(1),
    messages: z.array(z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() })).min(1),
    temperature: z.number(),
    max_tokens: z.number().int().positive(),
  }),
});
export type BatchRequestLine = z.infer<typeof BatchRequestLineSchema>;

/**
 * One line of a batch output or error file, as the OpenAI Batch API and vLLM `run-batch` write it:
 * `response` holds the HTTP status and the chat-completion body; `error` is an object (OpenAI, newer vLLM)
 * or a string (vLLM) when the request failed.
 */
export const BatchResultLineSchema = z.object({
  id: z.string().nullish(),
  custom_id: z.string().min(1),
  response: z
    .object({
      status_code: z.number().int(),
      request_id: z.string().nullish(),
      body: z.unknown().optional(),
    })
    .nullish(),
  error: z.unknown().optional(),
});
export type BatchResultLine = z.infer<typeof BatchResultLineSchema>;

/** The parts of a chat-completion body a result is read from. */
const ChatReplySchema = z.object({
  model: z.string().nullish(),
  choices: z.array(z.object({ message: z.object({ content: z.string().nullish() }).passthrough() }).passthrough()),
  usage: z
    .object({ prompt_tokens: z.number().int().nonnegative().nullish(), completion_tokens: z.number().int().nonnegative().nullish() })
    .passthrough()
    .nullish(),
});
const UsageOnlySchema = z.object({ usage: ChatReplySchema.shape.usage });

/** `custom_id` of a (problem, sample): the problem id, `#`, the sample index. */
export function batchCustomId(problemId: string, sampleIndex: number): string {
  return `${problemId}#${sampleIndex}`;
}

/** A failed result line: the runner's failure record, plus which sample and line it was. */
export interface BatchLineFailure extends GenerationFailure {
  sampleIndex: number;
  customId: string;
  /** HTTP status of the failed request, when the line has one. */
  status?: number;
}

export interface PlannedRequest {
  customId: string;
  problem: Problem;
  sampleIndex: number;
  /** Position in the plan: chains are written in this order, as the live path writes them. */
  order: number;
  line: BatchRequestLine;
}

export interface PlanOptions {
  teacher: BatchableTeacher;
  problems: readonly Problem[];
  mode: TeacherMode;
  samplesPerProblem: number;
  temperature?: number;
  /** Leave out samples already done (in the chains file). */
  skip?: (problemId: string, sampleIndex: number) => boolean;
}

/** One request line per (problem, sample), in problem order then sample order. */
export function planBatchRequests(options: PlanOptions): PlannedRequest[] {
  const plan: PlannedRequest[] = [];
  let order = 0;
  for (const problem of options.problems) {
    for (let sampleIndex = 0; sampleIndex < options.samplesPerProblem; sampleIndex++, order++) {
      if (options.skip?.(problem.id, sampleIndex)) continue;
      const body = options.teacher.chatRequest(problem, { mode: options.mode, ...(options.temperature === undefined ? {} : { temperature: options.temperature }) });
      const customId = batchCustomId(problem.id, sampleIndex);
      plan.push({ customId, problem, sampleIndex, order, line: { custom_id: customId, method: 'POST', url: BATCH_ENDPOINT, body } });
    }
  }
  return plan;
}

/** Request lines as JSONL, one per line, newline-terminated. */
export function requestFileText(plan: readonly PlannedRequest[]): string {
  return plan.map((p) => JSON.stringify(p.line)).join('\n') + (plan.length > 0 ? '\n' : '');
}

function usageOf(body: unknown): TokenUsage {
  const u = UsageOnlySchema.safeParse(body);
  const usage = u.success ? u.data.usage : undefined;
  return { promptTokens: usage?.prompt_tokens ?? 0, completionTokens: usage?.completion_tokens ?? 0 };
}

/** The tokens a result line's response body says were billed (zero when it carries no usage). */
export function resultUsage(line: BatchResultLine): TokenUsage {
  return usageOf(line.response?.body);
}

/** The model that answered, as the response body names it. */
export function resultModel(line: BatchResultLine): string | undefined {
  const parsed = ChatReplySchema.safeParse(line.response?.body);
  return parsed.success ? (parsed.data.model ?? undefined) : undefined;
}

function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}

/** The error text of a failed line: OpenAI `{code, message}`, vLLM's string or `{error: {message}}`, or the body's error. */
function errorOf(line: BatchResultLine): { code: string | undefined; message: string } {
  const candidates = [line.error, field(line.error, 'error'), field(line.response?.body, 'error')];
  for (const c of candidates) {
    if (typeof c === 'string' && c.length > 0) return { code: undefined, message: c };
    const message = field(c, 'message');
    if (typeof message === 'string') {
      const code = field(c, 'code');
      return { code: typeof code === 'string' ? code : typeof code === 'number' ? String(code) : undefined, message };
    }
  }
  const status = line.response?.status_code;
  return { code: undefined, message: status === undefined ? 'no response and no error given' : `HTTP ${status} with no error message` };
}

/** Failure kinds as the live path names them, plus the two a batch adds: requests it never ran. */
function failureKind(code: string | undefined, status: number | undefined): string {
  if (code === 'batch_expired') return 'expired';
  if (code === 'batch_cancelled') return 'cancelled';
  if (status === 429) return 'rate-limit';
  if (status !== undefined && (status >= 500 || status === 408 || status === 409)) return 'server';
  if (status !== undefined && status >= 400) return 'client';
  return 'server';
}

export type ResultOutcome = { chain: SocraticChain; failure?: undefined } | { chain?: undefined; failure: BatchLineFailure };

/**
 * A result line read into a chain exactly as the live path builds one (the teacher reads the reply, the library
 * adds the provenance, the chain schema checks it), or into a failure that says why.
 */
export function readResultLine(teacher: BatchableTeacher, mode: TeacherMode, planned: PlannedRequest, line: BatchResultLine): ResultOutcome {
  const { problem, sampleIndex, customId } = planned;
  const fail = (kind: string, reason: string, status?: number): ResultOutcome => ({
    // A rejected request (4xx) fails the same way when resubmitted; every other failure may pass next run.
    failure: { problemId: problem.id, sampleIndex, customId, kind, reason, attempts: 1, retryable: kind !== 'client', ...(status === undefined ? {} : { status }) },
  });
  const status = line.response?.status_code;
  if (status !== 200 || line.error) {
    const e = errorOf(line);
    return fail(failureKind(e.code, status), `${e.code ? `${e.code}: ` : ''}${e.message}`.split('\n')[0]!, status);
  }
  const reply = ChatReplySchema.safeParse(line.response?.body);
  if (!reply.success) return fail('bad-response', 'response body is not a chat completion', status);
  const text = reply.data.choices[0]?.message.content;
  if (typeof text !== 'string') return fail('bad-response', 'response has no choices[0].message.content', status);
  try {
    const sample = teacher.readReply(problem, mode, text, usageOf(line.response?.body));
    return { chain: SocraticChainSchema.parse(chainFromSample(teacher.id, problem, sampleIndex, sample)) };
  } catch (err) {
    if (err instanceof TeacherError) return fail(err.kind, err.message.split('\n')[0]!, status);
    if (err instanceof ZodError) {
      const issue = err.issues[0];
      return fail('client', `teacher returned a malformed chain: ${issue ? `${issue.path.join('.') || '(chain)'}: ${issue.message}` : err.message}`, status);
    }
    throw err;
  }
}
