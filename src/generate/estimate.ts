import { SocraticChainSchema, type Problem } from '../data/schema.js';
import { readJsonl } from '../io/jsonl.js';
import type { BatchableTeacher } from '../teacher/batch.js';
import type { TeacherMode } from '../teacher/types.js';
import { batchCustomId, planBatchRequests, type PlannedRequest } from './batch-lines.js';
import { chatTokenCounter, type TokenCounting } from './tokens.js';
import type { Pricing, PricingWithSource } from './usage.js';

export interface EstimateOptions {
  teacher: BatchableTeacher;
  problems: readonly Problem[];
  mode?: TeacherMode;
  samplesPerProblem?: number;
  temperature?: number;
  /** A chains file: samples already in it are not counted (what a resumed run would still send). */
  out?: string;
  /** Live (synchronous) prices. */
  livePricing?: Pricing | PricingWithSource;
  /** Batch prices. */
  batchPricing?: Pricing | PricingWithSource;
}

export interface PriceEstimate {
  pricing: PricingWithSource;
  promptUSD: number;
  /** If every reply used all of `max_tokens`. */
  completionUpperBoundUSD: number;
  upperBoundUSD: number;
}

/** What a generate run would send, counted before anything is sent. */
export interface GenerationEstimate {
  /** Request lines: one per (problem, sample) still missing. */
  requests: number;
  problems: number;
  samplesPerProblem: number;
  /** Samples already in `out`, left out of the count. */
  alreadyDone: number;
  model: string;
  promptTokens: number;
  counting: TokenCounting;
  maxTokens: number;
  /** requests x max_tokens: no reply can bill more. */
  completionTokensUpperBound: number;
  live: PriceEstimate | null;
  batch: PriceEstimate | null;
}

function price(pricing: Pricing | PricingWithSource | undefined, promptTokens: number, completionUpper: number): PriceEstimate | null {
  if (!pricing) return null;
  const promptUSD = (promptTokens * pricing.promptPerMillion) / 1e6;
  const completionUpperBoundUSD = (completionUpper * pricing.completionPerMillion) / 1e6;
  return {
    pricing: { promptPerMillion: pricing.promptPerMillion, completionPerMillion: pricing.completionPerMillion, source: 'source' in pricing ? pricing.source : 'given by the caller' },
    promptUSD,
    completionUpperBoundUSD,
    upperBoundUSD: promptUSD + completionUpperBoundUSD,
  };
}

/** The estimate of a plan of request lines (what `generateChainsBatch` checks against `maxCostUSD`). */
export async function estimatePlan(
  plan: readonly PlannedRequest[],
  teacher: Pick<BatchableTeacher, 'model' | 'maxTokens'>,
  pricing: { live?: Pricing | PricingWithSource | undefined; batch?: Pricing | PricingWithSource | undefined },
): Promise<Pick<GenerationEstimate, 'requests' | 'model' | 'promptTokens' | 'counting' | 'maxTokens' | 'completionTokensUpperBound' | 'live' | 'batch'>> {
  const { count, counting } = await chatTokenCounter(teacher.model);
  let promptTokens = 0;
  let completionTokensUpperBound = 0;
  for (const p of plan) {
    promptTokens += count(p.line.body.messages);
    completionTokensUpperBound += p.line.body.max_tokens;
  }
  return {
    requests: plan.length,
    model: teacher.model,
    promptTokens,
    counting,
    maxTokens: teacher.maxTokens,
    completionTokensUpperBound,
    live: price(pricing.live, promptTokens, completionTokensUpperBound),
    batch: price(pricing.batch, promptTokens, completionTokensUpperBound),
  };
}

/**
 * Count what generating chains would send and could cost, without sending anything: the request count, the
 * prompt tokens (the model's tokenizer where the library has it, else a stated approximation), an upper bound
 * on completion tokens from `max_tokens`, and the price live and in batch for the prices given.
 * The bound is for one reply per request; the live path re-samples off-format replies, which bills them again.
 */
export async function estimateGeneration(options: EstimateOptions): Promise<GenerationEstimate> {
  const samplesPerProblem = options.samplesPerProblem ?? 1;
  const done = new Set<string>();
  if (options.out) for (const c of (await readJsonl(options.out, SocraticChainSchema)).records) done.add(batchCustomId(c.problemId, c.teacher.sampleIndex));
  const plan = planBatchRequests({
    teacher: options.teacher,
    problems: options.problems,
    mode: options.mode ?? 'socratic',
    samplesPerProblem,
    ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
    skip: (id, i) => done.has(batchCustomId(id, i)),
  });
  const total = options.problems.length * samplesPerProblem;
  return {
    ...(await estimatePlan(plan, options.teacher, { live: options.livePricing, batch: options.batchPricing })),
    problems: options.problems.length,
    samplesPerProblem,
    alreadyDone: total - plan.length,
  };
}
