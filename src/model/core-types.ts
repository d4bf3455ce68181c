/**
 * What the trainer needs from a model's core, reached through model/ so that train/ and
 * students/ depend on the model (CausalLM and its TrainingSurface) alone and never import a backend.
 */
export type { LabeledBatch, OptimizerState } from '../backend/types.js';
export { ADAMW_DEFAULTS } from '../backend/types.js';
export type { TrainingSurface } from './training.js';
