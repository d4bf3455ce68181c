/**
 * The fine-tuning section of `npm run bench` (issue #19): for each asked-for model of FINETUNE_CONFIGS, full
 * fine-tuning and LoRA r 16 on every projection at 1x512 and 4x512, tokens/s and peak resident memory, beside a
 * plain-PyTorch run of the same case when TORCH_PY is set (bench/torch_cpu.py --finetune; torch's LoRA is written
 * by hand there: PEFT is not installed with Debian's torch).
 *
 * Every case runs in its own child process (bench/finetune-case.ts, or the Python script), so each peak RSS
 * (VmHWM / ru_maxrss) is that case's alone. Before a case starts its peak is estimated (native: the addon's buffer
 * plan, exact for the core; PyTorch: a formula) and the case is refused when the estimate passes the limit
 * (--memory-limit, default 24 GiB) or what the machine has available right then; while it runs, a watchdog stops it
 * if its RSS passes either. So a model that does not fit is reported, not swapped or OOM-killed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { archDims } from '../src/arch/config.js';
import { numel, paramLayout } from '../src/arch/layout.js';
import { loraLayout, resolveLora } from '../src/arch/lora.js';
import type { NativeAddon } from '../src/backend/native/addon.js';
import { DEFAULT_ACTIVATION_BUDGET, microBatchRows, rawCoreConfig } from '../src/backend/native/core.js';
import { BENCH_CONFIGS, type BenchConfigName, FINETUNE_SHAPES, LORA_BENCH } from './configs.js';
import { loadavg } from './report.js';

export type FinetuneMode = 'full' | 'lora';

export interface FinetuneResult {
  config: BenchConfigName;
  mode: FinetuneMode;
  B: number;
  T: number;
  impl: 'native' | 'torch';
  /** measured; refused before it started (estimate over a limit); stopped by the watchdog; failed (error). */
  status: 'measured' | 'refused' | 'stopped' | 'failed';
  estimateBytes: number;
  tokensPerS: number | null;
  peakRssBytes: number | null;
  /** Process CPU seconds (all threads) per timed step: on a loaded machine, wall time over it shows the share it got. */
  cpuPerStep: number | null;
  /** Native: the peak RSS once the core was built (its buffers and the one init tensor being written), before any step. */
  createPeakBytes: number | null;
  samples: number;
  reason: string | null;
  /** 1-minute load average when the case ended. */
  load: number;
}

export interface FinetuneOptions {
  quick: boolean;
  /** Refuse (or stop) a case above this many bytes. */
  limitBytes: number;
  /** A Python with torch (TORCH_PY), or undefined. */
  torchPy: string | undefined;
  log: (line: string) => void;
}

const GiB = 2 ** 30;
export const gib = (b: number | null): string => (b === null || !Number.isFinite(b) ? 'n/a' : `${(b / GiB).toFixed(2)} GiB`);

/** MemAvailable of /proc/meminfo, bytes (Infinity where there is none). */
export function memAvailable(): number {
  try {
    const kb = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function rssOf(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs a child, killing it (SIGKILL) if its RSS passes `capBytes`; returns its output and where it was stopped. */
function runWatched(cmd: string, args: string[], capBytes: number): Promise<{ code: number | null; stdout: string; stderr: string; stoppedAt: number | null }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let stoppedAt: number | null = null;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setInterval(() => {
      const rss = child.pid ? rssOf(child.pid) : 0;
      if (rss > capBytes && stoppedAt === null) {
        stoppedAt = rss;
        child.kill('SIGKILL');
      }
    }, 100);
    child.on('close', (code) => {
      clearInterval(timer);
      done({ code, stdout, stderr, stoppedAt });
    });
  });
}

/**
 * Node, tsx, the tfjs modules selectBackend loads, V8 and the allocator, plus a full step's thread-local
 * weight-gradient partials (8 x the largest matrix): about 0.5 GiB measured on the smollm2-135m cases.
 */
export const NATIVE_OVERHEAD = 768 * 2 ** 20;

/**
 * The native case's peak: the larger of creation (the core's buffers while the JS side holds one init tensor, the
 * largest: NativeCore generates and writes them one at a time) and a training step (the addon's own plan: buffers,
 * activations, head chunk).
 */
export function nativeEstimate(addon: NativeAddon, name: BenchConfigName, mode: FinetuneMode, B: number, T: number): number {
  const config = BENCH_CONFIGS[name]();
  const raw = rawCoreConfig(config, mode === 'lora' ? resolveLora(config, LORA_BENCH) : undefined);
  const largestTensorBytes = 4 * Math.max(...paramLayout(config).map((s) => numel(s.shape)));
  // The core trains B x T in micro-batches whose activations fit its default budget: the plan is one chunk's.
  const step = addon.estimateBytes(raw, microBatchRows(addon.estimateBytes, raw, B, T, DEFAULT_ACTIVATION_BUDGET), T);
  const create = addon.estimateBytes(raw, 1, 1) + largestTensorBytes;
  return Math.max(step, create) + NATIVE_OVERHEAD;
}

/**
 * A rough peak for bench/torch_cpu.py's case (autograd keeps what each op needs; counted by hand from the model
 * there): weights (+ grads + AdamW moments of what trains), per token and layer about 5C + 8Q + 6KV + 4F floats of
 * saved activations plus NH x T attention probabilities, the [B, T, V] logits about 4 times over (logits, the shifted
 * copy, log-softmax, their gradient), and 400 MiB for Python and torch. The activations are then scaled by what the
 * smollm2-135m cases measured against this count (x1.15 full; x1.5 LoRA, whose extra products autograd also keeps).
 * The watchdog covers it being off.
 */
export function torchEstimate(name: BenchConfigName, mode: FinetuneMode, B: number, T: number): number {
  const config = BENCH_CONFIGS[name]();
  const d = archDims(config);
  const P = paramLayout(config).reduce((n, s) => n + numel(s.shape), 0);
  const Pl = loraLayout(config, resolveLora(config, LORA_BENCH)).reduce((n, s) => n + numel(s.shape), 0);
  const Q = d.heads * d.headDim;
  const KV = d.kvHeads * d.headDim;
  const weights = mode === 'full' ? 16 * P : 4 * P + 16 * Pl;
  const acts = (mode === 'full' ? 1.15 : 1.5) * 4 * B * T * d.layers * (5 * d.hidden + 8 * Q + 6 * KV + 4 * d.inner + d.heads * T);
  return weights + acts + 16 * B * T * d.vocab + 400 * 2 ** 20;
}

/** What a guarded child run gave: its last JSON line when it finished, else why not. */
export type Guarded =
  | { status: 'measured'; load: number; json: Record<string, unknown> }
  | { status: 'refused' | 'stopped' | 'failed'; load: number; reason: string };

/**
 * Runs `command` as a child unless `estimate` passes the limit or what the machine has available now (less 1 GiB
 * of headroom), stopping it if its RSS passes that cap; returns its last JSON line or the reason it has none.
 */
export async function runGuarded(estimate: number, command: [string, string[]], limitBytes: number): Promise<Guarded> {
  const avail = memAvailable();
  if (estimate > limitBytes) {
    return { status: 'refused', load: loadavg()[0]!, reason: `needs about ${gib(estimate)} by its estimate, above the ${gib(limitBytes)} limit (--memory-limit)` };
  }
  const headroom = 1 * GiB; // left to the rest of the machine
  if (estimate > avail - headroom) {
    return { status: 'refused', load: loadavg()[0]!, reason: `needs about ${gib(estimate)} by its estimate; this machine has ${gib(avail)} available now (other work), less ${gib(headroom)} of headroom` };
  }
  const cap = Math.min(limitBytes, avail - headroom / 2);
  const r = await runWatched(command[0], command[1], cap);
  const load = loadavg()[0]!;
  if (r.stoppedAt !== null) return { status: 'stopped', load, reason: `stopped at ${gib(r.stoppedAt)} resident, past the ${gib(cap)} cap (estimate was ${gib(estimate)})` };
  const line = r.stdout.split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (r.code !== 0 || !line) return { status: 'failed', load, reason: (r.stderr.trim().split('\n').at(-1) ?? `exit ${r.code}`).slice(0, 200) };
  return { status: 'measured', load, json: JSON.parse(line) as Record<string, unknown> };
}

async function runCase(
  c: { config: BenchConfigName; mode: FinetuneMode; B: number; T: number; impl: 'native' | 'torch' },
  estimate: number,
  command: [string, string[]],
  o: FinetuneOptions,
): Promise<FinetuneResult> {
  const base = { ...c, estimateBytes: estimate, tokensPerS: null, peakRssBytes: null, cpuPerStep: null, createPeakBytes: null, samples: 0 };
  const r = await runGuarded(estimate, command, o.limitBytes);
  if (r.status !== 'measured') return { ...base, status: r.status, load: r.load, reason: r.reason };
  const j = r.json as {
    tokensPerS?: number;
    tokens_per_s?: number;
    peakRssBytes?: number;
    peak_rss_bytes?: number;
    cpuSecondsPerStep?: number;
    createPeakBytes?: number;
    cpu_seconds_per_step?: number;
    stepSeconds?: number[];
    samples?: number;
  };
  return {
    ...base,
    status: 'measured',
    load: r.load,
    reason: null,
    tokensPerS: j.tokensPerS ?? j.tokens_per_s ?? null,
    peakRssBytes: j.peakRssBytes ?? j.peak_rss_bytes ?? null,
    cpuPerStep: j.cpuSecondsPerStep ?? j.cpu_seconds_per_step ?? null,
    createPeakBytes: j.createPeakBytes ?? null,
    samples: j.stepSeconds?.length ?? j.samples ?? 0,
  };
}

/** Every case of `configs`, one at a time: native, then (with TORCH_PY) PyTorch, smallest shape first. */
export async function runFinetune(addon: NativeAddon, configs: BenchConfigName[], o: FinetuneOptions): Promise<FinetuneResult[]> {
  const here = import.meta.dirname ?? '.';
  const caseScript = resolve(here, 'finetune-case.ts');
  const torchScript = resolve(here, 'torch_cpu.py');
  const budget = o.quick ? ['--warmup', '1', '--reps', '2', '--max-seconds', '60'] : ['--warmup', '1', '--reps', '3', '--max-seconds', '300'];
  const results: FinetuneResult[] = [];
  for (const config of configs) {
    for (const [B, T] of FINETUNE_SHAPES) {
      for (const mode of ['full', 'lora'] as const) {
        const args = ['--config', config, '--mode', mode, '--batch', String(B), '--seq', String(T), ...budget];
        const native = await runCase(
          { config, mode, B, T, impl: 'native' },
          nativeEstimate(addon, config, mode, B, T),
          [process.execPath, [...process.execArgv, '--expose-gc', caseScript, ...args]],
          o,
        );
        results.push(native);
        o.log(finetuneRow(native));
        if (o.torchPy && existsSync(torchScript)) {
          const torch = await runCase({ config, mode, B, T, impl: 'torch' }, torchEstimate(config, mode, B, T), [o.torchPy, [torchScript, '--finetune', ...args]], o);
          results.push(torch);
          o.log(finetuneRow(torch));
        }
      }
    }
  }
  return results;
}

/** A paired case's LoRA / full tokens/s (bench/finetune-paired.ts), null where it did not run. */
export interface PairedRatio {
  config: BenchConfigName;
  B: number;
  T: number;
  ratio: number | null;
}

export const FINETUNE_HEAD =
  '| config | B x T | mode | core | tokens/s (median) | CPU s / step | peak RSS | of which creation | estimate | samples | load 1m | note |\n|---|---|---|---|---|---|---|---|---|---|---|---|';

const IMPL = { native: 'native CPU', torch: 'PyTorch (plain; LoRA by hand)' } as const;

export function finetuneRow(r: FinetuneResult): string {
  const tps = r.tokensPerS === null ? 'n/a' : r.tokensPerS.toFixed(1);
  const mode = r.mode === 'full' ? 'full' : `LoRA r ${LORA_BENCH.r}`;
  const cpu = r.cpuPerStep === null ? 'n/a' : r.cpuPerStep.toFixed(1);
  return `| ${r.config} | ${r.B}x${r.T} | ${mode} | ${IMPL[r.impl]} | ${tps} | ${cpu} | ${gib(r.peakRssBytes)} | ${gib(r.createPeakBytes)} | ${gib(r.estimateBytes)} | ${r.samples} | ${r.load.toFixed(2)} | ${r.status === 'measured' ? '' : `${r.status}: ${r.reason}`} |`;
}

/**
 * LoRA against full at each shape, on each core: tokens/s ratio (target >= 1.4x) and peak-RSS ratio (target <= 40% at
 * Qwen3-0.6B). Where the full case could not run, its memory is its estimate (said so), and there is no speed ratio.
 */
export function finetuneComparison(results: FinetuneResult[], paired: readonly PairedRatio[] = []): string[] {
  const rows: string[] = [];
  const find = (c: string, B: number, T: number, mode: FinetuneMode, impl: 'native' | 'torch') =>
    results.find((r) => r.config === c && r.B === B && r.T === T && r.mode === mode && r.impl === impl);
  const seen = new Set<string>();
  for (const r of results) {
    const key = `${r.config}/${r.B}/${r.T}/${r.impl}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const full = find(r.config, r.B, r.T, 'full', r.impl);
    const lora = find(r.config, r.B, r.T, 'lora', r.impl);
    if (!full || !lora) continue;
    const speed = full.tokensPerS && lora.tokensPerS ? lora.tokensPerS / full.tokensPerS : null;
    const cpu = full.cpuPerStep && lora.cpuPerStep ? full.cpuPerStep / lora.cpuPerStep : null;
    const fullMem = full.peakRssBytes ?? null;
    const memRatio = lora.peakRssBytes && fullMem ? lora.peakRssBytes / fullMem : lora.peakRssBytes ? lora.peakRssBytes / full.estimateBytes : null;
    const memNote = lora.peakRssBytes && !fullMem ? ' (full: its estimate)' : '';
    // The targets are this library's (native rows); PyTorch's ratios are shown for comparison.
    const verdict = (x: number | null, text: string, ok: boolean): string =>
      x === null ? 'n/a' : r.impl === 'native' ? `${text} ${ok ? 'met' : '**not met**'}` : text;
    const speedText = speed === null ? '' : `${speed.toFixed(2)}x`;
    // The speed target is judged on the paired (alternating-step) ratio where one was measured: it carries no drift.
    const pair = r.impl === 'native' ? paired.find((p) => p.config === r.config && p.B === r.B && p.T === r.T && p.ratio !== null) : undefined;
    const pairText = pair ? verdict(pair.ratio, `${pair.ratio!.toFixed(2)}x`, pair.ratio! >= 1.4) : 'n/a';
    const separateText = pair ? speedText || 'n/a' : verdict(speed, speedText, speed !== null && speed >= 1.4);
    const memText = memRatio === null ? '' : `${(100 * memRatio).toFixed(0)}%${memNote}`;
    const mem = r.config === 'qwen3-0.6b' ? verdict(memRatio, memText, memRatio !== null && memRatio <= 0.4) : memRatio === null ? 'n/a' : memText;
    rows.push(`| ${r.config} | ${r.B}x${r.T} | ${IMPL[r.impl]} | ${pairText} | ${separateText} | ${cpu === null ? 'n/a' : `${cpu.toFixed(2)}x`} | ${mem} |`);
  }
  return [
    '| config | B x T | core | LoRA / full tokens/s, paired in one process (target >= 1.4x) | LoRA / full tokens/s, separate processes | full / LoRA CPU s per step | LoRA / full peak RSS (target <= 40% at Qwen3-0.6B) |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ];
}
