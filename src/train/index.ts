export type { TokenCodec } from './codec.js';
export { IGNORE_INDEX, batchLossTokens, collate, encodePair, encodePairs, lossTokens, planEpoch, type EncodeOptions, type EncodedExample } from './examples.js';
export { warmupCosineLr } from './schedule.js';
export { loadCheckpoint, saveCheckpoint, TrainerStateSchema, type TrainerState } from './checkpoint.js';
export { evaluateLoss, train, type TrainOptions, type TrainProgress, type TrainResult } from './trainer.js';
