/**
 * `npm run bench [-- --json] [--quick] [--backend native,tfjs-wasm,tfjs-cpu] [--config tiny,gpt2-small] [--no-write]`
 *
 * Tokens/s for training and KV-cache decode, GEMM GFLOP/s, each beside the PyTorch CPU baseline
 * measured on the same machine, plus a per-kernel profile of the native core. Writes docs/benchmarks.md.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { type PresetName, presetConfig } from '../src/arch/config.js';
import { loadNativeAddon } from '../src/backend/native/addon.js';
import { selectBackend } from '../src/backend/select.js';
import type { BackendPreference, BackendReport } from '../src/backend/types.js';
import { loadTorchBaseline } from './baseline.js';
import { type Budget, lastCpuSeconds, measureDecode, measureTrain, median, timeReps } from './measure.js';
import { type DocInput, type Figure, type Metric, TABLE_HEAD, figureRow, loadavg, machineInfo, renderDoc } from './report.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    backend: { type: 'string', multiple: true },
    config: { type: 'string', multiple: true },
    'no-write': { type: 'boolean', default: false },
  },
});
const list = (v: string[] | undefined, all: string[]): string[] => (v ? v.flatMap((x) => x.split(',')).filter(Boolean) : all);
const BACKENDS: Record<string, BackendPreference> = { native: 'native', 'tfjs-wasm': 'wasm', 'tfjs-cpu': 'tfjs-cpu' };
const backends = list(values.backend, Object.keys(BACKENDS));
const configs = list(values.config, ['tiny', 'gpt2-small']) as PresetName[];
const explicitConfig = values.config !== undefined;
const quick = values.quick ?? false;
const json = values.json ?? false;

const TRAIN_SHAPE: Record<PresetName, [number, number]> = { tiny: [8, 256], 'gpt2-small': [4, 512] };
/** tfjs steps at 8x256 take minutes on 2 cores; they train 1 row of the same length (tokens/s is per token either way). */
const TFJS_TRAIN_SHAPE: Record<PresetName, [number, number]> = { tiny: [1, 256], 'gpt2-small': [1, 512] };
const PROMPT = 64;
const NEW_TOKENS = 128;

const torch = loadTorchBaseline();
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
  const f: Figure = { metric, config, backend, batch, value, baseline: b, ratio: b ? value / b : null, samples, cpuPerRep };
  figures.push(f);
  if (json) console.log(JSON.stringify(f));
  else console.log(figureRow(f));
}

/** Native gets the full protocol; tfjs backends are 10-100x slower, so they get a time cap (noted in the docs). */
function budget(backend: string, kind: 'train' | 'decode', config: PresetName): Budget {
  if (backend === 'native') {
    const big = config === 'gpt2-small';
    return { warmup: big || quick ? 1 : 2, reps: 5, maxSeconds: quick ? 30 : 400 };
  }
  // tfjs-cpu needs minutes for one tiny step, so it gets no warm-up step (noted in the docs).
  return { warmup: kind === 'train' && backend !== 'tfjs-cpu' ? 1 : 0, reps: 5, maxSeconds: quick ? 15 : 45 };
}

async function gemm(backend: string, report: BackendReport): Promise<void> {
  const n = 1024;
  let times: number[];
  let cpu: number;
  if (backend === 'native') {
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
  backendInfo.push(`${report.backend} (${Object.entries(report.versions).map(([k, v]) => `${k} ${v}`).join(', ')}${report.threads ? `, ${report.threads} threads` : ''})`);
  await gemm(backend, report);
  const addon = backend === 'native' ? loadNativeAddon() : undefined;
  for (const name of configs) {
    if (name === 'gpt2-small' && backend !== 'native' && !explicitConfig) {
      notes.push(`${backend}: gpt2-small not run by default (a single training step takes minutes); pass --config gpt2-small to force it.`);
      continue;
    }
    const config = presetConfig(name);
    const core = await report.createCore(config, { seed: 1 });
    try {
      const [B, T] = backend === 'native' ? TRAIN_SHAPE[name] : TFJS_TRAIN_SHAPE[name];
      if (backend !== 'native') {
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
        profiles.push({ title: `${name} training ${B}x${T}`, rows, stepSeconds: median(steps) });
      } else {
        steps = await measureTrain(core, B, T, tb);
      }
      emit('train_tokens_per_s', name, backend, B, (B * T) / median(steps), torch.train[name], steps.length, lastCpuSeconds);
      if (backend !== 'native' && steps.length < 5) notes.push(`${backend} ${name} training: median of ${steps.length} step(s) (time cap ${tb.maxSeconds} s).`);
      for (const db of [1, 16]) {
        const bud = budget(backend, 'decode', name);
        const runs = await measureDecode(core, db, PROMPT, NEW_TOKENS, bud);
        const base = db === 1 ? torch.decode[name]?.b1 : torch.decode[name]?.b16;
        emit('decode_tokens_per_s', name, backend, db, (db * NEW_TOKENS) / median(runs), base, runs.length, lastCpuSeconds);
        if (backend !== 'native' && runs.length < 5) notes.push(`${backend} ${name} decode b${db}: median of ${runs.length} run(s) of ${NEW_TOKENS} tokens (time cap ${bud.maxSeconds} s).`);
      }
    } finally {
      core.dispose();
    }
  }
}

const t0 = performance.now();
log(TABLE_HEAD);
for (const b of backends) await runBackend(b);
const loadAfter = loadavg();
if (!json) {
  for (const p of profiles) {
    console.log(`\nnative profile, ${p.title} (median step ${(p.stepSeconds * 1000).toFixed(0)} ms):`);
    for (const [k, s] of p.rows) console.log(`  ${k.padEnd(18)} ${(s * 1000).toFixed(1).padStart(8)} ms/step`);
  }
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`\nload average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}; ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
if (!values['no-write']) {
  const args = process.argv.slice(2).join(' ');
  const doc = renderDoc({
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: machineInfo(),
    backends: backendInfo,
    figures,
    profiles,
    notes: [
      ...notes,
      `PyTorch baseline parsed from ${torch.source.replace(/.*\/shared\//, 'shared/')}; torch's own notes say its tiny train steps ranged 2.1-10 s on this VM and its batch-1 decode is HF generate overhead-bound.`,
    ],
    loadBefore,
    loadAfter,
    command: `npm run bench${args ? ` -- ${args}` : ''}`,
  });
  writeFileSync(resolve(import.meta.dirname ?? '.', '../docs/benchmarks.md'), doc);
  log('\nwrote docs/benchmarks.md');
}
