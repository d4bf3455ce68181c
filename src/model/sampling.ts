import { ShapeError } from '../errors.js';
import { Rng } from '../util/rng.js';

export interface SamplingOptions {
  /** Argmax decoding. The default unless temperature/topK/topP is given; cannot be combined with them. */
  greedy?: boolean;
  /** Softmax temperature (> 0). 0 means greedy. Default 1 when sampling. */
  temperature?: number;
  /** Keep only the k most likely tokens (ties with the k-th are kept, as in HF). */
  topK?: number;
  /** Nucleus sampling: keep the most likely tokens until their mass reaches topP, in (0, 1]. */
  topP?: number;
  /** Seed for the sampler's Rng, so sampled generations are reproducible. Default: a random seed. */
  seed?: number;
}

type Plan = { greedy: true } | { greedy: false; temperature: number; topK: number | undefined; topP: number | undefined };

function plan(o: SamplingOptions): Plan {
  const { temperature, topK, topP } = o;
  const anySampling = temperature !== undefined || topK !== undefined || topP !== undefined;
  if (o.greedy === true && anySampling && temperature !== 0) {
    throw new ShapeError('generate: greedy: true cannot be combined with temperature/topK/topP; drop greedy to sample');
  }
  if (temperature !== undefined && !(Number.isFinite(temperature) && temperature >= 0)) {
    throw new ShapeError(`generate: temperature must be a finite number >= 0, got ${temperature}`);
  }
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1)) throw new ShapeError(`generate: topK must be an integer >= 1, got ${topK}`);
  if (topP !== undefined && !(topP > 0 && topP <= 1)) throw new ShapeError(`generate: topP must be in (0, 1], got ${topP}`);
  if (o.greedy === true || temperature === 0 || (o.greedy !== false && !anySampling)) return { greedy: true };
  return { greedy: false, temperature: temperature ?? 1, topK, topP };
}

/** Index of the largest value in logits[offset, offset + n); the first one on ties (like torch.argmax). */
export function argmax(logits: ArrayLike<number>, offset: number, n: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = logits[offset + i]!;
    if (v > bestValue || (Number.isNaN(bestValue) && !Number.isNaN(v))) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/**
 * Picks the next token from one row of logits: greedy, or temperature -> top-k ->
 * top-p -> a draw from the seeded Rng, with HF's order and tie rules.
 */
export class TokenSampler {
  readonly greedy: boolean;
  private readonly plan: Plan;
  private readonly rng: Rng;

  constructor(options: SamplingOptions = {}) {
    this.plan = plan(options);
    this.greedy = this.plan.greedy;
    const seed = options.seed ?? randomSeed();
    if (!Number.isInteger(seed)) throw new ShapeError(`generate: seed must be an integer, got ${seed}`);
    this.rng = new Rng(seed);
  }

  pick(logits: ArrayLike<number>, offset: number, vocab: number): number {
    const p = this.plan;
    if (p.greedy) return argmax(logits, offset, vocab);
    const invT = 1 / p.temperature;
    const scores = new Float64Array(vocab);
    for (let i = 0; i < vocab; i++) {
      const v = logits[offset + i]! * invT;
      scores[i] = Number.isNaN(v) ? -Infinity : v;
    }
    let candidates = Array.from({ length: vocab }, (_, i) => i);
    if (p.topK !== undefined && p.topK < vocab) {
      const kth = Float64Array.from(scores).sort()[vocab - p.topK]!;
      candidates = candidates.filter((i) => scores[i]! >= kth);
    }
    const score = (i: number): number => scores[i]!;
    candidates.sort((a, b) => score(b) - score(a) || a - b);
    const max = score(candidates[0]!);
    const weights = candidates.map((i) => Math.exp(score(i) - max));
    let total = weights.reduce((a, b) => a + b, 0);
    if (p.topP !== undefined && p.topP < 1) {
      // Keep a token while the mass strictly above it is < topP (HF removes it once that mass reaches topP).
      let above = 0;
      let keep = 0;
      while (keep < candidates.length && (keep === 0 || above / total < p.topP)) above += weights[keep++]!;
      candidates.length = keep;
      weights.length = keep;
      total = above;
    }
    let u = this.rng.next() * total;
    for (let j = 0; j < candidates.length; j++) {
      u -= weights[j]!;
      if (u < 0) return candidates[j]!;
    }
    return candidates[candidates.length - 1]!;
  }
}

function randomSeed(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!;
}
