import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { Problem, SocraticChain, TokenUsage } from '../data/schema.js';
import { TeacherError } from '../errors.js';
import { extractAnswer } from '../verify/answer.js';
import { parseDecomposition } from './parse.js';
import { buildMessages, promptVersion } from './prompts.js';
import { throwIfAborted, type TeacherClient, type TeacherMode, type TeacherRequestOptions } from './types.js';

export interface OpenAICompatibleTeacherOptions {
  /** Default: OPENAI_BASE_URL, else the OpenAI API. Any OpenAI-compatible server works (vLLM, Ollama, llama.cpp). */
  baseURL?: string;
  /** Default: OPENAI_API_KEY. Local servers often need none. Never logged or written anywhere. */
  apiKey?: string;
  /** Default: OPENAI_MODEL, else `gpt-4o-mini`. */
  model?: string;
  /** Per-request timeout in ms. Default 60 000. */
  timeoutMs?: number;
  maxTokens?: number;
  /** Default temperature when a request does not give one. Default 0.7. */
  temperature?: number;
}

/** Parse Retry-After (seconds or HTTP date) or retry-after-ms into milliseconds. */
export function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const v = headers?.get('retry-after');
  if (!v) return undefined;
  if (Number.isFinite(Number(v))) return Number(v) * 1000;
  const date = Date.parse(v);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

/**
 * A teacher backed by any OpenAI-compatible chat-completions server, using the
 * official SDK. Each sample is one request with the versioned few-shot prompt;
 * answers are parsed tolerantly, and an off-format answer becomes a TeacherError
 * (kind `off-format`) that the runner records, never a crash.
 */
export class OpenAICompatibleTeacher implements TeacherClient {
  readonly id = 'openai';
  readonly model: string;
  private readonly client: OpenAI;
  private readonly secret: string | undefined;
  private readonly maxTokens: number;
  private readonly temperature: number;

  constructor(options: OpenAICompatibleTeacherOptions = {}) {
    this.secret = options.apiKey ?? process.env.OPENAI_API_KEY;
    this.model = options.model ?? process.env.OPENAI_MODEL ?? 'gpt-4o-mini';
    this.maxTokens = options.maxTokens ?? 512;
    this.temperature = options.temperature ?? 0.7;
    const baseURL = options.baseURL ?? process.env.OPENAI_BASE_URL;
    this.client = new OpenAI({
      // Local servers accept any key; the SDK insists on a non-empty one.
      apiKey: this.secret ?? 'no-key',
      ...(baseURL ? { baseURL } : {}),
      timeout: options.timeoutMs ?? 60_000,
      // One retry policy: generateChains' `retry` (with Retry-After and backoff). SDK retries on top of it
      // multiplied the requests per problem (3 per attempt x 5 attempts = 15 for a persistent 500).
      maxRetries: 0,
      logLevel: 'off',
    });
  }

  /** Redacts the API key from any text that might reach a log, an error or a file. */
  private redact(text: string): string {
    return this.secret && this.secret.length >= 4 ? text.split(this.secret).join('***') : text;
  }

  private toTeacherError(err: unknown): TeacherError {
    if (err instanceof TeacherError) return err;
    const msg = this.redact(err instanceof Error ? err.message : String(err));
    if (err instanceof APIUserAbortError) return new TeacherError('aborted', 'request aborted', { retryable: false });
    if (err instanceof APIConnectionTimeoutError) return new TeacherError('timeout', `request timed out: ${msg}`, { retryable: true });
    if (err instanceof APIConnectionError) return new TeacherError('connection', `connection failed: ${msg}`, { retryable: true });
    if (err instanceof APIError && err.status !== undefined) {
      const status = err.status;
      const after = retryAfterMs(err.headers);
      if (status === 429) return new TeacherError('rate-limit', `rate limited (429): ${msg}`, { retryable: true, status, ...(after === undefined ? {} : { retryAfterMs: after }) });
      if (status >= 500 || status === 408 || status === 409) return new TeacherError('server', `server error ${status}: ${msg}`, { retryable: true, status, ...(after === undefined ? {} : { retryAfterMs: after }) });
      return new TeacherError('client', `request rejected (${status}): ${msg}`, { retryable: false, status });
    }
    // A torn or non-JSON body (proxy cut the stream, server crashed mid-write): worth another try.
    return new TeacherError('bad-response', `unreadable response: ${msg}`, { retryable: true });
  }

  private async complete(problem: Problem, mode: TeacherMode, temperature: number, signal: AbortSignal | undefined): Promise<{ text: string; usage: TokenUsage }> {
    throwIfAborted(signal);
    // The SDK never removes the abort listener it adds to a caller's signal, so a long run
    // sharing one signal would pile them up; hand it a per-request signal we unlink ourselves.
    const local = new AbortController();
    const forward = () => local.abort();
    signal?.addEventListener('abort', forward, { once: true });
    try {
      const res = await this.client.chat.completions.create(
        { model: this.model, messages: buildMessages(problem, mode), temperature, max_tokens: this.maxTokens },
        { signal: local.signal },
      );
      const text = res.choices?.[0]?.message?.content;
      if (typeof text !== 'string') throw new TeacherError('bad-response', 'response has no choices[0].message.content', { retryable: true });
      return { text, usage: { promptTokens: res.usage?.prompt_tokens ?? 0, completionTokens: res.usage?.completion_tokens ?? 0 } };
    } catch (err) {
      if (signal?.aborted) throw new TeacherError('aborted', 'request aborted', { retryable: false });
      throw this.toTeacherError(err);
    } finally {
      signal?.removeEventListener('abort', forward);
    }
  }

  async decompose(problem: Problem, options: TeacherRequestOptions = {}): Promise<SocraticChain[]> {
    return this.sample(problem, 'socratic', options);
  }

  async chainOfThought(problem: Problem, options: TeacherRequestOptions = {}): Promise<SocraticChain[]> {
    return this.sample(problem, 'cot', options);
  }

  private async sample(problem: Problem, mode: TeacherMode, options: TeacherRequestOptions): Promise<SocraticChain[]> {
    const chains: SocraticChain[] = [];
    const first = options.sampleOffset ?? 0;
    // Every reply is billed, usable or not: a failure carries the usage of all replies this call received.
    const billed: TokenUsage = { promptTokens: 0, completionTokens: 0 };
    try {
      for (let i = 0; i < (options.samples ?? 1); i++) {
        const { text, usage } = await this.complete(problem, mode, options.temperature ?? this.temperature, options.signal);
        billed.promptTokens += usage.promptTokens;
        billed.completionTokens += usage.completionTokens;
        const teacher = { adapter: this.id, model: this.model, promptVersion: promptVersion(problem.dataset, mode), sampleIndex: first + i, usage };
        if (mode === 'cot') {
          const finalAnswer = extractAnswer(text, problem.dataset, 'flexible');
          if (finalAnswer === null) throw offFormat(this.redact(text));
          chains.push({ problemId: problem.id, steps: [], finalAnswer, rationale: this.redact(text.trim()), teacher });
          continue;
        }
        const parsed = parseDecomposition(this.redact(text), problem.dataset);
        if (!parsed) throw offFormat(this.redact(text));
        chains.push({ problemId: problem.id, steps: parsed.steps, finalAnswer: parsed.finalAnswer, teacher });
      }
    } catch (err) {
      const billedAny = billed.promptTokens + billed.completionTokens > 0;
      throw err instanceof TeacherError && billedAny ? err.withUsage(billed) : err;
    }
    return chains;
  }
}

function offFormat(text: string): TeacherError {
  const preview = text.trim().slice(0, 60).replace(/\s+/g, ' ');
  return new TeacherError('off-format', `teacher answer has no recognisable steps or answer: '${preview}${text.length > 60 ? '…' : ''}'`, { retryable: false });
}
