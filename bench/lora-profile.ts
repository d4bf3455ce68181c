/**
 * `npx tsx bench/lora-profile.ts [config] [batch]` (default smollm2-135m 4): a LoRA r 16 core and a full core of
 * the bench config, one after the other in one process (so a drift of the machine between separate child
 * processes does not enter their ratio), each 1 warm-up step then 2 profiled training steps at batch x 512,
 * printing the median step and the native per-kernel wall time per step. Peak memory is the fine-tuning section's
 * job (bench/finetune.ts, one case per process); this script only explains where the LoRA step's time goes.
 */
import { resolveLora } from '../src/arch/lora.js';
import { loadNativeAddon } from '../src/backend/native/addon.js';
import { selectBackend } from '../src/backend/select.js';
import { BENCH_CONFIGS, LORA_BENCH } from '../bench/configs.js';
import { measureTrain, median } from '../bench/measure.js';

const name = (process.argv[2] ?? 'smollm2-135m') as keyof typeof BENCH_CONFIGS;
const [B, T] = [Number(process.argv[3] ?? 4), 512];
const addon = loadNativeAddon();
if (!addon.ok) throw new Error('no addon');
const config = BENCH_CONFIGS[name]();
const report = await selectBackend('native');
for (const mode of ['lora', 'full']) {
  const lora = mode === 'lora' ? { spec: resolveLora(config, LORA_BENCH) } : undefined;
  const core = await report.createCore(config, { seed: 1, ...(lora ? { lora } : {}) });
  await measureTrain(core, B, T, { warmup: 0, reps: 1, maxSeconds: 300 });
  addon.addon.profileReset();
  addon.addon.profileEnable(true);
  const steps = await measureTrain(core, B, T, { warmup: 0, reps: 2, maxSeconds: 300 });
  addon.addon.profileEnable(false);
  console.log(mode, B, T, 'median step', median(steps).toFixed(2), 's');
  for (const [k, s] of Object.entries(addon.addon.profileGet()).sort((a, b) => b[1] - a[1])) if (s > 0) console.log('  ', k.padEnd(20), (s / steps.length * 1000).toFixed(0), 'ms');
  core.dispose();
}
