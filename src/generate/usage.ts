import type { TokenUsage } from '../data/schema.js';

/** Prices in USD per million tokens. No defaults: prices change, so the caller states them. */
export interface Pricing {
  promptPerMillion: number;
  completionPerMillion: number;
}

export function sumUsage(into: TokenUsage, add: TokenUsage | undefined): TokenUsage {
  if (add) {
    into.promptTokens += add.promptTokens;
    into.completionTokens += add.completionTokens;
  }
  return into;
}

/** Cost in USD, or null when no pricing was given. */
export function costOf(usage: TokenUsage, pricing: Pricing | undefined): number | null {
  if (!pricing) return null;
  return (usage.promptTokens * pricing.promptPerMillion + usage.completionTokens * pricing.completionPerMillion) / 1e6;
}

/** Pricing with a note of where the prices came from, printed beside every cost computed with it. */
export interface PricingWithSource extends Pricing {
  source: string;
}

/** The OpenAI Batch API bills 50% of the live price (platform.openai.com/docs/guides/batch); other providers differ. */
export const BATCH_API_DISCOUNT = 0.5;

/** Batch prices from live ones: `discount` of each (default: the OpenAI Batch API's 50%). */
export function batchPricing(live: Pricing, discount: number = BATCH_API_DISCOUNT): Pricing {
  return { promptPerMillion: live.promptPerMillion * discount, completionPerMillion: live.completionPerMillion * discount };
}
