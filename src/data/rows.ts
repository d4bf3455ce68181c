import type { ZodType } from 'zod';
import { DatasetFormatError } from '../errors.js';
import { formatError, type SourceRow } from './read.js';

export type OnInvalid = 'error' | 'skip';

/**
 * Applies the caller's onInvalid policy: `error` throws one DatasetFormatError listing every bad row of the
 * file (so it can be fixed in one pass), `skip` leaves bad rows out and keeps their errors.
 */
export class RowPolicy {
  readonly skipped: DatasetFormatError[] = [];
  constructor(private readonly onInvalid: OnInvalid) {}

  /** JSONL readers keep a line of broken JSON as a row carrying its error, so it is reported with the others. */
  get badLines(): 'throw' | 'keep' {
    return 'keep';
  }

  /** Validate and convert each row; bad rows are collected, then thrown together or recorded as skipped. */
  convert<Raw, Out>(file: string, rows: readonly SourceRow[], schema: ZodType<Raw>, build: (raw: Raw, row: SourceRow) => Out): Out[] {
    const out: Out[] = [];
    const bad: DatasetFormatError[] = [];
    for (const row of rows) {
      try {
        if (row.error) throw row.error;
        const parsed = schema.safeParse(row.value);
        if (!parsed.success) throw formatError(file, row.line, parsed.error);
        out.push(build(parsed.data, row));
      } catch (err) {
        if (!(err instanceof DatasetFormatError)) throw err;
        bad.push(err);
      }
    }
    if (bad.length > 0 && this.onInvalid === 'error') throw DatasetFormatError.ofRows(file, bad);
    this.skipped.push(...bad);
    return out;
  }
}
