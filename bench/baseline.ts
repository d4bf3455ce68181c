import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The PyTorch CPU figures measured on this machine (torch-cpu-baseline.md in the shared fixtures). */
export interface TorchBaseline {
  source: string;
  /** "2026-11-28": the date the file says its figures were measured, or "undated". */
  date: string;
  /** e.g. "quiet window", "torch 2.13.0+cpu, transformers 5.18.0" (printed beside every ratio). */
  conditions: string;
  versions: string;
  /** torch's CPU capability the file states (e.g. "AVX512"): which SIMD level its figures ran with. */
  capability?: string;
  /** The machine's FP32 peak the file states, GFLOP/s (base clock, boost clock). */
  peak?: { base: number; boost: number };
  gemm1024?: number;
  train: Record<string, number>;
  decode: Record<string, { b1?: number; b16?: number }>;
}

const here = dirname(fileURLToPath(import.meta.url));
export const BASELINE_FILE = resolve(process.env.SOCRATIC_SHARED ?? resolve(here, '../../shared'), 'fixtures/gpt2/torch-cpu-baseline.md');

const num = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number.parseFloat(s));

/** Parses the markdown tables; figures the file does not have stay undefined (printed as n/a). */
export function loadTorchBaseline(file = BASELINE_FILE): TorchBaseline {
  const out: TorchBaseline = { source: file, date: 'undated', conditions: 'file missing', versions: 'n/a', train: {}, decode: {} };
  if (!existsSync(file)) return out;
  const text = readFileSync(file, 'utf8');
  // "**Measured 2026-11-28 in a quiet window** (...)": a ratio is only as good as these conditions.
  const measured = /\*\*Measured (\d{4}-\d{2}-\d{2})([^*]*)\*\*/.exec(text);
  out.date = measured?.[1] ?? 'undated';
  out.conditions = measured?.[2]?.trim() || 'conditions not stated';
  out.versions = /^(torch [^,\n]+(?:, transformers [^,\n]+)?)/m.exec(text)?.[1] ?? 'torch version not stated';
  const capability = /torch CPU capability `(\w+)`/.exec(text)?.[1];
  if (capability) out.capability = capability;
  const peak = /= ~(\d+) GFLOP\/s \(~(\d+) at/.exec(text);
  if (peak) out.peak = { base: Number(peak[1]), boost: Number(peak[2]) };
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
