import type { ZodType } from 'zod';
import { DatasetFormatError } from '../errors.js';
import { formatError, type SourceRow } from './read.js';

export type OnInvalid = 'error' | 'skip';

/** Applies the caller's onInvalid policy: throw on the first bad row, or skip it and keep the error. */
export class RowPolicy {
  readonly skipped: DatasetFormatError[] = [];
  constructor(private readonly onInvalid: OnInvalid) {}

  /** How a JSONL reader should treat a line of broken JSON under this policy. */
  get badLines(): 'throw' | 'keep' {
    return this.onInvalid === 'skip' ? 'keep' : 'throw';
  }

  /** Validate and convert each row; bad rows throw or are recorded as skipped. */
  convert<Raw, Out>(file: string, rows: readonly SourceRow[], schema: ZodType<Raw>, build: (raw: Raw, row: SourceRow) => Out): Out[] {
    const out: Out[] = [];
    for (const row of rows) {
      try {
        if (row.error) throw row.error;
        const parsed = schema.safeParse(row.value);
        if (!parsed.success) throw formatError(file, row.line, parsed.error);
        out.push(build(parsed.data, row));
      } catch (err) {
        if (!(err instanceof DatasetFormatError) || this.onInvalid === 'error') throw err;
        this.skipped.push(err);
      }
    }
    return out;
  }
}
