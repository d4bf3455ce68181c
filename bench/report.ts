import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { archDims, type ModelConfig } from '../src/arch/config.js';

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
  /** Where `baseline` comes from: the baseline file's date and conditions, printed beside the ratio. */
  baselineFrom: string;
  /** PyTorch measured in this same run (TORCH_PY, bench/torch_cpu.py), and ours / it. */
  sameRun: number | null;
  sameRatio: number | null;
  /** 1-minute load average right after this figure was measured. */
  load: number;
  /** Training only: achieved GFLOP/s (model FLOPs, see trainFlopsPerToken) as a fraction of the FP32 peak (base, boost clock). */
  peakFraction: [number, number] | null;
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
  const peak = f.peakFraction ? `${(100 * f.peakFraction[0]).toFixed(0)}% / ${(100 * f.peakFraction[1]).toFixed(0)}%` : '';
  return `| ${what} | ${f.config} | ${f.backend} | ${f.batch} | ${fmt(f.value)} ${unit} | ${fmt(f.baseline)} | ${f.ratio === null ? 'n/a' : `${fmt(f.ratio, 2)}x`} | ${f.baselineFrom} | ${fmt(f.sameRun)} | ${f.sameRatio === null ? 'n/a' : `${fmt(f.sameRatio, 2)}x`} | ${peak} | ${f.samples} | ${fmt(f.cpuPerRep, 2)} | ${f.load.toFixed(2)} |`;
}

/** docs/benchmarks.md: everything from this line on is hand-written (links to the history, the GPU figures) and kept when the bench rewrites the file. */
export const KEEP_MARKER = '<!-- everything below is kept by bench/run.ts when it rewrites this file -->';

export const TABLE_HEAD =
  '| figure | config | backend | batch | value (median) | PyTorch (file) | ratio | baseline file measured | PyTorch (same run) | ratio | FP32 peak (base / boost) | samples | CPU s / rep | load 1m |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|';

/** Issue #13 targets for the built-in sgemm (native-builtin), against the baseline file and the same-run PyTorch. */
function targets(figures: Figure[]): string[] {
  const want: Array<[string, Metric, string, number, number]> = [
    ['GEMM 1024^3 >= 0.9x torch.mm', 'gemm_gflops', '1024^3', 1, 0.9],
    ['tiny training >= 1.5x PyTorch', 'train_tokens_per_s', 'tiny', 8, 1.5],
    ['tiny decode batch 1 >= 1.8x HF generate', 'decode_tokens_per_s', 'tiny', 1, 1.8],
    ['gpt2-small training >= 1.3x PyTorch', 'train_tokens_per_s', 'gpt2-small', 4, 1.3],
    // Issue #22: the baseline file has no Llama figures, so these are read against the same-run plain-PyTorch Llama.
    ['smollm2-135m training >= 1.3x PyTorch (#22)', 'train_tokens_per_s', 'smollm2-135m', 4, 1.3],
    ['smollm2-135m decode batch 1 >= 1.5x PyTorch (#22)', 'decode_tokens_per_s', 'smollm2-135m', 1, 1.5],
  ];
  const rows = want.map(([label, metric, config, batch, goal]) => {
    const match = (backend: string) => figures.find((x) => x.backend === backend && x.metric === metric && x.config === config && x.batch === batch);
    // The built-in sgemm is what the prebuilt package runs; a run of `native` alone is read from its rows, and says so.
    const f = match('native-builtin') ?? match('native');
    if (!f) return `| ${label} | not measured | | | |`;
    const verdict = (r: number | null): string => (r === null ? 'n/a' : `${r.toFixed(2)}x ${r >= goal ? 'met' : '**not met**'}`);
    return `| ${label} | ${f.backend} | ${f.value.toFixed(1)} | ${verdict(f.ratio)} | ${verdict(f.sameRatio)} |`;
  });
  return [
    '## Targets (issues #13 and #22: the `native-builtin` rows, else the `native` rows)',
    '',
    '| target | backend | value | vs baseline file | vs same-run PyTorch |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ];
}

/**
 * Model FLOPs per trained token (forward + backward = 3x forward): 6 per weight of every matmul (GPT-2: 12 C^2 per
 * layer; Llama: q, k, v, o and the three SwiGLU matrices) plus the V x C head, plus the causal attention products,
 * computed in full (QK^T and PV: 4 T NH HD per layer forward, x3), as the native core does.
 */
export function trainFlopsPerToken(c: ModelConfig, T: number): number {
  const d = archDims(c);
  const C = d.hidden;
  const Q = d.heads * d.headDim;
  const KV = d.kvHeads * d.headDim;
  const perLayer = d.arch === 'gpt2' ? 12 * C * C : C * Q + 2 * C * KV + Q * C + 3 * C * d.inner;
  return 6 * (perLayer * d.layers + d.vocab * C) + 12 * d.layers * T * Q;
}

export interface DocInput {
  date: string;
  /** One line: which file, its date, conditions and versions. */
  baseline: string;
  /** One line: what the same-run PyTorch column is, or why it is empty. */
  sameRun: string;
  machine: MachineInfo;
  backends: string[];
  figures: Figure[];
  profiles: Array<{ title: string; rows: Array<[string, number]>; stepSeconds: number; load: number }>;
  notes: string[];
  loadBefore: number[];
  loadAfter: number[];
  command: string;
  /** The fine-tuning section (bench/finetune.ts), already rendered; absent or empty when it did not run. */
  finetune?: string[];
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
      ` (the bench's own ${d.machine.cores} threads make a 1-minute load of about ${d.machine.cores} on ${d.machine.cores} cores; a load well above that means other work competed for the cores and the figures are pessimistic).`,
    '',
    '## Figures',
    '',
    `PyTorch (file): ${d.baseline}; ratio = ours / that figure.`,
    `PyTorch (same run): ${d.sameRun}`,
    'FP32 peak: model FLOPs per second (6 per matmul weight per token plus the attention products) over the machine peak the baseline file states (2 cores x 32 FLOP/cycle at the 2.6 GHz base clock / at a 3.7 GHz boost).',
    'Training = forward + backward + clip + AdamW on random tokens (tiny 8x256, gpt2-small and smollm2-135m 4x512), tokens/s = B*T / median step time. smollm2-135m is a random-init Llama of SmolLM2-135M\'s shape (bench/configs.ts).',
    'Decode = greedy KV-cache loop, 64-token prompt, 128 new tokens, wall time including prefill, tokens/s = B*128 / median run time.',
    'CPU s / rep = process CPU time (all threads) per timed repetition; with 2 cores, a rep whose wall time is well above half of it was slowed by other load.',
    '',
    TABLE_HEAD,
    ...d.figures.map(figureRow),
    '',
  ];
  for (const p of d.profiles) {
    const total = p.rows.reduce((a, [, s]) => a + s, 0);
    lines.push(`## Where the native time goes: ${p.title}`, '', `Median step ${(p.stepSeconds * 1000).toFixed(0)} ms (load 1m ${p.load.toFixed(2)} after it); per-kernel wall time per step (OpenMP regions included):`, '');
    lines.push('| kernel | ms / step | share |', '|---|---|---|');
    for (const [name, s] of p.rows) lines.push(`| ${name} | ${(s * 1000).toFixed(1)} | ${((100 * s) / total).toFixed(1)}% |`);
    lines.push('');
  }
  lines.push(...targets(d.figures));
  if (d.finetune?.length) lines.push(...d.finetune);
  if (d.notes.length) lines.push('## Notes', '', ...d.notes.map((n) => `- ${n}`), '');
  // Only what this run measured: earlier runs and withdrawn figures live in the hand-written part below
  // KEEP_MARKER and in docs/benchmarks-history.md, which no run rewrites.
  return lines.join('\n');
}

/**
 * `doc` with its `## Fine-tuning` section (up to the next `## ` heading or KEEP_MARKER) replaced by `section`; the
 * section goes before KEEP_MARKER (or at the end) when the file has none.
 */
export function spliceSection(doc: string, section: string[]): string {
  const lines = doc.split('\n');
  const boundary = (from: number): number => {
    const i = lines.findIndex((l, j) => j >= from && (l.startsWith('## ') || l === KEEP_MARKER));
    return i < 0 ? lines.length : i;
  };
  const start = lines.findIndex((l) => l.startsWith('## Fine-tuning'));
  const at = start >= 0 ? start : lines.indexOf(KEEP_MARKER) >= 0 ? lines.indexOf(KEEP_MARKER) : lines.length;
  const end = start >= 0 ? boundary(start + 1) : at;
  return [...lines.slice(0, at), ...section, '', ...lines.slice(end)].join('\n');
}

export { loadavg };
