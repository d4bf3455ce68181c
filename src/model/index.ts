export { GPT2, type GPT2BackendOption, type GPT2CreateOptions, type GPT2ForwardOptions, type GPT2LoadOptions } from './gpt2.js';
export { type GeneratedToken, type GenerateOptions } from './generate.js';
export { type SamplingOptions, TokenSampler, argmax } from './sampling.js';
export { CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE, hfConfigJson, readCheckpoint, trimCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.js';
