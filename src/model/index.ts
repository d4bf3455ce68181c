/**
 * What the trainer needs from a model's core, reached through model/ so that train/ and
 * students/ depend on the model alone and never import a backend.
 */
export type { LabeledBatch, OptimizerState } from '../backend/types.js';
export { ADAMW_DEFAULTS } from '../backend/types.js';
export {
  CausalLM,
  type CausalLMAdapterOptions,
  type CausalLMBackendOption,
  type CausalLMCreateOptions,
  type CausalLMFilesOptions,
  type CausalLMLoadOptions,
  type CausalLMLoraOption,
  type CausalLMSaveOptions,
  type ForwardOptions,
  type ModelConfigInput,
} from './causal-lm.js';
export { GPT2, type GPT2BackendOption, type GPT2CreateOptions, type GPT2FilesOptions, type GPT2ForwardOptions, type GPT2LoadOptions } from './gpt2.js';
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  AdapterConfigJsonSchema,
  parseAdapterConfig,
  type AdapterConfig,
  type AdapterFiles,
  type SavedAdapterFiles,
} from './adapter.js';
export { type GeneratedToken, type GPT2GenerateOptions } from './generate.js';
export { type SamplingOptions, TokenSampler, argmax } from './sampling.js';
export type { TrainingSurface } from './training.js';
export {
  checkpointFiles,
  checkpointFiles as gpt2CheckpointFiles,
  hfConfigJson,
  parseCheckpoint,
  parseCheckpoint as parseGPT2Checkpoint,
  trimCheckpoint as trimGPT2Checkpoint,
  ASSET_FILES,
  WEIGHTS_INDEX_FILE,
  type Checkpoint,
  type Checkpoint as GPT2Checkpoint,
  type CheckpointFiles,
  type CheckpointFiles as GPT2CheckpointFiles,
  type SavedCheckpointFiles,
} from './checkpoint.js';
export { isPlainFileName, parseShardIndex, ShardIndexJsonSchema, type ShardIndex } from './checkpoint-shards.js';
export { GENERATION_CONFIG_FILE, GenerationConfigJsonSchema, type GenerationConfigJson } from './hf-config.js';
// readCheckpoint/writeCheckpoint (./checkpoint-fs.js) touch node:fs; import them directly where Node is certain.
