import type { NamedTensors } from './tensors.js';
import { Rng } from '../util/rng.js';
import type { GPT2Config } from './config.js';
import { numel, paramLayout } from './layout.js';

/**
 * GPT-2 initialisation (HF/nanoGPT): weights ~ N(0, initializer_range), residual
 * projections scaled by 1/sqrt(2*n_layer), biases 0, LayerNorm weight 1.
 * Done in JS so every core starts from bit-identical weights for a given seed.
 */
export function initWeights(config: GPT2Config, seed = 0): NamedTensors {
  const rng = new Rng(seed);
  const std = config.initializer_range;
  const out: NamedTensors = new Map();
  for (const spec of paramLayout(config)) {
    const data = new Float32Array(numel(spec.shape));
    const isLayerNormWeight = /\.ln_[12f]\.weight$|ln_f\.weight$/.test(spec.name);
    if (isLayerNormWeight) {
      data.fill(1);
    } else if (spec.shape.length >= 2) {
      const s = spec.residual ? std / Math.sqrt(2 * config.n_layer) : std;
      for (let i = 0; i < data.length; i++) data[i] = rng.normal() * s;
    }
    out.set(spec.name, { shape: [...spec.shape], data });
  }
  return out;
}
