export { GPT2, type GPT2BackendOption, type GPT2CreateOptions, type GPT2ForwardOptions, type GPT2LoadOptions } from './gpt2.js';
export { type GeneratedToken, type GenerateOptions } from './generate.js';
export { type SamplingOptions, TokenSampler, argmax } from './sampling.js';
export {
  CONFIG_FILE,
  VOCAB_FILE,
  WEIGHTS_FILE,
  checkpointFiles,
  hfConfigJson,
  parseCheckpoint,
  trimCheckpoint,
  type Checkpoint,
  type CheckpointFiles,
} from './checkpoint.js';
// readCheckpoint/writeCheckpoint (./checkpoint-fs.js) touch node:fs; import them directly where Node is certain.
