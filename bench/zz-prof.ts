import { resolveLora } from '../src/arch/lora.js';
import { loadNativeAddon } from '../src/backend/native/addon.js';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import { BENCH_CONFIGS, LORA_BENCH } from './configs.js';
import { randomBatch } from './measure.js';
const name = (process.argv[2] ?? 'smollm2-135m') as 'smollm2-135m';
const [B, T] = [Number(process.argv[3] ?? 1), 512];
const a = loadNativeAddon(); const p = probeNativeCpu(); if (!a.ok || !p.ok) throw new Error('x');
const config = BENCH_CONFIGS[name]();
for (const mode of ['lora', 'full']) {
  const core = await p.createCore(config, { seed: 1, ...(mode === 'lora' ? { lora: { spec: resolveLora(config, LORA_BENCH) } } : {}) });
  const batch = randomBatch(config, B, T, 1);
  await core.trainStep(batch, { lr: 1e-4 });
  a.addon.profileReset(); a.addon.profileEnable(true);
  const c0 = process.cpuUsage(); const t0 = performance.now();
  await core.trainStep(batch, { lr: 1e-4 });
  const c = process.cpuUsage(c0);
  a.addon.profileEnable(false);
  console.log(mode, 'wall', ((performance.now() - t0) / 1000).toFixed(2), 'cpu', ((c.user + c.system) / 1e6).toFixed(2), 'bytes', (core.memory().bytes / 2 ** 30).toFixed(2));
  console.log(Object.entries(a.addon.profileGet()).filter(([, s]) => s > 0.01).sort((x, y) => y[1] - x[1]).map(([k, s]) => `${k} ${s.toFixed(2)}`).join(', '));
  core.dispose();
}
