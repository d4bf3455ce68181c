import { createTfjsCore, type TfjsBackendName } from '../src/backend/tfjs/index.js';
import { describeModernParity } from './helpers/modern.js';

// The Llama family (llama: tied GQA; qwen3: q/k norms, untied) on both tfjs backends, against the HF fixtures.
// tfjs-wasm (XNNPACK) sums in another order than torch: its gradients are as close to HF's as HF's float32 is to
// float64 (~2e-6 x max|g|), but one llama gate_proj element with |g| = 1.7e-7 (clipped: 1.7 x Adam's eps) moves
// 1.4e-5 away after the step. As in the GPT-2 suite (tfjs-parity.test.ts), gradients under 1e-6 count as fp32 noise there.
for (const backend of ['cpu', 'wasm'] as TfjsBackendName[]) {
  describeModernParity(`tfjs-${backend} core vs HF`, false, {
    makeCore: (config, weights) => createTfjsCore(config, { backend, weights }),
    ...(backend === 'wasm' ? { tinyGradient: 1e-6 } : {}),
  });
}
