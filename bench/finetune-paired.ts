/**
 * The drift-free LoRA / full speed ratio of the fine-tuning section (issue #19): for each config and shape, one
 * child process (bench/finetune-case.ts --mode paired) holds a LoRA core and a full core of the same init and
 * trains them in alternating steps. The per-mode cases of bench/finetune.ts run minutes apart, and this VM's speed
 * drifts between such windows by more than the effect (a full smollm2-135m step measured 160.9 and 122.4 tok/s in
 * two windows of one run); alternating steps put any drift on both modes alike. Peak memory stays the per-mode
 * cases' figure: this process holds both models at once.
 */
import { resolve } from 'node:path';
import type { NativeAddon } from '../src/backend/native/addon.js';
import { type BenchConfigName, FINETUNE_SHAPES } from './configs.js';
import { type FinetuneOptions, NATIVE_OVERHEAD, nativeEstimate, runGuarded } from './finetune.js';

export interface PairedResult {
  config: BenchConfigName;
  B: number;
  T: number;
  status: 'measured' | 'refused' | 'stopped' | 'failed';
  reason: string | null;
  loraTokensPerS: number | null;
  fullTokensPerS: number | null;
  /** Steps timed per mode, after the warm-up step of each. */
  samples: number;
  load: number;
}

export async function runPaired(addon: NativeAddon, configs: BenchConfigName[], o: FinetuneOptions): Promise<PairedResult[]> {
  const caseScript = resolve(import.meta.dirname ?? '.', 'finetune-case.ts');
  const budget = o.quick ? ['--warmup', '1', '--reps', '2'] : ['--warmup', '1', '--reps', '3'];
  const out: PairedResult[] = [];
  for (const config of configs) {
    for (const [B, T] of FINETUNE_SHAPES) {
      // Both cores at once: their two plans, one runtime.
      const estimate = nativeEstimate(addon, config, 'lora', B, T) + nativeEstimate(addon, config, 'full', B, T) - NATIVE_OVERHEAD;
      const args = ['--config', config, '--mode', 'paired', '--batch', String(B), '--seq', String(T), ...budget];
      const r = await runGuarded(estimate, [process.execPath, [...process.execArgv, '--expose-gc', caseScript, ...args]], o.limitBytes);
      const base = { config, B, T, load: r.load };
      if (r.status !== 'measured') {
        out.push({ ...base, status: r.status, reason: r.reason, loraTokensPerS: null, fullTokensPerS: null, samples: 0 });
      } else {
        const j = r.json as { loraTokensPerS: number; fullTokensPerS: number; loraStepSeconds: number[] };
        out.push({ ...base, status: 'measured', reason: null, loraTokensPerS: j.loraTokensPerS, fullTokensPerS: j.fullTokensPerS, samples: j.loraStepSeconds.length });
      }
      o.log(pairedRow(out.at(-1)!));
    }
  }
  return out;
}

export const pairedRatio = (r: PairedResult): number | null => (r.loraTokensPerS && r.fullTokensPerS ? r.loraTokensPerS / r.fullTokensPerS : null);

export const PAIRED_HEAD =
  '| config | B x T | LoRA r 16 tokens/s | full tokens/s | LoRA / full (target >= 1.4x) | steps per mode | load 1m | note |\n|---|---|---|---|---|---|---|---|';

export function pairedRow(r: PairedResult): string {
  const f = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(1));
  const ratio = pairedRatio(r);
  const verdict = ratio === null ? 'n/a' : `${ratio.toFixed(2)}x ${ratio >= 1.4 ? 'met' : '**not met**'}`;
  return `| ${r.config} | ${r.B}x${r.T} | ${f(r.loraTokensPerS)} | ${f(r.fullTokensPerS)} | ${verdict} | ${r.samples} | ${r.load.toFixed(2)} | ${r.status === 'measured' ? '' : `${r.status}: ${r.reason}`} |`;
}
