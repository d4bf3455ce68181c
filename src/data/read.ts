import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import type { ZodError } from 'zod';
import { DatasetFormatError } from '../errors.js';

/** Read a text file, gunzipping it when it is gzip (by magic bytes, whatever its name). */
export async function readTextFile(path: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DatasetFormatError(path, undefined, code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(err)})`, undefined, { cause: err });
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (err) {
      throw new DatasetFormatError(path, undefined, 'corrupt or truncated gzip data', undefined, { cause: err });
    }
  }
  return buf.toString('utf8');
}

/** A raw record with the 1-based line it starts on. */
export interface SourceRow {
  line: number;
  value: unknown;
  /** Set (and `value` undefined) when the line is not JSON and the caller asked to keep going. */
  error?: DatasetFormatError;
}

/**
 * Parse JSON Lines; blank lines are ignored, a bad line names its number. With `badLines: 'keep'` a
 * line of broken JSON becomes a row carrying its error instead of throwing, so a skipping loader can
 * count it and later rows keep their positions.
 */
export function parseJsonLines(text: string, file: string, badLines: 'throw' | 'keep' = 'throw'): SourceRow[] {
  const rows: SourceRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.length === 0) continue;
    try {
      rows.push({ line: i + 1, value: JSON.parse(line) });
    } catch (err) {
      const error = new DatasetFormatError(file, i + 1, `invalid JSON (${(err as Error).message})`, undefined, { cause: err });
      if (badLines === 'throw') throw error;
      rows.push({ line: i + 1, value: undefined, error });
    }
  }
  return rows;
}

/** Line numbers where each top-level array element starts, found by a string-aware bracket scan. */
function elementLines(text: string): number[] {
  const lines: number[] = [];
  let depth = 0;
  let line = 1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') line++;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      if (depth === 1) lines.push(line);
      inString = true;
    } else if (ch === '[' || ch === '{') {
      if (depth === 1) lines.push(line);
      depth++;
    } else if (ch === ']' || ch === '}') {
      depth--;
    } else if (depth === 1 && /[-0-9tfn]/.test(ch!) && !/[-0-9.eE+a-z]/.test(text[i - 1] ?? '')) {
      lines.push(line);
    }
  }
  return lines;
}

/** Parse a JSON array file into rows with the line each element starts on. */
export function parseJsonArray(text: string, file: string): SourceRow[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DatasetFormatError(file, undefined, `invalid JSON (${(err as Error).message})`, undefined, { cause: err });
  }
  if (!Array.isArray(value)) throw new DatasetFormatError(file, undefined, 'expected a JSON array of records');
  const lines = elementLines(text);
  return value.map((v, i) => ({ line: lines[i] ?? i + 1, value: v }));
}

/** Turn the first zod issue into a DatasetFormatError naming file, line and field path. */
export function formatError(file: string, line: number, error: ZodError): DatasetFormatError {
  const issue = error.issues[0]!;
  return new DatasetFormatError(file, line, issue.message, issue.path.length > 0 ? issue.path.join('.') : '(record)');
}
