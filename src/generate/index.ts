export { generateChains, type GenerateOptions, type GenerateProgress, type GenerateSummary, type GenerationFailure, type RetryPolicy } from './runner.js';
export { BATCH_API_DISCOUNT, batchPricing, costOf, sumUsage, type Pricing, type PricingWithSource } from './usage.js';
export { lockOutput } from './lock.js';
export {
  cancelChainsBatch,
  generateChainsBatch,
  type BatchPollOptions,
  type BatchProgress,
  type CancelBatchOptions,
  type CancelBatchResult,
  type GenerateBatchOptions,
  type GenerateBatchSummary,
} from './batch.js';
export {
  BATCH_ENDPOINT,
  BatchRequestLineSchema,
  BatchResultLineSchema,
  batchCustomId,
  planBatchRequests,
  readResultLine,
  type BatchLineFailure,
  type BatchRequestLine,
  type BatchResultLine,
  type PlannedRequest,
  type PlanOptions,
} from './batch-lines.js';
export { BatchHistoryEntrySchema, BatchJobRecordSchema, BatchStateSchema, batchRequestPath, batchStatePath, readBatchState, type BatchHistoryEntry, type BatchJobRecord, type BatchState } from './batch-state.js';
export type { UnknownResult } from './batch-results.js';
export { ingestBatchResults, writeBatchRequests, type IngestOptions, type IngestSummary, type WriteRequestsOptions, type WriteRequestsSummary } from './offline.js';
export { estimateGeneration, type EstimateOptions, type GenerationEstimate, type PriceEstimate } from './estimate.js';
export { chatTokenCounter, type TokenCounting } from './tokens.js';
