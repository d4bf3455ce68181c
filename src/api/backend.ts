// socratic-distill/backend: the TransformerCore interface under CausalLM, the architectures' shapes and init, LoRA layouts,
// checkpoint, PEFT adapter and safetensors I/O.
export type * from '../backend/types.js';
export { ADAMW_DEFAULTS } from '../backend/types.js';
export { selectBackend } from '../backend/select.js';
export {
  archDims,
  GPT2ConfigSchema,
  parseGPT2Config,
  parseModelConfig,
  presetConfig,
  PRESETS,
  SUPPORTED_MODEL_TYPES,
  type ArchDims,
  type GPT2Config,
  type GPT2ConfigInput,
  type ModelConfig,
  type PresetName,
} from '../arch/config.js';
export { LlamaConfigSchema, parseLlamaConfig, type LlamaConfig, type LlamaConfigInput } from '../arch/llama.js';
export { paramLayout, countParams, type ParamSpec } from '../arch/layout.js';
export { initWeights } from '../arch/init.js';
export {
  fromPeftName,
  initLoraWeights,
  LORA_TARGETS,
  loraLayout,
  LoraOptionsSchema,
  loraScale,
  mergeLoraWeights,
  peftName,
  resolveLora,
  type LoraOptions,
  type LoraSpec,
  type LoraTensorSpec,
} from '../arch/lora.js';
export type { NamedTensor, NamedTensors } from '../arch/tensors.js';
export { readSafetensors, parseSafetensors, writeSafetensors, serializeSafetensors, type SafetensorsFile, type RawTensor, type SafetensorsDtype } from '../io/safetensors.js';
export {
  checkpointFiles,
  gpt2CheckpointFiles,
  hfConfigJson,
  parseCheckpoint,
  parseGPT2Checkpoint,
  trimGPT2Checkpoint,
  type Checkpoint,
  type CheckpointFiles,
  type GPT2Checkpoint,
  type GPT2CheckpointFiles,
  type SavedCheckpointFiles,
} from '../model/index.js';
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  AdapterConfigJsonSchema,
  adapterConfigJson,
  adapterSafetensors,
  adapterSpec,
  adapterWeights,
  parseAdapterConfig,
  type AdapterConfig,
  type AdapterConfigJson,
  type AdapterFiles,
  type SavedAdapterFiles,
} from '../model/adapter.js';
export { TokenSampler, argmax } from '../model/sampling.js';
export { decodeGpt2, encodeGpt2, END_OF_TEXT, GPT2_EOS_ID, GPT2_VOCAB_SIZE } from '../tokenizer/bpe.js';
export { TokenizerConfigJsonSchema, TokenizerJsonSchema } from '../tokenizer/hf-tokenizer.js';
export { Rng } from '../util/rng.js';
