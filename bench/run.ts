/**
 * `npm run bench [-- --json] [--quick] [--backend native,native-builtin,tfjs-wasm,tfjs-cpu] [--config tiny,gpt2-small,smollm2-135m,qwen3-0.6b] [--memory-limit 24] [--no-finetune | --finetune-only] [--no-write]`
 *
 * Tokens/s for training and KV-cache decode, GEMM GFLOP/s, each beside the PyTorch CPU baseline file
 * (its date and conditions printed beside every ratio) and, when TORCH_PY names a Python with torch,
 * beside PyTorch measured in this same run (bench/torch_cpu.py), plus a per-kernel profile of the
 * native core. `smollm2-135m` (bench/configs.ts) is a random-init Llama of SmolLM2-135M's shape, beside a plain-PyTorch
 * Llama of the same shape. `native` is the core as built (OpenBLAS when linked); `native-builtin` is the same
 * addon switched to the built-in sgemm (what the prebuilt package runs). For smollm2-135m and qwen3-0.6b (a
 * random-init Qwen3-0.6B, measured there only) the fine-tuning section (bench/finetune.ts) adds full fine-tuning
 * against LoRA r 16 at 1x512 and 4x512: tokens/s and peak RSS, each case in its own memory-checked child process
 * (refused above --memory-limit GiB, default 24, or above what the machine has free). Writes docs/benchmarks.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { loadNativeAddon } from '../src/backend/native/addon.js';
import { selectBackend } from '../src/backend/select.js';
import type { BackendPreference, BackendReport } from '../src/backend/types.js';
import { loadTorchBaseline } from './baseline.js';
import { BENCH_CONFIGS, BIG_CONFIGS, type BenchConfigName, FINETUNE_CONFIGS, FINETUNE_ONLY, isBenchConfig, LORA_BENCH, TFJS_TRAIN_SHAPE, TRAIN_SHAPE } from './configs.js';
import { FINETUNE_HEAD, type FinetuneResult, finetuneComparison, finetuneRow, runFinetune } from './finetune.js';
import { PAIRED_HEAD, pairedRatio, pairedRow, runPaired } from './finetune-paired.js';
import { type Budget, lastCpuSeconds, measureDecode, measureTrain, median, timeReps } from './measure.js';
import { type DocInput, type Figure, KEEP_MARKER, type Metric, TABLE_HEAD, figureRow, loadavg, machineInfo, renderDoc, spliceSection, trainFlopsPerToken } from './report.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    backend: { type: 'string', multiple: true },
    config: { type: 'string', multiple: true },
    'no-write': { type: 'boolean', default: false },
    'memory-limit': { type: 'string', default: '24' },
    'no-finetune': { type: 'boolean', default: false },
    /** Only the fine-tuning section (no GEMM, training or decode figures of the general section). */
    'finetune-only': { type: 'boolean', default: false },
  },
});
const list = (v: string[] | undefined, all: string[]): string[] => (v ? v.flatMap((x) => x.split(',')).filter(Boolean) : all);
const BACKENDS: Record<string, BackendPreference> = { native: 'native', 'native-builtin': 'native', 'tfjs-wasm': 'wasm', 'tfjs-cpu': 'tfjs-cpu' };
const isNative = (b: string): boolean => b.startsWith('native');
const backends = list(values.backend, Object.keys(BACKENDS));
const configNames = list(values.config, ['tiny', 'gpt2-small']);
for (const c of configNames) if (!isBenchConfig(c)) throw new Error(`unknown bench config ${c}; known: ${Object.keys(BENCH_CONFIGS).join(', ')}`);
const configs = configNames as BenchConfigName[];
const explicitConfig = values.config !== undefined;
const quick = values.quick ?? false;
const json = values.json ?? false;

const PROMPT = 64;
const NEW_TOKENS = 128;

const torch = loadTorchBaseline();
/** Whether the file's figures came from this CPU: a file measured with AVX512 on a machine that has none is another CPU. */
function baselineMachine(): string {
  const avx512Here = machineInfo().flags.includes('avx512f');
  if (torch.capability === 'AVX512' && !avx512Here)
    return ` on a different CPU (the file's torch ran with AVX512; this machine has none), so its ratios compare two machines: read the same-run column`;
  return torch.capability ? ` on this machine (torch CPU capability ${torch.capability})` : ' on this machine';
}
const baselineFrom = `${torch.date}, ${torch.conditions}`;

/** PyTorch in this run: `$TORCH_PY bench/torch_cpu.py` (plain-torch GPT-2 and Llama, no transformers), keyed metric/config/batch. */
function sameRunTorch(): { figures: Map<string, number>; line: string } {
  const py = process.env.TORCH_PY;
  const figures = new Map<string, number>();
  if (!py) return { figures, line: 'not measured (set TORCH_PY to a Python with torch to measure it in the same run).' };
  const script = resolve(import.meta.dirname ?? '.', 'torch_cpu.py');
  const args = [script, '--config', configs.filter((c) => !FINETUNE_ONLY.has(c)).join(','), ...(quick ? ['--quick'] : [])];
  const before = loadavg()[0]!.toFixed(2);
  const r = spawnSync(py, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const after = loadavg()[0]!.toFixed(2);
  if (r.status !== 0) return { figures, line: `not measured: bench/torch_cpu.py failed (${(r.stderr || String(r.error)).trim().split('\n').at(-1)}).` };
  let version = '?';
  for (const l of r.stdout.split('\n').filter((x) => x.startsWith('{'))) {
    const f = JSON.parse(l) as { metric: string; config: string; batch: number; value: number; torch: string };
    figures.set(`${f.metric}/${f.config}/${f.batch}`, f.value);
    version = f.torch;
  }
  return {
    figures,
    line: `torch ${version} (${py}), 2 threads, measured by bench/torch_cpu.py right before the figures here (1-min load ${before} when it started, ${after} when it ended; compare with the load column): a minimal GPT-2 (and, for smollm2-135m, a minimal Llama: RMSNorm, RoPE, GQA, SwiGLU) in plain PyTorch with manual attention and its own KV-cache loop, not HF transformers (not installed with it), so it is not the same program as the file's baseline.`,
  };
}
const torchNow = values['finetune-only'] ? { figures: new Map<string, number>(), line: 'not run (--finetune-only).' } : sameRunTorch();
const figures: Figure[] = [];
const notes: string[] = [];
const profiles: DocInput['profiles'] = [];
const backendInfo: string[] = [];
const loadBefore = loadavg();

const log = (s: string): void => {
  if (!json) console.log(s);
};
function emit(metric: Metric, config: string, backend: string, batch: number, value: number, baseline: number | undefined, samples: number, cpuTotal: number | null): void {
  const b = baseline ?? null;
  const cpuPerRep = cpuTotal === null ? null : cpuTotal / samples;
  const same = torchNow.figures.get(`${metric}/${config}/${batch}`) ?? null;
  let peakFraction: [number, number] | null = null;
  if (metric === 'train_tokens_per_s' && torch.peak) {
    const name = config as BenchConfigName;
    const flops = value * trainFlopsPerToken(BENCH_CONFIGS[name](), TRAIN_SHAPE[name][1]);
    peakFraction = [flops / 1e9 / torch.peak.base, flops / 1e9 / torch.peak.boost];
  }
  const f: Figure = {
    metric, config, backend, batch, value, baseline: b, ratio: b ? value / b : null, samples, cpuPerRep,
    baselineFrom, sameRun: same, sameRatio: same ? value / same : null, load: loadavg()[0]!, peakFraction,
  };
  figures.push(f);
  if (json) console.log(JSON.stringify(f));
  else console.log(figureRow(f));
}

/** Native gets the full protocol; tfjs backends are 10-100x slower, so they get a time cap (noted in the docs). */
function budget(backend: string, kind: 'train' | 'decode', config: BenchConfigName): Budget {
  if (isNative(backend)) {
    const big = BIG_CONFIGS.has(config);
    return { warmup: big || quick ? 1 : 2, reps: 5, maxSeconds: quick ? 30 : 400 };
  }
  // tfjs-cpu needs minutes for one tiny step, so it gets no warm-up step (noted in the docs).
  return { warmup: kind === 'train' && backend !== 'tfjs-cpu' ? 1 : 0, reps: 5, maxSeconds: quick ? 15 : 45 };
}

async function gemm(backend: string, report: BackendReport): Promise<void> {
  const n = 1024;
  let times: number[];
  let cpu: number;
  if (isNative(backend)) {
    const loaded = loadNativeAddon();
    if (!loaded.ok) return;
    loaded.addon.benchGemm(n, 3);
    const c0 = process.cpuUsage();
    times = loaded.addon.benchGemm(n, quick ? 5 : 15);
    const c = process.cpuUsage(c0);
    cpu = (c.user + c.system) / 1e6;
  } else {
    await tf.setBackend(report.device === 'wasm' ? 'wasm' : 'cpu');
    const a = tf.randomUniform([n, n]);
    const b = tf.randomUniform([n, n]);
    times = await timeReps(
      async () => {
        const c = tf.matMul(a, b);
        await c.data();
        c.dispose();
      },
      { warmup: 1, reps: 5, maxSeconds: quick ? 10 : 30 },
    );
    cpu = lastCpuSeconds;
    a.dispose();
    b.dispose();
  }
  emit('gemm_gflops', `${n}^3`, backend, 1, (2 * n ** 3) / median(times) / 1e9, torch.gemm1024, times.length, cpu);
}

async function runBackend(backend: string): Promise<void> {
  let report: BackendReport;
  try {
    report = await selectBackend(BACKENDS[backend] ?? (backend as BackendPreference));
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    notes.push(`${backend}: skipped (${why})`);
    log(`| ${backend} skipped: ${why} |`);
    return;
  }
  const addon = isNative(backend) ? loadNativeAddon() : undefined;
  // One addon serves both native rows: switch its sgemm for this backend's figures.
  // (An older addon, e.g. SOCRATIC_DISTILL_NATIVE pointing at a build to compare against, has no gemmSelect.)
  const select = (name: string): string | undefined =>
    addon?.ok ? (typeof addon.addon.gemmSelect === 'function' ? addon.addon.gemmSelect(name) : addon.addon.info().blas) : undefined;
  const kernels = select(backend === 'native-builtin' ? 'builtin' : 'auto');
  backendInfo.push(`${backend}: ${report.backend} (${Object.entries(report.versions).map(([k, v]) => `${k} ${v}`).join(', ')}${report.threads ? `, ${report.threads} threads` : ''}${kernels ? `, sgemm ${kernels}` : ''})`);
  await gemm(backend, report);
  for (const name of configs) {
    if (FINETUNE_ONLY.has(name)) continue; // measured by the fine-tuning section only
    if (BIG_CONFIGS.has(name) && !isNative(backend) && !explicitConfig) {
      notes.push(`${backend}: ${name} not run by default (a single training step takes minutes); pass --config ${name} to force it.`);
      continue;
    }
    const config = BENCH_CONFIGS[name]();
    let core: Awaited<ReturnType<BackendReport['createCore']>>;
    try {
      core = await report.createCore(config, { seed: 1 });
    } catch (e) {
      const why = (e as Error).message.split('\n')[0];
      notes.push(`${backend} ${name}: skipped (${why})`);
      log(`| ${backend} ${name} skipped: ${why} |`);
      continue;
    }
    try {
      const [B, T] = isNative(backend) ? TRAIN_SHAPE[name] : TFJS_TRAIN_SHAPE[name];
      if (!isNative(backend)) {
        const warm = backend === 'tfjs-cpu' ? ', without a warm-up step' : '';
        notes.push(`${backend} ${name} training runs at batch ${B}x${T} (not ${TRAIN_SHAPE[name].join('x')})${warm} to fit the time cap.`);
      }
      const tb = budget(backend, 'train', name);
      let steps: number[];
      if (addon?.ok) {
        // Warm up outside the profile so it covers exactly the timed steps.
        await measureTrain(core, B, T, { warmup: 0, reps: tb.warmup, maxSeconds: tb.maxSeconds });
        addon.addon.profileReset();
        addon.addon.profileEnable(true);
        steps = await measureTrain(core, B, T, { ...tb, warmup: 0 });
        addon.addon.profileEnable(false);
        const rows = Object.entries(addon.addon.profileGet())
          .map(([k, s]) => [k, s / steps.length] as [string, number])
          .filter(([, s]) => s > 0)
          .sort((a, b) => b[1] - a[1]);
        profiles.push({ title: `${name} training ${B}x${T}, ${backend} (sgemm ${kernels})`, rows, stepSeconds: median(steps), load: loadavg()[0]! });
      } else {
        steps = await measureTrain(core, B, T, tb);
      }
      emit('train_tokens_per_s', name, backend, B, (B * T) / median(steps), torch.train[name], steps.length, lastCpuSeconds);
      if (!isNative(backend) && steps.length < 5) notes.push(`${backend} ${name} training: median of ${steps.length} step(s) (time cap ${tb.maxSeconds} s).`);
      for (const db of [1, 16]) {
        const bud = budget(backend, 'decode', name);
        const runs = await measureDecode(core, db, PROMPT, NEW_TOKENS, bud);
        const base = db === 1 ? torch.decode[name]?.b1 : torch.decode[name]?.b16;
        emit('decode_tokens_per_s', name, backend, db, (db * NEW_TOKENS) / median(runs), base, runs.length, lastCpuSeconds);
        if (!isNative(backend) && runs.length < 5) notes.push(`${backend} ${name} decode b${db}: median of ${runs.length} run(s) of ${NEW_TOKENS} tokens (time cap ${bud.maxSeconds} s).`);
      }
    } finally {
      core.dispose();
    }
  }
  select('auto');
}

/** The fine-tuning section: full against LoRA, tokens/s and peak RSS per case (bench/finetune.ts). */
async function finetuneSection(): Promise<string[]> {
  const wanted = configs.filter((c) => FINETUNE_CONFIGS.has(c));
  if (values['no-finetune'] || wanted.length === 0 || !backends.some(isNative)) return [];
  const loaded = loadNativeAddon();
  if (!loaded.ok) {
    notes.push(`fine-tuning section skipped: ${loaded.reason}`);
    return [];
  }
  const limitGiB = Number(values['memory-limit']);
  if (!(limitGiB > 0)) throw new Error(`--memory-limit must be a positive number of GiB, got ${values['memory-limit']}`);
  log(`\nfine-tuning: full against LoRA r ${LORA_BENCH.r} (alpha ${LORA_BENCH.alpha}, every projection), each case in its own process; limit ${limitGiB} GiB\n`);
  log(FINETUNE_HEAD);
  const results: FinetuneResult[] = await runFinetune(loaded.addon, wanted, {
    quick,
    limitBytes: limitGiB * 2 ** 30,
    torchPy: process.env.TORCH_PY,
    log: (line) => {
      if (json) return;
      console.log(line);
    },
  });
  if (json) for (const r of results) console.log(JSON.stringify({ metric: 'finetune', ...r }));
  log(`\nLoRA against full in one process, alternating steps (bench/finetune-paired.ts)\n`);
  log(PAIRED_HEAD);
  const paired = await runPaired(loaded.addon, wanted, {
    quick,
    limitBytes: limitGiB * 2 ** 30,
    torchPy: undefined,
    log: (line) => {
      if (json) return;
      console.log(line);
    },
  });
  if (json) for (const r of paired) console.log(JSON.stringify({ metric: 'finetune-paired', ...r }));
  const comparison = finetuneComparison(results, paired.map((p) => ({ config: p.config, B: p.B, T: p.T, ratio: pairedRatio(p) })));
  log(`\n${comparison.join('\n')}`);
  return [
    `## Fine-tuning: full against LoRA (issue #19)`,
    '',
    `Each case is one child process: a random-init model of the config's shape (seed 1), training steps (forward, backward, clip, AdamW over what trains) on random tokens (the native core runs a batch in row micro-batches when its activations would pass 2 GiB, activationBudgetBytes: of these cases only Qwen3-0.6B at 4x512 splits, into 2 of 2x512, with the whole batch's loss and gradient), tokens/s = B*T / median step time after one warm-up step; peak RSS = the process's VmHWM (native; ru_maxrss for PyTorch) over its whole life, creation included; of which creation = the native VmHWM right after the core was built (its buffers, written from a seeded init generated one tensor at a time), before any step. LoRA: r ${LORA_BENCH.r}, alpha ${LORA_BENCH.alpha} on every projection (q, k, v, o, gate, up, down), base frozen. Native: the CPU core with its default kernels. Estimate: the native core's buffer plan (estimateBytes) plus the largest init tensor and 768 MiB of runtime; for PyTorch a formula (bench/finetune.ts). A case is refused when its estimate passes ${limitGiB} GiB (--memory-limit) or what the machine had available when it was due, and stopped if its RSS passes that cap. PyTorch: ${process.env.TORCH_PY ? `\`${process.env.TORCH_PY} bench/torch_cpu.py --finetune\`, plain torch (no transformers), its LoRA written by hand as PEFT computes it (frozen base, requires_grad on A and B only; PEFT is not installed with it), 2 threads` : 'not measured (set TORCH_PY to a Python with torch)'}.`,
    '',
    FINETUNE_HEAD,
    ...results.map((r) => finetuneRow(r)),
    '',
    `LoRA against full in one process: a LoRA core and a full core of the same init, both alive, trained in alternating steps (LoRA, full, LoRA, ...; 1 warm-up step each, then ${quick ? 2 : 3} timed), so a drift of this machine's speed between the child processes above falls on both alike (bench/finetune-paired.ts). The speed target is judged on this ratio; peak memory stays the per-mode cases' figure.`,
    '',
    PAIRED_HEAD,
    ...paired.map((p) => pairedRow(p)),
    '',
    ...comparison,
    '',
  ];
}

const t0 = performance.now();
if (!values['finetune-only']) {
  log(TABLE_HEAD);
  for (const b of backends) await runBackend(b);
}
const finetune = await finetuneSection();
const loadAfter = loadavg();
if (!json) {
  for (const p of profiles) {
    console.log(`\nnative profile, ${p.title} (median step ${(p.stepSeconds * 1000).toFixed(0)} ms):`);
    for (const [k, s] of p.rows) console.log(`  ${k.padEnd(18)} ${(s * 1000).toFixed(1).padStart(8)} ms/step`);
  }
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`\nload average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}; ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
if (!values['no-write'] && values['finetune-only']) {
  // Only the fine-tuning section was measured: it replaces that section of the file; the rest keeps its own run.
  const args = process.argv.slice(2).join(' ');
  const docPath = resolve(import.meta.dirname ?? '.', '../docs/benchmarks.md');
  const m = machineInfo();
  const stamp = `Measured ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} with \`npm run bench -- ${args}\` (a --finetune-only run: only this section; the sections above are from the run named at the top of the file), on ${m.cpu}, ${m.cores} logical cores, ${m.memGiB} GiB RAM, Node ${m.node}, backend native-cpu (every case builds its core with selectBackend('native')); load average (1/5/15 min) before ${loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' / ')}.`;
  const [head, ...rest] = finetune;
  writeFileSync(docPath, spliceSection(existsSync(docPath) ? readFileSync(docPath, 'utf8') : '', [head!, '', stamp, ...rest]));
  log('\nwrote the fine-tuning section of docs/benchmarks.md');
} else if (!values['no-write']) {
  const args = process.argv.slice(2).join(' ');
  const doc = renderDoc({
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: machineInfo(),
    backends: backendInfo,
    baseline: `${torch.versions}${baselineMachine()}, from ${torch.source.replace(/.*\/shared\//, 'shared/')} (measured ${torch.date}, ${torch.conditions}); its batch-1 decode is HF generate, which the file calls overhead-bound`,
    sameRun: torchNow.line,
    figures,
    profiles,
    notes,
    loadBefore,
    loadAfter,
    command: `npm run bench${args ? ` -- ${args}` : ''}`,
    finetune,
  });
  // The hand-written part below KEEP_MARKER (the link to docs/benchmarks-history.md, the GPU figures) survives a rerun.
  const docPath = resolve(import.meta.dirname ?? '.', '../docs/benchmarks.md');
  const previous = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '';
  const kept = previous.includes(KEEP_MARKER) ? previous.slice(previous.indexOf(KEEP_MARKER)) : '';
  writeFileSync(docPath, kept ? `${doc}\n${kept}` : doc);
  log('\nwrote docs/benchmarks.md');
}
