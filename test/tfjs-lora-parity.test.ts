import { createTfjsCore, type TfjsBackendName } from '../src/backend/tfjs/index.js';
import { describeLoraParity } from './helpers/lora.js';

// The PEFT LoRA fixture (llama, r 4, alpha 8 on every projection) on both tfjs backends.
for (const backend of ['cpu', 'wasm'] as TfjsBackendName[]) {
  describeLoraParity(`tfjs-${backend} LoRA core vs PEFT`, false, {
    makeLoraCore: (config, weights, spec, adapter) => createTfjsCore(config, { backend, weights, lora: { spec, weights: adapter } }),
    makeCore: (config, weights) => createTfjsCore(config, { backend, weights }),
  });
}
