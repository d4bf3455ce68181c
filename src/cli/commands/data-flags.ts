import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliUsageError } from '../../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Strict flag parsing; any mistake becomes a one-line CliUsageError. */
export function parseFlags(argv: string[], options: Options): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new CliUsageError((err as Error).message.split('\n')[0]!.replace(/\. To specify a positional.*$/, ''));
  }
}

export function intFlag(values: Record<string, unknown>, name: string, min = 0): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new CliUsageError(`--${name} must be an integer >= ${min}, got '${String(v)}'`);
  return n;
}

export function numberFlag(values: Record<string, unknown>, name: string, min = 0, max = Infinity): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new CliUsageError(`--${name} must be a number in [${min}, ${max}], got '${String(v)}'`);
  return n;
}

export function stringFlag(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}
