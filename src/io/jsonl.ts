import { open, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { z, ZodTypeAny } from 'zod';
import { DatasetFormatError } from '../errors.js';

export interface JsonlReadResult<T> {
  records: T[];
  /** The 1-based line of each record, so a caller can name the line of a record it rejects. */
  lineNumbers: number[];
  /** Byte length of the well-formed prefix (everything but a torn last line). */
  validBytes: number;
  /** Set when the last line was cut off mid-record (a crash during append). */
  truncatedTail: { line: number; bytes: number } | undefined;
  /** True when the file ends with a complete record but no final newline. */
  missingFinalNewline: boolean;
}

/**
 * Read an append-only JSONL file. A torn last line (no trailing newline and not
 * parseable) is reported, not thrown, because that is what a crash mid-append
 * leaves; bad lines anywhere else are corruption: one DatasetFormatError lists them all with their line numbers.
 */
export async function readJsonl<S extends ZodTypeAny>(path: string, schema: S): Promise<JsonlReadResult<z.output<S>>> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], lineNumbers: [], validBytes: 0, truncatedTail: undefined, missingFinalNewline: false };
    throw err;
  }
  return parseJsonl(buf, schema, path);
}

/**
 * `readJsonl` on bytes already in memory (a downloaded file): the same torn-tail rule, and `name` (a path or
 * a remote file's id) in the DatasetFormatError of a bad line before the end.
 */
export function parseJsonl<S extends ZodTypeAny>(buf: Buffer, schema: S, name: string): JsonlReadResult<z.output<S>> {
  type T = z.output<S>;
  const records: T[] = [];
  const lineNumbers: number[] = [];
  // Every bad line is reported at once (DatasetFormatError.ofRows), so the file can be fixed in one pass.
  const bad: DatasetFormatError[] = [];
  const torn = (line: number, offset: number): JsonlReadResult<T> => {
    if (bad.length > 0) throw DatasetFormatError.ofRows(name, bad);
    return { records, lineNumbers, validBytes: offset, truncatedTail: { line, bytes: buf.length - offset }, missingFinalNewline: false };
  };
  let offset = 0;
  let line = 0;
  while (offset < buf.length) {
    line++;
    const nl = buf.indexOf(0x0a, offset);
    const end = nl === -1 ? buf.length : nl;
    const text = buf.subarray(offset, end).toString('utf8').trim();
    const isTail = nl === -1;
    if (text.length > 0) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        if (isTail) return torn(line, offset);
        bad.push(new DatasetFormatError(name, line, `invalid JSON (${(err as Error).message})`, undefined, { cause: err }));
        offset = nl + 1;
        continue;
      }
      const parsed = schema.safeParse(value);
      if (!parsed.success) {
        if (isTail) return torn(line, offset);
        const issue = parsed.error.issues[0]!;
        bad.push(new DatasetFormatError(name, line, issue.message, issue.path.join('.') || '(record)'));
      } else {
        records.push(parsed.data);
        lineNumbers.push(line);
      }
    }
    offset = isTail ? buf.length : nl + 1;
  }
  if (bad.length > 0) throw DatasetFormatError.ofRows(name, bad);
  const missingFinalNewline = buf.length > 0 && buf[buf.length - 1] !== 0x0a;
  return { records, lineNumbers, validBytes: buf.length, truncatedTail: undefined, missingFinalNewline };
}

/** Cut a torn tail off (or add the missing newline) so appends start on a fresh line. */
export async function repairJsonlTail(path: string, read: JsonlReadResult<unknown>): Promise<void> {
  if (read.truncatedTail) await truncate(path, read.validBytes);
  else if (read.missingFinalNewline) {
    const fh = await open(path, 'a');
    try {
      await fh.write('\n');
    } finally {
      await fh.close();
    }
  }
}

/**
 * Appends records as JSON lines. Each `append` is one write of whole lines, and
 * calls are serialised, so concurrent producers never interleave within a line.
 */
export class JsonlAppender {
  private chain: Promise<void> = Promise.resolve();
  private constructor(private readonly fh: FileHandle) {}

  static async open(path: string): Promise<JsonlAppender> {
    await mkdir(dirname(path), { recursive: true });
    return new JsonlAppender(await open(path, 'a'));
  }

  append(records: readonly unknown[]): Promise<void> {
    const text = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    const next = this.chain.then(async () => {
      await this.fh.write(text);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.fh.close();
  }
}

