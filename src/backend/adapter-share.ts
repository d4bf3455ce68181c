import type { ModelConfig } from '../arch/config.js';
import { initLoraWeights, type LoraSpec } from '../arch/lora.js';
import { ModelConfigError } from '../errors.js';
import type { AdapterInit, TransformerCore } from './types.js';

/** What withAdapter throws on a core without adapters, on every backend: it has no frozen base to share. */
export function noBaseToShare(): ModelConfigError {
  return new ModelConfigError('withAdapter: this core has no LoRA adapters, so it has no frozen base to share; create the first core with lora: { spec }');
}

/**
 * A core just made over a shared base takes its adapter weights (given, or PEFT's seeded init). If they are refused
 * it is disposed, so the shared base does not keep a reference to a core nobody holds.
 */
export async function withAdapterWeights<C extends TransformerCore>(core: C, config: ModelConfig, lora: LoraSpec, init: AdapterInit): Promise<C> {
  try {
    await core.setWeights(init.lora.weights ?? initLoraWeights(config, lora, init.seed ?? 0));
  } catch (e) {
    core.dispose();
    throw e;
  }
  return core;
}
