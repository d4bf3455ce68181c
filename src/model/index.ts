export { GPT2, type GPT2BackendOption, type GPT2CreateOptions, type GPT2ForwardOptions, type GPT2LoadOptions } from './gpt2.js';
export { type GeneratedToken, type GPT2GenerateOptions } from './generate.js';
export { type SamplingOptions, TokenSampler, argmax } from './sampling.js';
export {
  checkpointFiles as gpt2CheckpointFiles,
  hfConfigJson,
  parseCheckpoint as parseGPT2Checkpoint,
  trimCheckpoint as trimGPT2Checkpoint,
  type Checkpoint as GPT2Checkpoint,
  type CheckpointFiles as GPT2CheckpointFiles,
} from './checkpoint.js';
// readCheckpoint/writeCheckpoint (./checkpoint-fs.js) touch node:fs; import them directly where Node is certain.
