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

  private scores = new Float64Array(0);
  private weights = new Float64Array(0);

  pick(logits: ArrayLike<number>, offset: number, vocab: number): number {
    const p = this.plan;
    if (p.greedy) return argmax(logits, offset, vocab);
    if (this.scores.length !== vocab) {
      this.scores = new Float64Array(vocab);
      this.weights = new Float64Array(vocab);
    }
    const { scores, weights } = this;
    const invT = 1 / p.temperature;
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) {
      const v = logits[offset + i]! * invT;
      scores[i] = Number.isNaN(v) ? -Infinity : v;
      if (scores[i]! > max) max = scores[i]!;
    }
    // top-k: everything below the k-th largest score gets weight 0 (ties with it survive, as in HF).
    const floor = p.topK !== undefined && p.topK < vocab ? kthLargest(scores, p.topK) : -Infinity;
    let total = 0;
    for (let i = 0; i < vocab; i++) {
      const w = scores[i]! >= floor ? Math.exp(scores[i]! - max) : 0;
      weights[i] = w;
      total += w;
    }
    if (p.topP === undefined || p.topP >= 1) return this.draw(weights, total);
    return this.drawNucleus(weights, total, p.topP);
  }

  /** One draw from unnormalised weights, walking ids in order. */
  private draw(weights: Float64Array, total: number): number {
    let u = this.rng.next() * total;
    let last = 0;
    for (let i = 0; i < weights.length; i++) {
      if (weights[i]! <= 0) continue;
      last = i;
      u -= weights[i]!;
      if (u < 0) return i;
    }
    return last;
  }

  /**
   * Keep a token while the mass strictly above it is < topP (HF drops it once that mass reaches
   * topP). Tokens lighter than total*(1-topP)/V together weigh at most (1-topP): none of them can
   * be in the nucleus, so only the heavier ones need sorting.
   */
  private drawNucleus(weights: Float64Array, total: number, topP: number): number {
    const cut = ((total * (1 - topP)) / weights.length) * (1 - 1e-9);
    const candidates: number[] = [];
    for (let i = 0; i < weights.length; i++) if (weights[i]! > cut) candidates.push(i);
    candidates.sort((a, b) => weights[b]! - weights[a]! || a - b);
    let above = 0;
    let keep = 0;
    while (keep < candidates.length && (keep === 0 || above / total < topP)) above += weights[candidates[keep++]!]!;
    let u = this.rng.next() * above;
    for (let j = 0; j < keep; j++) {
      u -= weights[candidates[j]!]!;
      if (u < 0) return candidates[j]!;
    }
    return candidates[keep - 1]!;
  }
}

/** k-th largest value via a size-k min-heap: O(V log k) instead of sorting the vocabulary. */
function kthLargest(values: Float64Array, k: number): number {
  const heap = new Float64Array(k);
  let size = 0;
  const siftDown = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && heap[l]! < heap[m]!) m = l;
      if (r < size && heap[r]! < heap[m]!) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let j = 0; j < values.length; j++) {
    const v = values[j]!;
    if (size < k) {
      let i = size++;
      heap[i] = v;
      while (i > 0 && heap[(i - 1) >> 1]! > heap[i]!) {
        const parent = (i - 1) >> 1;
        [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
        i = parent;
      }
    } else if (v > heap[0]!) {
      heap[0] = v;
      siftDown(0);
    }
  }
  return heap[0]!;
}

function randomSeed(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!;
}
