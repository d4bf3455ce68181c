// socratic-distill/backend: the TransformerCore interface under GPT2, GPT-2 shapes and init, safetensors I/O.
export type * from '../backend/types.js';
export { ADAMW_DEFAULTS } from '../backend/types.js';
export { selectBackend } from '../backend/select.js';
export { GPT2ConfigSchema, parseGPT2Config, presetConfig, PRESETS, type GPT2Config, type GPT2ConfigInput, type PresetName } from '../arch/config.js';
export { paramLayout, countParams, type ParamSpec } from '../arch/layout.js';
export { initWeights } from '../arch/init.js';
export type { NamedTensor, NamedTensors } from '../arch/tensors.js';
export { readSafetensors, parseSafetensors, writeSafetensors, serializeSafetensors, type SafetensorsFile, type RawTensor, type SafetensorsDtype } from '../io/safetensors.js';
export { gpt2CheckpointFiles, hfConfigJson, parseGPT2Checkpoint, trimGPT2Checkpoint, type GPT2Checkpoint, type GPT2CheckpointFiles } from '../model/index.js';
export { TokenSampler, argmax } from '../model/sampling.js';
export { decodeGpt2, encodeGpt2, END_OF_TEXT, GPT2_EOS_ID, GPT2_VOCAB_SIZE } from '../tokenizer/bpe.js';
export { Rng } from '../util/rng.js';
