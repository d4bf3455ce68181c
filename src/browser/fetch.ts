import { ModelFetchError } from '../errors.js';

/** `fetch` as the loaders call it; pass your own to add auth headers, caching or progress. */
export type FetchLike = (url: string) => Promise<Response>;

export interface FetchOptions {
  fetch?: FetchLike;
  /** Called while a large file downloads: bytes so far, and the total when the server sent Content-Length. */
  onProgress?: (url: string, loaded: number, total: number | undefined) => void;
}

async function request(url: string, options: FetchOptions): Promise<Response> {
  const doFetch = options.fetch ?? ((u: string) => fetch(u));
  let res: Response;
  try {
    res = await doFetch(url);
  } catch (cause) {
    throw new ModelFetchError(url, `network error (${(cause as Error).message}); is the URL right and the server running?`, { cause });
  }
  if (!res.ok) {
    const hint = res.status === 404 ? ' (not found: check the model URL, or run `npm run demo` to produce the students)' : '';
    throw new ModelFetchError(url, `HTTP ${res.status} ${res.statusText}${hint}`, { status: res.status });
  }
  return res;
}

/** The whole body as bytes, streamed so progress can be reported. */
export async function fetchBytes(url: string, options: FetchOptions = {}): Promise<Uint8Array> {
  const res = await request(url, options);
  const length = Number(res.headers.get('content-length'));
  const total = Number.isFinite(length) && length > 0 ? length : undefined;
  if (!res.body || !options.onProgress) return new Uint8Array(await readBody(res, url));
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.byteLength;
      options.onProgress(url, loaded, total);
    }
  } catch (cause) {
    throw new ModelFetchError(url, `download broke off after ${loaded} bytes (${(cause as Error).message})`, { cause });
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

async function readBody(res: Response, url: string): Promise<ArrayBuffer> {
  try {
    return await res.arrayBuffer();
  } catch (cause) {
    throw new ModelFetchError(url, `download broke off (${(cause as Error).message})`, { cause });
  }
}

/** Parsed JSON, or undefined for a 404 when `optional`. Invalid JSON is a ModelFetchError naming the URL. */
export async function fetchJson(url: string, options: FetchOptions & { optional?: boolean } = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await request(url, options);
  } catch (err) {
    if (options.optional && err instanceof ModelFetchError && err.status === 404) return undefined;
    throw err;
  }
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch (cause) {
    const start = text.slice(0, 40).replace(/\s+/g, ' ');
    throw new ModelFetchError(url, `not valid JSON (${(cause as Error).message}); the response starts with "${start}"`, { cause });
  }
}

/** The body as text, or undefined for a 404 (a side file the model does not have). */
export async function fetchText(url: string, options: FetchOptions = {}): Promise<string | undefined> {
  let res: Response;
  try {
    res = await request(url, options);
  } catch (err) {
    if (err instanceof ModelFetchError && err.status === 404) return undefined;
    throw err;
  }
  try {
    return await res.text();
  } catch (cause) {
    throw new ModelFetchError(url, `download broke off (${(cause as Error).message})`, { cause });
  }
}

/** `base` joined with a relative file name; a base without a trailing slash is treated as a directory. */
export function joinUrl(base: string, file: string): string {
  return `${base.endsWith('/') ? base : `${base}/`}${file}`;
}
