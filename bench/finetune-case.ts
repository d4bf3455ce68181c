/**
 * One case of the fine-tuning section (bench/finetune.ts), in its own process so that its peak resident memory is
 * its own: `tsx bench/finetune-case.ts --config qwen3-0.6b --mode lora --batch 4 --seq 512 [--reps 3]
 * [--warmup 1] [--max-seconds 300]`. Builds a native CPU core of the bench config (random init from seed 1; with
 * --mode lora, LoRA r 16 / alpha 32 on every projection over that frozen base), times training steps (forward,
 * backward, clip, AdamW) and prints one JSON line: tokens/s, step times, process CPU seconds per timed step (all
 * threads), the peak RSS (VmHWM) after creation and at the end, and what the core says it holds.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolveLora } from '../src/arch/lora.js';
import { selectBackend } from '../src/backend/select.js';
import { BENCH_CONFIGS, isBenchConfig, LORA_BENCH } from './configs.js';
import { lastCpuSeconds, measureTrain, median } from './measure.js';

/** VmHWM (peak resident set) of this process, bytes. */
function peakRss(): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return kb ? Number(kb) * 1024 : Number.NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      mode: { type: 'string' },
      batch: { type: 'string' },
      seq: { type: 'string' },
      reps: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      'max-seconds': { type: 'string', default: '300' },
    },
  });
  const name = values.config ?? '';
  if (!isBenchConfig(name)) throw new Error(`unknown bench config ${name}`);
  if (values.mode !== 'full' && values.mode !== 'lora') throw new Error('--mode must be full or lora');
  const [B, T] = [Number(values.batch), Number(values.seq)];
  const config = BENCH_CONFIGS[name]();
  const report = await selectBackend('native');
  const lora = values.mode === 'lora' ? { spec: resolveLora(config, LORA_BENCH) } : undefined;
  const core = await report.createCore(config, { seed: 1, ...(lora ? { lora } : {}) });
  // The init weights of the JS side are garbage now; collect them so the steps' peak is not their leftover.
  (globalThis as { gc?: () => void }).gc?.();
  const createPeak = peakRss();
  const steps = await measureTrain(core, B, T, {
    warmup: Number(values.warmup),
    reps: Number(values.reps),
    maxSeconds: Number(values['max-seconds']),
  });
  const out = {
    tokensPerS: (B * T) / median(steps),
    stepSeconds: steps,
    cpuSecondsPerStep: lastCpuSeconds / steps.length,
    createPeakBytes: createPeak,
    peakRssBytes: peakRss(),
    coreBytes: core.memory().bytes,
  };
  core.dispose();
  console.log(JSON.stringify(out));
}

await main();
