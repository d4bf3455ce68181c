import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadDatasetSelection, type DatasetSelection } from '../../data/load.js';
import type { SocraticDataset } from '../../data/dataset.js';
import { InvalidOptionError } from '../../errors.js';
import { CliUsageError } from '../usage-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * node:util parseArgs refuses `--count -5` as "ambiguous" (the value looks like a flag), which hides the
 * real problem. A negative number after a string flag is its value: join them as `--count=-5` so the
 * flag's own validation reports what is wrong with it.
 */
export function joinNegativeValues(argv: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined;
    if (name && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Strict flag parsing; any mistake becomes a one-line CliUsageError. */
export function parseFlags(argv: string[], options: Options): Record<string, string | boolean | undefined> {
  try {
    const args = joinNegativeValues(argv, options);
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
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

/** The dataset named by `--dataset/--data/--split/--limit/--count`; the library's option errors are worded as flags here. */
export async function datasetFromArgs(selection: DatasetSelection): Promise<SocraticDataset> {
  try {
    return await loadDatasetSelection(selection);
  } catch (err) {
    if (!(err instanceof InvalidOptionError)) throw err;
    const requirement = err.option === 'data' ? `<path> is required for --dataset ${String(selection.dataset)}` : err.requirement;
    throw new CliUsageError(`--${err.option} ${requirement}`);
  }
}
