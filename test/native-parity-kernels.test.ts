import { loadNativeAddon } from '../src/backend/native/addon.js';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import { hasFixtures } from './helpers/fixtures.js';
import { describeFixtureParity } from './helpers/parity.js';

// The fixture parity suite of native-parity.test.ts again, on the built-in sgemm (what the prebuilt
// package runs; native-parity.test.ts covers OpenBLAS when the build linked it) and on its portable
// scalar kernels, forced through gemmSelect. Each test builds its core through makeCore, which
// switches the process-wide kernels first; the tests of one file run one after another.
const probe = probeNativeCpu();
const loaded = loadNativeAddon();
const skipReason = !probe.ok ? `native core unavailable: ${probe.reason}` : !hasFixtures ? 'GPT-2 fixtures not found' : '';
if (skipReason) console.warn(`[native-parity-kernels] skipped: ${skipReason}`);

for (const kernels of ['builtin', 'scalar']) {
  describeFixtureParity(`native CPU core matches the HF GPT-2 fixtures with the ${kernels} sgemm`, !!skipReason, {
    makeCore: async (config, weights) => {
      if (!probe.ok || !loaded.ok) throw new Error('native core unavailable');
      loaded.addon.gemmSelect(kernels);
      return probe.createCore(config, { weights });
    },
    accumulation: { lossDigits: 6, rescale: 1e-6 },
    adamwRule: (res) => ({ tinyGradient: 1e-7, gradScale: res.clipCoef, wteRows: 'same', maxLooseFraction: 0.03 }),
  });
}
