// Public API of socratic-distill. Everything a user imports comes from here.
export * from './errors.js';
export { GPT2ConfigSchema, parseGPT2Config, presetConfig, PRESETS, type GPT2Config, type GPT2ConfigInput, type PresetName } from './arch/config.js';
export { paramLayout, countParams, type ParamSpec } from './arch/layout.js';
export { initWeights } from './arch/init.js';
export { Rng } from './util/rng.js';
export type * from './backend/types.js';
// Socratic data, teachers, verification and generation (no tensors).
export * from './data/index.js';
export * from './teacher/index.js';
export * from './verify/index.js';
export * from './generate/index.js';
// GPT-2 model, tokenizer and backend selection.
export { selectBackend } from './backend/select.js';
export * from './model/index.js';
export * from './tokenizer/index.js';
export { readSafetensors, parseSafetensors, writeSafetensors, serializeSafetensors, type SafetensorsFile, type RawTensor, type SafetensorsDtype } from './io/safetensors.js';
// Training formats, trainer, students, evaluator and the embedded demo.
export * from './format/index.js';
export {
  train as trainCore,
  evaluateLoss,
  encodePair,
  encodePairs,
  collate,
  planEpoch,
  IGNORE_INDEX,
  warmupCosineLr,
  saveCheckpoint as saveTrainerCheckpoint,
  loadCheckpoint as loadTrainerCheckpoint,
  TrainerStateSchema,
  type TrainerState,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
  type EncodeOptions,
  type EncodedExample,
  type TokenCodec,
} from './train/index.js';
export * from './students/index.js';
export * from './eval/index.js';
export * from './demo/index.js';
export * from './reproduce/index.js';
