import type { ZodType, ZodTypeDef } from 'zod';
import { TeacherError } from '../errors.js';

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
 * The TeacherError for an HTTP error status: 429 and 5xx/408/409 are retryable (honouring Retry-After),
 * any other status is the request's fault and is recorded at once.
 */
export function httpTeacherError(status: number, headers: Headers | undefined, detail: string): TeacherError {
  const after = retryAfterMs(headers);
  const wait = after === undefined ? {} : { retryAfterMs: after };
  if (status === 429) return new TeacherError('rate-limit', `rate limited (429): ${detail}`, { retryable: true, status, ...wait });
  if (status >= 500 || status === 408 || status === 409) return new TeacherError('server', `server error ${status}: ${detail}`, { retryable: true, status, ...wait });
  return new TeacherError('client', `request rejected (${status}): ${detail}`, { retryable: false, status });
}

export interface PostJsonOptions {
  /** Sent as `Authorization: Bearer <apiKey>` and removed from every error message. */
  apiKey?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Per-request timeout. Default 60 000 ms. */
  timeoutMs?: number;
}

/**
 * POST a JSON body and read a JSON reply checked by `schema`, for CompletionAdapters that speak HTTP.
 * Every failure is a TeacherError the runner knows how to handle: error statuses via `httpTeacherError`,
 * a dropped connection (`connection`), the timeout (`timeout`) and an unreadable or unexpected body
 * (`bad-response`) are retryable; a caller's abort is `aborted`.
 */
export async function postJson<T>(url: string, body: unknown, schema: ZodType<T, ZodTypeDef, unknown>, options: PostJsonOptions = {}): Promise<T> {
  const { apiKey, signal } = options;
  const redact = (text: string) => (apiKey && apiKey.length >= 4 ? text.split(apiKey).join('***') : text);
  const local = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => ((timedOut = true), local.abort()), options.timeoutMs ?? 60_000);
  const forward = () => local.abort();
  signal?.addEventListener('abort', forward, { once: true });
  const fail = (err: unknown, what: string): TeacherError => {
    if (signal?.aborted) return new TeacherError('aborted', 'request aborted', { retryable: false });
    if (timedOut) return new TeacherError('timeout', `request timed out after ${options.timeoutMs ?? 60_000} ms`, { retryable: true });
    const kind = what === 'connection' ? 'connection' : 'bad-response';
    return new TeacherError(kind, redact(`${what === 'connection' ? 'connection failed' : 'unreadable response'}: ${err instanceof Error ? err.message : String(err)}`), { retryable: true });
  };
  try {
    signal?.throwIfAborted();
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...options.headers },
        body: JSON.stringify(body),
        signal: local.signal,
      });
    } catch (err) {
      throw fail(err, 'connection');
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw httpTeacherError(res.status, res.headers, redact(text.trim().slice(0, 300) || res.statusText));
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch (err) {
      throw fail(err, 'body');
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TeacherError('bad-response', `unexpected response: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'schema mismatch'}`, { retryable: true });
    }
    return parsed.data;
  } catch (err) {
    if (err instanceof TeacherError) throw err;
    throw fail(err, 'connection');
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', forward);
  }
}
