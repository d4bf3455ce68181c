import { probeNativeCpu } from '../src/backend/native/probe.js';
import { describeModernParity, hasModernFixtures } from './helpers/modern.js';

// The Llama family (llama: SmolLM2-style tied GQA; qwen3: q/k norms, untied) on the native CPU core against the HF
// golden fixtures of ../shared/fixtures/modern.
const probe = probeNativeCpu();
const skipReason = !probe.ok ? `native core unavailable: ${probe.reason}` : !hasModernFixtures ? 'modern fixtures not found' : '';
if (skipReason) console.warn(`[native-llama-parity] skipped: ${skipReason}`);

describeModernParity('native CPU core matches the HF Llama-family fixtures', !!skipReason, {
  makeCore: async (config, weights) => {
    if (!probe.ok) throw new Error(probe.reason);
    return probe.createCore(config, { weights });
  },
});
