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
import type { BackendReport } from '../src/backend/types.js';
import type { ModelConfig } from '../src/arch/config.js';
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
  if (values.mode !== 'full' && values.mode !== 'lora' && values.mode !== 'paired') throw new Error('--mode must be full, lora or paired');
  const [B, T] = [Number(values.batch), Number(values.seq)];
  const config = BENCH_CONFIGS[name]();
  const report = await selectBackend('native');
  if (values.mode === 'paired') {
    console.log(JSON.stringify(await paired(report, config, B, T, Number(values.warmup), Number(values.reps))));
    return;
  }
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

/**
 * --mode paired: a LoRA core and a full core of the same init, both alive, trained in alternating steps (LoRA,
 * full, LoRA, full, ...), so a drift of this machine's speed between minutes-apart child processes falls on both
 * alike and their ratio is the step's own. Its memory is both cores' at once, so it reports no peak.
 */
async function paired(report: BackendReport, config: ModelConfig, B: number, T: number, warmup: number, reps: number): Promise<object> {
  const lora = await report.createCore(config, { seed: 1, lora: { spec: resolveLora(config, LORA_BENCH) } });
  const full = await report.createCore(config, { seed: 1 });
  const once = { warmup: 0, reps: 1, maxSeconds: Number.POSITIVE_INFINITY };
  const steps = { lora: [] as number[], full: [] as number[] };
  for (let i = 0; i < warmup + reps; i++) {
    const l = await measureTrain(lora, B, T, once);
    const f = await measureTrain(full, B, T, once);
    if (i < warmup) continue;
    steps.lora.push(...l);
    steps.full.push(...f);
  }
  lora.dispose();
  full.dispose();
  return {
    loraTokensPerS: (B * T) / median(steps.lora),
    fullTokensPerS: (B * T) / median(steps.full),
    loraStepSeconds: steps.lora,
    fullStepSeconds: steps.full,
  };
}

await main();
