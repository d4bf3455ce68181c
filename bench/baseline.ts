import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The PyTorch CPU figures measured on this machine (torch-cpu-baseline.md in the shared fixtures). */
export interface TorchBaseline {
  source: string;
  gemm1024?: number;
  train: Record<string, number>;
  decode: Record<string, { b1?: number; b16?: number }>;
}

const here = dirname(fileURLToPath(import.meta.url));
export const BASELINE_FILE = resolve(process.env.SOCRATIC_SHARED ?? resolve(here, '../../shared'), 'fixtures/gpt2/torch-cpu-baseline.md');

const num = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number.parseFloat(s));

/** Parses the markdown tables; figures the file does not have stay undefined (printed as n/a). */
export function loadTorchBaseline(file = BASELINE_FILE): TorchBaseline {
  const out: TorchBaseline = { source: file, train: {}, decode: {} };
  if (!existsSync(file)) return out;
  const text = readFileSync(file, 'utf8');
  out.gemm1024 = num(/^\|\s*1024\^3\s*\|\s*([\d.]+)\s*\|/m.exec(text)?.[1]);
  for (const name of ['tiny', 'gpt2-small']) {
    const row = new RegExp(`^\\|\\s*${name.replace('-', '\\-')}\\s*\\|[^|]*\\|([^|]*)\\|([^|]*)\\|([^|]*)\\|`, 'm').exec(text);
    if (!row) continue;
    const first = (cell: string | undefined): number | undefined => num(/([\d.]+)\s*tok\/s/.exec(cell ?? '')?.[1]);
    const train = first(row[1]);
    if (train !== undefined) out.train[name] = train;
    out.decode[name] = { b1: first(row[2]), b16: first(row[3]) };
  }
  return out;
}

export function baselineFileName(): string {
  return join('fixtures/gpt2', 'torch-cpu-baseline.md');
}
