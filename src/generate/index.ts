export { generateChains, type GenerateOptions, type GenerateProgress, type GenerateSummary, type GenerationFailure, type RetryPolicy } from './runner.js';
export { costOf, sumUsage, type Pricing } from './usage.js';
export { lockOutput } from './lock.js';
