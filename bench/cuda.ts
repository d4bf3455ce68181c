/**
 * GPU bench of the native CUDA core against PyTorch on the same GPU, in the same run (issue 7 and 14 targets).
 *   npx tsx bench/cuda.ts [--json] [--steps 10] [--no-torch] [--no-compile] [--torch-only] [--small-batch 8] [--small-seq 1024]
 * Figures: `tiny` fp32 and tf32 training tokens/s (batch 8 x 256), `gpt2-small` bf16-mixed and fp32 training
 * tokens/s, `gpt2-small` greedy decode tokens/s at batch 1 (64-token prompt, 128 new tokens, like HF generate).
 * Two PyTorch baselines run right after ours, so every ratio is same-GPU, same-run:
 *   - HF: bench/torch_gpu.py (transformers GPT2LMHeadModel, HF generate)
 *   - nanoGPT-style: $SOCRATIC_SHARED/fixtures/gpt2/torch_gpu_nanogpt.py (default SOCRATIC_SHARED: ../shared),
 *     plain PyTorch with SDPA attention and fused AdamW; run once with --compile, which prints the eager rows and
 *     then a torch.compile row for gpt2-small bf16 (that script always uses 8 x 1024).
 * A baseline that cannot run (no script, no python3, no torch, no GPU for torch) becomes a "skipped: why" line.
 * Without a usable GPU for our core it prints one line saying why and exits 0 (--torch-only runs the baselines alone).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { presetConfig, type GPT2Config } from '../src/arch/config.js';
import { initWeights } from '../src/arch/init.js';
import { loadCudaAddon } from '../src/backend/native/cudaAddon.js';
import { packageRoot } from '../src/backend/native/common.js';
import { NativeCore } from '../src/backend/native/core.js';
import { probeNativeCudaImpl } from '../src/backend/native/cudaProbe.js';
import type { NativePrecision } from '../src/backend/native/rawCore.js';
import type { LabeledBatch } from '../src/backend/types.js';
import { Rng } from '../src/util/rng.js';

interface Figure {
  metric: 'train_tokens_per_s' | 'decode_tokens_per_s';
  config: string;
  backend: string;
  precision: string;
  batch: number;
  seq: number;
  value: number;
  baseline?: number;
  ratio?: number;
  device?: string;
}

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const num = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const STEPS = num('--steps', 10);
const WARMUP = 2;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function randomBatch(config: GPT2Config, B: number, T: number, seed: number): LabeledBatch {
  const rng = new Rng(seed);
  const ids = Int32Array.from({ length: B * T }, () => rng.int(config.vocab_size));
  return { batchSize: B, seqLen: T, inputIds: ids, labels: ids };
}

async function makeCore(config: GPT2Config, precision: NativePrecision): Promise<NativeCore> {
  const loaded = loadCudaAddon();
  if (!loaded.ok) throw new Error(loaded.reason);
  return NativeCore.create(config, loaded.addon, { weights: initWeights(config, 0), precision });
}

async function train(name: 'tiny' | 'gpt2-small', precision: NativePrecision, B: number, T: number): Promise<Figure> {
  const config = presetConfig(name);
  const core = await makeCore(config, precision);
  const batch = randomBatch(config, B, T, 1);
  const times: number[] = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const t0 = performance.now();
    await core.trainStep(batch, { lr: 1e-4 }); // synchronous on the device: the loss and grad norm are read back
    if (i >= WARMUP) times.push((performance.now() - t0) / 1000);
  }
  core.dispose();
  return { metric: 'train_tokens_per_s', config: name, backend: 'native-cuda', precision, batch: B, seq: T, value: (B * T) / median(times) };
}

async function decode(precision: NativePrecision, promptLen: number, newTokens: number): Promise<Figure> {
  const config = presetConfig('gpt2-small');
  const core = await makeCore(config, precision);
  const rng = new Rng(2);
  const V = config.vocab_size;
  const run = async (): Promise<number> => {
    const prompt = { batchSize: 1, seqLen: promptLen, inputIds: Int32Array.from({ length: promptLen }, () => rng.int(V - 1)) };
    const t0 = performance.now();
    const s = await core.startDecode(prompt, { maxLength: promptLen + newTokens });
    let logits = s.lastLogits;
    for (let i = 0; i < newTokens - 1; i++) {
      let best = 0;
      for (let j = 1; j < V; j++) if (logits[j]! > logits[best]!) best = j;
      logits = await s.step(Int32Array.of(best), Int32Array.of(promptLen + i));
    }
    const dt = (performance.now() - t0) / 1000;
    s.dispose();
    return dt;
  };
  await run();
  const times = [await run(), await run(), await run()];
  core.dispose();
  return { metric: 'decode_tokens_per_s', config: 'gpt2-small', backend: 'native-cuda', precision, batch: 1, seq: promptLen + newTokens, value: newTokens / median(times) };
}

// Found from the package root, not this file, so an esbuild bundle of this script (scripts/device-bundle.mjs) works.
const ROOT = packageRoot() ?? resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = resolve(process.env.SOCRATIC_SHARED ?? join(ROOT, '..', 'shared'));

interface Baseline {
  label: string;
  figures: Figure[];
  skipped?: string; // why this baseline produced nothing (or only part of its rows)
}

/** Runs a baseline script and keeps every JSON line it printed, even when it fails part-way. */
function runPython(label: string, script: string, scriptArgs: string[]): Baseline {
  if (!existsSync(script)) return { label, figures: [], skipped: `no ${script}` };
  const r = spawnSync('python3', [script, ...scriptArgs], { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 30 * 60_000 });
  const figures = (r.stdout ?? '')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Figure);
  if (r.status === 0) return { label, figures };
  const why = r.error ? String(r.error.message) : (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').at(-1);
  return { label, figures, skipped: `${script.replace(`${ROOT}/`, '')} failed: ${why}` };
}

function baselines(smallB: number, smallT: number): Baseline[] {
  if (flag('--no-torch')) return [];
  const size = ['--steps', String(STEPS), '--small-batch', String(smallB), '--small-seq', String(smallT)];
  const hf = runPython('HF torch', join(ROOT, 'bench', 'torch_gpu.py'), ['--json', ...size]);
  const nano = runPython('nanoGPT torch', join(SHARED, 'fixtures', 'gpt2', 'torch_gpu_nanogpt.py'), flag('--no-compile') ? [] : ['--compile']);
  const eager: Baseline = { label: nano.label, figures: nano.figures.filter((f) => f.backend === 'torch-nanogpt') };
  // The script prints 5 eager rows before the compiled one; a failure after them concerns only torch.compile.
  if (nano.skipped && eager.figures.length < 5) eager.skipped = eager.figures.length ? `${eager.figures.length} of 5 rows; ${nano.skipped}` : nano.skipped;
  const compiled: Baseline = { label: 'nanoGPT torch.compile', figures: nano.figures.filter((f) => f.backend === 'torch-nanogpt+compile') };
  if (flag('--no-compile')) compiled.skipped = 'by --no-compile';
  else if (!compiled.figures.length) compiled.skipped = nano.skipped ?? 'the script printed no +compile row';
  return [hf, eager, compiled];
}

const same = (a: Figure, b: Figure): boolean =>
  a.metric === b.metric && a.config === b.config && a.precision === b.precision && a.batch === b.batch && a.seq === b.seq;

async function main(): Promise<void> {
  const smallB = num('--small-batch', 8);
  const smallT = num('--small-seq', 1024);
  const ours: Figure[] = [];
  let device = '';
  if (!flag('--torch-only')) {
    const probe = probeNativeCudaImpl();
    if (!probe.ok) {
      console.log(`CUDA bench skipped: ${probe.reason}`);
      return;
    }
    device = probe.version.split(' (')[0]!;
    if (!flag('--json')) console.log(`device: ${probe.version}`);
    ours.push(await train('tiny', 'fp32', 8, 256));
    ours.push(await train('tiny', 'tf32', 8, 256));
    ours.push(await train('gpt2-small', 'bf16', smallB, smallT));
    ours.push(await train('gpt2-small', 'fp32', smallB, smallT));
    ours.push(await decode('fp32', 64, 128));
  }
  const base = baselines(smallB, smallT);
  // Rows: ours when measured, otherwise (--torch-only) every shape a baseline printed.
  const rows = ours.length ? ours : base.flatMap((b) => b.figures).filter((f, i, all) => all.findIndex((g) => same(f, g)) === i);
  const cols = base.map((b) => b.label);
  if (!flag('--json')) console.log(['figure', 'native-cuda', ...cols.flatMap((c) => [c, 'ratio'])].join(' | '));
  for (const f of rows) {
    const out: Record<string, unknown> = ours.length ? { ...f, device } : { metric: f.metric, config: f.config, precision: f.precision, batch: f.batch, seq: f.seq };
    const cells: string[] = [];
    for (const b of base) {
      const t = b.figures.find((g) => same(f, g));
      const key = b.label === 'HF torch' ? '' : b.label === 'nanoGPT torch' ? 'nanogpt_' : 'nanogpt_compiled_';
      if (t) out[key ? `${key}baseline` : 'baseline'] = t.value;
      if (t && ours.length) out[key ? `${key}ratio` : 'ratio'] = f.value / t.value;
      if (t) out[`${key}torch_device`] = t.device;
      cells.push(t ? t.value.toFixed(0) : 'n/a', t && ours.length ? `${(f.value / t.value).toFixed(2)}x` : '');
    }
    if (flag('--json')) console.log(JSON.stringify(out));
    else console.log([`${f.config} ${f.precision} ${f.metric} b${f.batch}x${f.seq}`, ours.length ? f.value.toFixed(0) : 'n/a', ...cells].join(' | '));
  }
  for (const b of base.filter((x) => x.skipped)) {
    if (flag('--json')) console.log(JSON.stringify({ baseline: b.label, skipped: b.skipped }));
    else console.log(`${b.label}: skipped: ${b.skipped}`);
  }
  if (flag('--no-torch') && !flag('--json')) console.log('PyTorch baselines: skipped: --no-torch');
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
