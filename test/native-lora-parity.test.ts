import { loadNativeAddon } from '../src/backend/native/addon.js';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import { describeLoraParity } from './helpers/lora.js';
import { hasModernFixtures } from './helpers/modern.js';

// LoRA on the native CPU core against the PEFT fixture (../shared/fixtures/modern/llama-lora): with the kernels this
// CPU picks, then the built-in AVX2 and portable scalar kernels, forced through gemmSelect as in
// native-llama-parity.test.ts (the adapters' skinny products take the GEMM's few-row and edge paths at r 4).
const probe = probeNativeCpu();
const loaded = loadNativeAddon();
const skipReason = !probe.ok ? `native core unavailable: ${probe.reason}` : !hasModernFixtures ? 'modern fixtures not found' : '';
if (skipReason) console.warn(`[native-lora-parity] skipped: ${skipReason}`);

for (const kernels of ['auto', 'avx2', 'scalar']) {
  const select = (): void => {
    if (!probe.ok || !loaded.ok) throw new Error('native core unavailable');
    loaded.addon.gemmSelect(kernels);
  };
  describeLoraParity(`native CPU core (${kernels} kernels) LoRA matches PEFT`, !!skipReason, {
    makeLoraCore: async (config, base, spec, adapter) => {
      select();
      if (!probe.ok) throw new Error('native core unavailable');
      return probe.createCore(config, { weights: base, lora: { spec, weights: adapter } });
    },
    makeCore: async (config, weights) => {
      select();
      if (!probe.ok) throw new Error('native core unavailable');
      return probe.createCore(config, { weights });
    },
  });
}
