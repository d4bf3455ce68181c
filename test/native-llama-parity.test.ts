import { loadNativeAddon } from '../src/backend/native/addon.js';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import { describeModernParity, hasModernFixtures } from './helpers/modern.js';

// The Llama family (llama: SmolLM2-style tied GQA; qwen3: q/k norms, untied) on the native CPU core against the HF
// golden fixtures of ../shared/fixtures/modern: with the kernels this CPU picks (OpenBLAS if the build linked it),
// then on the built-in AVX2 and portable scalar kernels (GEMM and the direct attention of attn_isa.h), forced
// through gemmSelect as in native-parity-kernels.test.ts. Each core is built through makeCore, which switches the
// process-wide kernels first; the describe blocks of one file run one after another.
const probe = probeNativeCpu();
const loaded = loadNativeAddon();
const skipReason = !probe.ok ? `native core unavailable: ${probe.reason}` : !hasModernFixtures ? 'modern fixtures not found' : '';
if (skipReason) console.warn(`[native-llama-parity] skipped: ${skipReason}`);

for (const kernels of ['auto', 'avx2', 'scalar']) {
  describeModernParity(`native CPU core (${kernels} kernels) matches the HF Llama-family fixtures`, !!skipReason, {
    makeCore: async (config, weights) => {
      if (!probe.ok || !loaded.ok) throw new Error('native core unavailable');
      loaded.addon.gemmSelect(kernels);
      return probe.createCore(config, { weights });
    },
  });
}
