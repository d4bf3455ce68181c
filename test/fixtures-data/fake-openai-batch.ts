import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Problem } from '../../src/data/schema.js';
import { LocalHttpServer } from './local-http.js';

/** What a request line of a batch can be made to do. */
export type LineFault = 'error-500' | 'off-format';

/** Points where a test can stop the client (SIGKILL it) mid-protocol. */
export type Stage = 'upload:received' | 'upload:stored' | 'batch:created' | 'batch:retrieve' | 'content:partial';

export interface FakeBatchOptions {
  problems: readonly Problem[];
  /** A fault for one request line of the Nth batch (0-based), else the gold answer. */
  lineFault?: (customId: string, batchIndex: number) => LineFault | undefined;
  /** The Nth batch fails validation with this message (at input line 1). */
  validationFailure?: (batchIndex: number) => string | undefined;
  /** The Nth batch expires after this many of its requests are done: the rest go to the error file as batch_expired. */
  expireAfter?: (batchIndex: number) => number | undefined;
  /** Serve the Nth download (0-based, over all files) cut off mid-line. */
  tearDownload?: (nth: number) => boolean;
  /** Called at each stage; return true to drop the request there (no answer, connection closed). */
  onStage?: (stage: Stage) => boolean;
  /** Answer the first request to a path starting with this with a 401 that echoes the bearer key, as some proxies do. */
  rejectFirst?: string;
  /** Status checks the Nth batch spends in each of validating, in_progress and finalizing. Default 1. */
  checksPerStatus?: (batchIndex: number) => number;
}

interface StoredFile {
  id: string;
  filename: string;
  purpose: string;
  bytes: Buffer;
  created_at: number;
}

interface StoredBatch {
  id: string;
  index: number;
  status: string;
  input_file_id: string;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  metadata: Record<string, string> | null;
  errors: { object: 'list'; data: { code: string; message: string; line: number | null; param: string | null }[] } | null;
  request_counts: { total: number; completed: number; failed: number };
  checks: number;
  /** Lines of the input file. */
  requests: { custom_id: string; body: { model: string; messages: { role: string; content: string }[] } }[];
}

export interface CallLog {
  method: string;
  path: string;
  authorization: string | undefined;
}

const USAGE = { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 };

/**
 * A loopback server implementing the OpenAI files and batches endpoints as the `openai` SDK calls them:
 * multipart upload, list/retrieve/content of files, create/list/retrieve/cancel of batches with status
 * transitions (validating → in_progress → finalizing → completed, or failed, expired, cancelling → cancelled),
 * output and error files in the Batch API's line format. Each request is answered with the problem's gold
 * decomposition, billed 100 + 20 tokens.
 */
export class FakeBatchServer extends LocalHttpServer {
  readonly files = new Map<string, StoredFile>();
  readonly batches = new Map<string, StoredBatch>();
  readonly calls: CallLog[] = [];
  /** Uploads received (including ones dropped at `upload:stored`, which the server kept). */
  uploads = 0;
  /** Tokens of every response body the server wrote into output and error files. */
  readonly billed = { prompt: 0, completion: 0 };
  private readonly byQuestion = new Map<string, Problem>();
  private downloads = 0;
  private next = 1;
  private rejected = false;

  constructor(private readonly options: FakeBatchOptions) {
    super();
    for (const p of options.problems) this.byQuestion.set(p.question, p);
  }

  protected override handlerFailed(res: ServerResponse, err: unknown): void {
    this.json(res, 500, { error: { message: String(err) } });
  }

  /** custom_ids submitted in each batch, in creation order. */
  submitted(): string[][] {
    return [...this.batches.values()].sort((a, b) => a.index - b.index).map((b) => b.requests.map((r) => r.custom_id));
  }

  private id(prefix: string): string {
    return `${prefix}-${String(this.next++).padStart(4, '0')}`;
  }

  private json(res: ServerResponse, status: number, payload: unknown): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  }

  private drop(req: IncomingMessage, stage: Stage): boolean {
    if (!this.options.onStage?.(stage)) return false;
    req.socket.destroy();
    return true;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/v1/, '');
    this.calls.push({ method: req.method ?? '', path, authorization: req.headers.authorization });
    if (this.options.rejectFirst && !this.rejected && path.startsWith(this.options.rejectFirst)) {
      this.rejected = true;
      return this.json(res, 401, { error: { message: `Incorrect API key provided: ${req.headers.authorization?.replace('Bearer ', '')}`, type: 'invalid_request_error' } });
    }
    const m = (re: RegExp) => re.exec(path);
    if (req.method === 'POST' && path === '/files') return this.upload(req, res, body);
    if (req.method === 'GET' && path === '/files') return this.list(res, url, [...this.files.values()].filter((f) => !url.searchParams.get('purpose') || f.purpose === url.searchParams.get('purpose')).map((f) => this.fileObject(f)));
    let hit = m(/^\/files\/([^/]+)\/content$/);
    if (req.method === 'GET' && hit) return this.content(req, res, hit[1]!);
    hit = m(/^\/files\/([^/]+)$/);
    if (req.method === 'GET' && hit) {
      const f = this.files.get(hit[1]!);
      return f ? this.json(res, 200, this.fileObject(f)) : this.json(res, 404, { error: { message: 'No such file' } });
    }
    if (req.method === 'POST' && path === '/batches') return this.create(req, res, JSON.parse(body.toString('utf8')) as { input_file_id: string; metadata?: Record<string, string> });
    if (req.method === 'GET' && path === '/batches') return this.list(res, url, [...this.batches.values()].map((b) => this.batchObject(b)));
    hit = m(/^\/batches\/([^/]+)\/cancel$/);
    if (req.method === 'POST' && hit) return this.cancel(res, hit[1]!);
    hit = m(/^\/batches\/([^/]+)$/);
    if (req.method === 'GET' && hit) {
      if (this.drop(req, 'batch:retrieve')) return;
      const b = this.batches.get(hit[1]!);
      if (!b) return this.json(res, 404, { error: { message: 'No such batch' } });
      this.advance(b);
      return this.json(res, 200, this.batchObject(b));
    }
    this.json(res, 404, { error: { message: `no route ${req.method} ${path}` } });
  }

  private async upload(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    if (this.drop(req, 'upload:received')) return;
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const form = await new Request('http://x/files', { method: 'POST', headers, body: new Uint8Array(body) }).formData();
    const file = form.get('file');
    if (!(file instanceof File)) return this.json(res, 400, { error: { message: 'file is required' } });
    const stored: StoredFile = { id: this.id('file'), filename: file.name, purpose: String(form.get('purpose')), bytes: Buffer.from(await file.arrayBuffer()), created_at: Math.floor(Date.now() / 1000) };
    this.files.set(stored.id, stored);
    this.uploads++;
    if (this.drop(req, 'upload:stored')) return;
    this.json(res, 200, this.fileObject(stored));
  }

  private fileObject(f: StoredFile) {
    return { id: f.id, object: 'file', bytes: f.bytes.length, created_at: f.created_at, filename: f.filename, purpose: f.purpose, status: 'processed' };
  }

  /** Newest first, `limit` per page, `after` = the last id of the previous page; as the API pages. */
  private list(res: ServerResponse, url: URL, all: { id: string; created_at: number }[]): void {
    const sorted = [...all].sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1));
    const after = url.searchParams.get('after');
    const start = after ? sorted.findIndex((x) => x.id === after) + 1 : 0;
    const limit = Number(url.searchParams.get('limit') ?? 20);
    const data = sorted.slice(start, start + limit);
    this.json(res, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: start + limit < sorted.length });
  }

  private create(req: IncomingMessage, res: ServerResponse, body: { input_file_id: string; metadata?: Record<string, string> }): void {
    const input = this.files.get(body.input_file_id);
    if (!input) return this.json(res, 400, { error: { message: `No such file: ${body.input_file_id}` } });
    const requests = input.bytes.toString('utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as StoredBatch['requests'][number]);
    const b: StoredBatch = {
      id: this.id('batch'), index: this.batches.size, status: 'validating', input_file_id: input.id, output_file_id: null, error_file_id: null,
      created_at: Math.floor(Date.now() / 1000), metadata: body.metadata ?? null, errors: null,
      request_counts: { total: 0, completed: 0, failed: 0 }, checks: 0, requests,
    };
    this.batches.set(b.id, b);
    if (this.drop(req, 'batch:created')) return;
    this.json(res, 200, this.batchObject(b));
  }

  private batchObject(b: StoredBatch) {
    return {
      id: b.id, object: 'batch', endpoint: '/v1/chat/completions', errors: b.errors, input_file_id: b.input_file_id, completion_window: '24h',
      status: b.status, output_file_id: b.output_file_id, error_file_id: b.error_file_id, created_at: b.created_at,
      in_progress_at: null, expires_at: b.created_at + 86_400, finalizing_at: null, completed_at: null, failed_at: null, expired_at: null,
      cancelling_at: null, cancelled_at: null, request_counts: b.request_counts, metadata: b.metadata,
    };
  }

  /** One status check moves a batch along: checksPerStatus checks in each of validating, in_progress, finalizing. */
  private advance(b: StoredBatch): void {
    if (['completed', 'failed', 'expired', 'cancelled'].includes(b.status)) return;
    if (b.status === 'cancelling') return this.finishBatch(b, 'cancelled', Math.floor(b.requests.length / 2));
    if (++b.checks < (this.options.checksPerStatus?.(b.index) ?? 1)) return;
    b.checks = 0;
    if (b.status === 'validating') {
      const message = this.options.validationFailure?.(b.index);
      if (message) {
        b.status = 'failed';
        b.errors = { object: 'list', data: [{ code: 'invalid_request', message, line: 1, param: 'body.model' }] };
        return;
      }
      b.status = 'in_progress';
      b.request_counts = { total: b.requests.length, completed: 0, failed: 0 };
      return;
    }
    if (b.status === 'in_progress') {
      const expireAt = this.options.expireAfter?.(b.index);
      if (expireAt !== undefined) return this.finishBatch(b, 'expired', expireAt);
      b.status = 'finalizing';
      return;
    }
    if (b.status === 'finalizing') this.finishBatch(b, 'completed', b.requests.length);
  }

  /** Answer the first `ran` requests; the rest go to the error file as batch_expired / batch_cancelled. */
  private finishBatch(b: StoredBatch, status: 'completed' | 'expired' | 'cancelled', ran: number): void {
    const output: string[] = [];
    const errors: string[] = [];
    b.requests.forEach((r, i) => {
      const lineId = `batch_req_${b.id}_${i}`;
      if (i >= ran) {
        const code = status === 'cancelled' ? 'batch_cancelled' : 'batch_expired';
        errors.push(JSON.stringify({ id: lineId, custom_id: r.custom_id, response: null, error: { code, message: 'This request could not be executed before the completion window expired.' } }));
        return;
      }
      const fault = this.options.lineFault?.(r.custom_id, b.index);
      if (fault === 'error-500') {
        errors.push(JSON.stringify({ id: lineId, custom_id: r.custom_id, response: { status_code: 500, request_id: `req_${i}`, body: { error: { message: 'The server had an error while processing your request.', type: 'server_error' } } }, error: null }));
        return;
      }
      const question = r.body.messages.at(-1)!.content.replace(/^(?:Facts: .*\n)?Question: /s, '');
      const problem = this.byQuestion.get(question);
      const content = fault === 'off-format' || !problem ? 'I am not sure, sorry.' : solution(problem);
      this.billed.prompt += USAGE.prompt_tokens;
      this.billed.completion += USAGE.completion_tokens;
      output.push(JSON.stringify({
        id: lineId, custom_id: r.custom_id,
        response: { status_code: 200, request_id: `req_${i}`, body: {
          id: `chatcmpl-${i}`, object: 'chat.completion', created: b.created_at, model: `${r.body.model}-2024-07-18`,
          choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
          usage: USAGE, system_fingerprint: 'fp_fake',
        } },
        error: null,
      }));
    });
    const store = (lines: string[], kind: string) => {
      if (lines.length === 0) return null;
      const f: StoredFile = { id: this.id('file'), filename: `${b.id}_${kind}.jsonl`, purpose: 'batch_output', bytes: Buffer.from(lines.join('\n') + '\n'), created_at: Math.floor(Date.now() / 1000) };
      this.files.set(f.id, f);
      return f.id;
    };
    b.output_file_id = store(output, 'output');
    b.error_file_id = store(errors, 'error');
    b.request_counts = { total: b.requests.length, completed: output.length, failed: errors.length };
    b.status = status;
  }

  private cancel(res: ServerResponse, id: string): void {
    const b = this.batches.get(id);
    if (!b) return this.json(res, 404, { error: { message: 'No such batch' } });
    if (['validating', 'in_progress', 'finalizing'].includes(b.status)) b.status = 'cancelling';
    this.json(res, 200, this.batchObject(b));
  }

  private content(req: IncomingMessage, res: ServerResponse, id: string): void {
    const f = this.files.get(id);
    if (!f) return this.json(res, 404, { error: { message: 'No such file' } });
    const nth = this.downloads++;
    if (this.options.tearDownload?.(nth)) {
      // A body cut mid-line that still ends like a complete response (a proxy that closed the stream cleanly).
      const cut = f.bytes.lastIndexOf(0x0a, Math.floor(f.bytes.length * 0.6)) + 6;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return void res.end(f.bytes.subarray(0, cut));
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(f.bytes.length) });
    res.write(f.bytes.subarray(0, Math.floor(f.bytes.length / 2)));
    if (this.drop(req, 'content:partial')) return;
    res.end(f.bytes.subarray(Math.floor(f.bytes.length / 2)));
  }
}

export function solution(problem: Problem): string {
  const steps = (problem.meta?.goldSteps ?? []) as { subquestion: string; solution: string }[];
  return [...steps.flatMap((s, i) => [`Q${i + 1}: ${s.subquestion}`, `A${i + 1}: ${s.solution}`]), `Final answer: ${String(problem.answer)}`].join('\n');
}
