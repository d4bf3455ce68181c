/**
 * GPU bench of the native CUDA core against PyTorch on the same GPU, in the same run (issue 7 targets).
 *   npx tsx bench/cuda.ts [--json] [--steps 10] [--no-torch] [--small-batch 8] [--small-seq 1024]
 * Figures: `tiny` fp32 training tokens/s (batch 8 x 256), `gpt2-small` bf16-mixed (and fp32) training tokens/s,
 * `gpt2-small` greedy decode tokens/s at batch 1 (64-token prompt, 128 new tokens, like HF generate).
 * PyTorch figures come from bench/torch_gpu.py run by this script right after ours, so ratios are same-GPU, same-run.
 * Without a usable GPU it prints one line saying why and exits 0. Nothing here is a measured figure until run on a GPU.
 */
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { presetConfig, type GPT2Config } from '../src/arch/config.js';
import { initWeights } from '../src/arch/init.js';
import { loadCudaAddon, type CudaPrecision } from '../src/backend/native/cudaAddon.js';
import { NativeCudaCore } from '../src/backend/native/cudaCore.js';
import { probeNativeCudaImpl } from '../src/backend/native/cudaProbe.js';
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

async function makeCore(config: GPT2Config, precision: CudaPrecision): Promise<NativeCudaCore> {
  const loaded = loadCudaAddon();
  if (!loaded.ok) throw new Error(loaded.reason);
  return NativeCudaCore.create(config, loaded.addon, { weights: initWeights(config, 0), precision });
}

async function train(name: 'tiny' | 'gpt2-small', precision: CudaPrecision, B: number, T: number): Promise<Figure> {
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

async function decode(precision: CudaPrecision, promptLen: number, newTokens: number): Promise<Figure> {
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

function torchFigures(smallB: number, smallT: number): { figures: Figure[]; error?: string } {
  const script = resolve(dirname(fileURLToPath(import.meta.url)), 'torch_gpu.py');
  const r = spawnSync('python3', [script, '--json', '--steps', String(STEPS), '--small-batch', String(smallB), '--small-seq', String(smallT)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) return { figures: [], error: `bench/torch_gpu.py failed: ${(r.stderr || r.stdout || String(r.error)).trim().split('\n').at(-1)}` };
  const figures = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Figure);
  return { figures };
}

async function main(): Promise<void> {
  const probe = probeNativeCudaImpl();
  if (!probe.ok) {
    console.log(`CUDA bench skipped: ${probe.reason}`);
    return;
  }
  const smallB = num('--small-batch', 8);
  const smallT = num('--small-seq', 1024);
  const ours: Figure[] = [];
  const say = (f: Figure): void => {
    ours.push(f);
    if (!flag('--json')) console.log(`native-cuda ${f.config} ${f.precision} ${f.metric} b${f.batch}x${f.seq}: ${f.value.toFixed(0)}`);
  };
  if (!flag('--json')) console.log(`device: ${probe.version}`);
  say(await train('tiny', 'fp32', 8, 256));
  say(await train('tiny', 'tf32', 8, 256));
  say(await train('gpt2-small', 'bf16', smallB, smallT));
  say(await train('gpt2-small', 'fp32', smallB, smallT));
  say(await decode('fp32', 64, 128));

  const torch = flag('--no-torch') ? { figures: [] as Figure[], error: 'skipped by --no-torch' } : torchFigures(smallB, smallT);
  if (torch.error) console.error(torch.error);
  for (const f of ours) {
    const base = torch.figures.find((t) => t.metric === f.metric && t.config === f.config && t.precision === f.precision && t.batch === f.batch);
    const out: Figure = { ...f, device: probe.version.split(' (')[0] };
    if (base) {
      out.baseline = base.value;
      out.ratio = f.value / base.value;
    }
    if (flag('--json')) console.log(JSON.stringify(out));
    else console.log(`${f.config} ${f.precision} ${f.metric}: native-cuda ${f.value.toFixed(0)} vs torch ${base ? base.value.toFixed(0) : 'n/a'}${base ? ` = ${out.ratio!.toFixed(2)}x` : ''}`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
