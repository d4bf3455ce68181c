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
