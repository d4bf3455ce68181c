import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

export type Metric = 'train_tokens_per_s' | 'decode_tokens_per_s' | 'gemm_gflops';

/** One measured figure; printed as a table row, a JSON line and a docs/benchmarks.md row. */
export interface Figure {
  metric: Metric;
  config: string;
  backend: string;
  batch: number;
  value: number;
  baseline: number | null;
  ratio: number | null;
  /** How many timed repetitions the median is over. */
  samples: number;
  /** CPU seconds (all threads) per repetition: on a busy machine wall time / (CPU time / cores) shows how much of it we got. */
  cpuPerRep: number | null;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memGiB: number;
  flags: string;
  node: string;
}

export function machineInfo(): MachineInfo {
  let cpu = cpus()[0]?.model ?? 'unknown';
  let flags = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpu;
    const fam = /^cpu family\s*:\s*(\d+)$/m.exec(info)?.[1];
    const model = /^model\s*:\s*(\d+)$/m.exec(info)?.[1];
    if (fam && model) cpu += ` (family ${fam} model ${model})`;
    const all = /^flags\s*:\s*(.+)$/m.exec(info)?.[1]?.split(/\s+/) ?? [];
    flags = ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512_bf16'].filter((f) => all.includes(f)).join(' ');
  } catch {
    // not Linux: os.cpus() is enough
  }
  return { cpu, cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), flags, node: process.version };
}

const fmt = (x: number | null, digits = 1): string => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));

export function figureRow(f: Figure): string {
  const unit = f.metric === 'gemm_gflops' ? 'GFLOP/s' : 'tok/s';
  const what = f.metric === 'gemm_gflops' ? 'GEMM 1024^3' : f.metric === 'train_tokens_per_s' ? 'train' : 'decode';
  return `| ${what} | ${f.config} | ${f.backend} | ${f.batch} | ${fmt(f.value)} ${unit} | ${fmt(f.baseline)} | ${fmt(f.ratio, 2)}x | ${f.samples} | ${fmt(f.cpuPerRep, 2)} |`;
}

export const TABLE_HEAD =
  '| figure | config | backend | batch | value (median) | PyTorch CPU | ratio | samples | CPU s / rep |\n|---|---|---|---|---|---|---|---|---|';

export interface DocInput {
  date: string;
  machine: MachineInfo;
  backends: string[];
  figures: Figure[];
  profiles: Array<{ title: string; rows: Array<[string, number]>; stepSeconds: number }>;
  notes: string[];
  loadBefore: number[];
  loadAfter: number[];
  command: string;
}

export function renderDoc(d: DocInput): string {
  const lines = [
    '# Benchmarks',
    '',
    `Measured ${d.date} with \`${d.command}\` (bench/run.ts). Every number below was printed by that run; rerun it to refresh this file.`,
    '',
    '## Machine',
    '',
    `- CPU: ${d.machine.cpu}, ${d.machine.cores} logical cores, ${d.machine.memGiB} GiB RAM; flags: ${d.machine.flags || 'n/a'}`,
    `- Node ${d.machine.node}; backends: ${d.backends.join('; ')}`,
    `- Load average (1/5/15 min) before: ${d.loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after: ${d.loadAfter.map((x) => x.toFixed(2)).join(' / ')}` +
      ' (this is a shared 2-core VM; load above ~0.5 means other work competed for the cores and the figures are pessimistic).',
    '',
    '## Figures',
    '',
    'PyTorch column: torch 2.13 CPU on the same machine (`torch-cpu-baseline.md` in the shared fixtures); ratio = ours / torch.',
    'Training = forward + backward + clip + AdamW on random tokens (tiny 8x256, gpt2-small 4x512), tokens/s = B*T / median step time.',
    'Decode = greedy KV-cache loop, 64-token prompt, 128 new tokens, wall time including prefill, tokens/s = B*128 / median run time.',
    'CPU s / rep = process CPU time (all threads) per timed repetition; with 2 cores, a rep whose wall time is well above half of it was slowed by other load.',
    '',
    TABLE_HEAD,
    ...d.figures.map(figureRow),
    '',
  ];
  for (const p of d.profiles) {
    const total = p.rows.reduce((a, [, s]) => a + s, 0);
    lines.push(`## Where the native time goes: ${p.title}`, '', `Median step ${(p.stepSeconds * 1000).toFixed(0)} ms; per-kernel wall time per step (OpenMP regions included):`, '');
    lines.push('| kernel | ms / step | share |', '|---|---|---|');
    for (const [name, s] of p.rows) lines.push(`| ${name} | ${(s * 1000).toFixed(1)} | ${((100 * s) / total).toFixed(1)}% |`);
    lines.push('');
  }
  if (d.notes.length) lines.push('## Notes', '', ...d.notes.map((n) => `- ${n}`), '');
  lines.push(
    '## GPU (native-cuda)',
    '',
    'This bench covers the CPU backends only. The CUDA core has its own bench, `npx tsx bench/cuda.ts`, which runs PyTorch on the same GPU in the same run (see docs/cuda.md).',
    'GPU figures and the CUDA parity results are **still to be measured**: no GPU has been available to the sessions that built the CUDA core.',
    '',
  );
  return lines.join('\n');
}

export { loadavg };
