import { createTfjsCore, type TfjsBackendName } from '../src/backend/tfjs/index.js';
import { tf } from '../src/backend/tfjs/runtime.js';
import { describeSharedBase } from './helpers/loraShare.js';

// TfjsCore.withAdapter (issue 19: the Iterative pair's two adapters over one base in memory) on both tfjs backends:
// the second core reuses the first's base tensors, so a fresh one holds its adapter tensors alone (4 bytes a float).
for (const backend of ['cpu', 'wasm'] as TfjsBackendName[]) {
  describeSharedBase(`tfjs-${backend} core: withAdapter over a shared base`, false, {
    makeLoraCore: (config, weights, spec, adapter) => createTfjsCore(config, { backend, weights, lora: { spec, weights: adapter } }),
    makeCore: (config, weights) => createTfjsCore(config, { backend, weights }),
    ownBytes: (floats) => 4 * floats,
    liveCount: () => tf.memory().numTensors,
  });
}
