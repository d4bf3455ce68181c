export { formatDuration, measureThroughput, modelExamples, PAPER_MODELS, plannedTokens, type PlanModel, type Throughput } from './plan.js';
export { loadGsm8kSplits, readCheckpointConfig, reproducePaper, type ReproduceOptions, type ReproduceResult, type TimeEstimate } from './run.js';
