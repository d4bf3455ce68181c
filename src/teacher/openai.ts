import type OpenAI from 'openai';
import type { Problem } from '../data/schema.js';
import { TeacherError } from '../errors.js';
import { importOptional } from '../util/optional.js';
import type { BatchableTeacher, BatchProvider, ChatCompletionRequest } from './batch.js';
import { CompletionTeacher, type Completion, type CompletionAdapter, type CompletionOptions } from './completion.js';
import { httpTeacherError } from './http.js';
import { OpenAIBatchProvider } from './openai-batch.js';
import { buildMessages, type ChatMessage } from './prompts.js';
import type { SampleRequest } from './types.js';

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

type OpenAIModule = typeof import('openai');

/** The loaded SDK and a client, shared by the chat requests and the batch endpoints of one adapter. */
export interface OpenAIConnection {
  load(): Promise<{ api: OpenAIModule; client: OpenAI }>;
  /** Removes the API key from a text that might reach a log, an error or a file. */
  redact(text: string): string;
  toTeacherError(api: OpenAIModule, err: unknown): TeacherError;
}

/**
 * Chat completions through the official `openai` SDK, an optional peer dependency loaded on the first
 * request (a missing SDK is an OptionalDependencyError that says what to install). The API key is
 * redacted from the reply text and from every error message.
 */
export class OpenAICompatibleAdapter implements CompletionAdapter {
  readonly id = 'openai';
  readonly model: string;
  /** `max_tokens` of every request: the bound on a reply's billed completion tokens. */
  readonly maxTokens: number;
  private readonly secret: string | undefined;
  private readonly baseURL: string | undefined;
  private readonly timeoutMs: number;
  private sdk: Promise<{ api: OpenAIModule; client: OpenAI }> | undefined;

  constructor(options: OpenAICompatibleTeacherOptions = {}) {
    this.secret = options.apiKey ?? process.env.OPENAI_API_KEY;
    this.model = options.model ?? process.env.OPENAI_MODEL ?? 'gpt-4o-mini';
    this.maxTokens = options.maxTokens ?? 512;
    this.baseURL = options.baseURL ?? process.env.OPENAI_BASE_URL;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  private load(): Promise<{ api: OpenAIModule; client: OpenAI }> {
    this.sdk ??= importOptional(['openai'], 'OpenAICompatibleTeacher', () => import('openai')).then((api) => ({
      api,
      client: new api.OpenAI({
        // Local servers accept any key; the SDK insists on a non-empty one.
        apiKey: this.secret ?? 'no-key',
        ...(this.baseURL ? { baseURL: this.baseURL } : {}),
        timeout: this.timeoutMs,
        // One retry policy: generateChains' `retry` (with Retry-After and backoff). SDK retries on top of it
        // multiplied the requests per problem (3 per attempt x 5 attempts = 15 for a persistent 500).
        maxRetries: 0,
        logLevel: 'off',
      }),
    }));
    return this.sdk;
  }

  /** Redacts the API key from any text that might reach a log, an error or a file. */
  private redact(text: string): string {
    return this.secret && this.secret.length >= 4 ? text.split(this.secret).join('***') : text;
  }

  private toTeacherError(api: OpenAIModule, err: unknown): TeacherError {
    if (err instanceof TeacherError) return err;
    const msg = this.redact(err instanceof Error ? err.message : String(err));
    if (err instanceof api.APIUserAbortError) return new TeacherError('aborted', 'request aborted', { retryable: false });
    if (err instanceof api.APIConnectionTimeoutError) return new TeacherError('timeout', `request timed out: ${msg}`, { retryable: true });
    if (err instanceof api.APIConnectionError) return new TeacherError('connection', `connection failed: ${msg}`, { retryable: true });
    if (err instanceof api.APIError && err.status !== undefined) return httpTeacherError(err.status, err.headers, msg);
    // A torn or non-JSON body (proxy cut the stream, server crashed mid-write): worth another try.
    return new TeacherError('bad-response', `unreadable response: ${msg}`, { retryable: true });
  }

  /** The request body `complete` sends; batch request lines carry the same body. */
  requestBody(messages: ChatMessage[], temperature: number): ChatCompletionRequest {
    return { model: this.model, messages, temperature, max_tokens: this.maxTokens };
  }

  /** The files and batches endpoints of the same server, with the same key, SDK and redaction. */
  batchProvider(): BatchProvider {
    return new OpenAIBatchProvider({ load: () => this.load(), redact: (t) => this.redact(t), toTeacherError: (api, err) => this.toTeacherError(api, err) }, this.timeoutMs);
  }

  async complete(messages: ChatMessage[], { temperature, signal }: CompletionOptions): Promise<Completion> {
    const { api, client } = await this.load();
    // The SDK never removes the abort listener it adds to a caller's signal, so a long run
    // sharing one signal would pile them up; hand it a per-request signal we unlink ourselves.
    const local = new AbortController();
    const forward = () => local.abort();
    signal?.addEventListener('abort', forward, { once: true });
    try {
      const res = await client.chat.completions.create(this.requestBody(messages, temperature), { signal: local.signal });
      const text = res.choices?.[0]?.message?.content;
      if (typeof text !== 'string') throw new TeacherError('bad-response', 'response has no choices[0].message.content', { retryable: true });
      return { text: this.redact(text), usage: { promptTokens: res.usage?.prompt_tokens ?? 0, completionTokens: res.usage?.completion_tokens ?? 0 } };
    } catch (err) {
      if (signal?.aborted) throw new TeacherError('aborted', 'request aborted', { retryable: false });
      throw this.toTeacherError(api, err);
    } finally {
      signal?.removeEventListener('abort', forward);
    }
  }
}

/**
 * A teacher backed by any OpenAI-compatible chat-completions server: an OpenAICompatibleAdapter inside a
 * CompletionTeacher. Each sample is one request with the versioned few-shot prompt; answers are parsed
 * tolerantly, and an off-format answer becomes a TeacherError (kind `off-format`) that the runner records,
 * never a crash. It is also a BatchableTeacher: `generateChainsBatch` sends the same requests through the
 * provider's Batch API, and `writeBatchRequests` / `ingestBatchResults` hand them to an offline engine.
 */
export class OpenAICompatibleTeacher extends CompletionTeacher implements BatchableTeacher {
  declare readonly model: string;
  readonly maxTokens: number;
  private readonly openai: OpenAICompatibleAdapter;

  constructor(options: OpenAICompatibleTeacherOptions = {}) {
    const adapter = new OpenAICompatibleAdapter(options);
    super(adapter, { temperature: options.temperature ?? 0.7 });
    this.openai = adapter;
    this.maxTokens = adapter.maxTokens;
  }

  /** The chat-completions body a live `sample` call sends for this request. */
  chatRequest(problem: Problem, { mode, temperature }: Pick<SampleRequest, 'mode' | 'temperature'>): ChatCompletionRequest {
    return this.openai.requestBody(buildMessages(problem, mode), this.temperatureFor(temperature));
  }

  batchProvider(): BatchProvider {
    return this.openai.batchProvider();
  }
}
