import type { NamedTensor, NamedTensors } from './tensors.js';
import { Rng } from '../util/rng.js';
import { isGPT2Config, type ModelConfig } from './config.js';
import { isNormWeight, numel, paramLayout } from './layout.js';

/**
 * Seeded initialisation, done in JS so every core starts from bit-identical weights for a given seed.
 * - GPT-2 (HF/nanoGPT): weights ~ N(0, initializer_range), residual projections scaled by 1/sqrt(2*n_layer),
 *   biases 0, LayerNorm weight 1.
 * - Llama family (HF _init_weights): every matrix ~ N(0, initializer_range), biases 0, RMSNorm weight 1.
 */
export function initWeights(config: ModelConfig, seed = 0): NamedTensors {
  const out: NamedTensors = new Map();
  for (const [name, tensor] of initWeightStream(config, seed)) out.set(name, tensor);
  return out;
}

/**
 * initWeights one tensor at a time, in paramLayout order, with the same values: a core can write each tensor and
 * drop it, so building a 0.6B model never holds a second whole float32 copy (2.4 GB) beside the core's own.
 */
export function* initWeightStream(config: ModelConfig, seed = 0): Generator<[string, NamedTensor]> {
  const rng = new Rng(seed);
  const std = config.initializer_range;
  const residualStd = isGPT2Config(config) ? std / Math.sqrt(2 * config.n_layer) : std;
  for (const spec of paramLayout(config)) {
    const data = new Float32Array(numel(spec.shape));
    if (isNormWeight(spec)) {
      data.fill(1);
    } else if (spec.shape.length >= 2) {
      const s = spec.residual ? residualStd : std;
      for (let i = 0; i < data.length; i++) data[i] = rng.normal() * s;
    }
    yield [spec.name, { shape: [...spec.shape], data }];
  }
}
