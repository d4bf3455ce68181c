import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/errors.js';
import { argmax, TokenSampler } from '../src/model/sampling.js';
import { Rng } from '../src/util/rng.js';

const V = 64;
function randomLogits(seed: number, rows: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: rows * V }, () => rng.normal() * 3);
}
const draw = (s: TokenSampler, logits: ArrayLike<number>, n: number, vocab = logits.length): number[] =>
  Array.from({ length: n }, () => s.pick(logits, 0, vocab));

describe('TokenSampler', () => {
  it('is greedy by default and with temperature 0', () => {
    const logits = randomLogits(1, 8);
    for (const opts of [{}, { greedy: true }, { temperature: 0 }, { temperature: 0, greedy: true }]) {
      const s = new TokenSampler(opts);
      expect(s.greedy).toBe(true);
      for (let r = 0; r < 8; r++) expect(s.pick(logits, r * V, V)).toBe(argmax(logits, r * V, V));
    }
  });

  it('argmax takes the first index on ties', () => {
    expect(argmax([1, 3, 3, 2], 0, 4)).toBe(1);
    expect(argmax([9, 1, 3, 3], 1, 3)).toBe(1);
  });

  it('is reproducible for a seed and differs across seeds', () => {
    const logits = randomLogits(2, 1).map((x) => x / 3);
    const a = draw(new TokenSampler({ temperature: 1, seed: 7 }), logits, 200);
    const b = draw(new TokenSampler({ temperature: 1, seed: 7 }), logits, 200);
    const c = draw(new TokenSampler({ temperature: 1, seed: 8 }), logits, 200);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Set(a).size).toBeGreaterThan(5);
  });

  it('draws tokens with softmax(logits / T) frequencies', () => {
    const probs = [0.5, 0.3, 0.15, 0.05];
    const logits = probs.map(Math.log);
    const n = 20000;
    const counts = [0, 0, 0, 0];
    for (const t of draw(new TokenSampler({ temperature: 1, seed: 3 }), logits, n)) counts[t]!++;
    counts.forEach((c, i) => expect(Math.abs(c / n - probs[i]!)).toBeLessThan(0.015));
    // T = 0.5 squares the odds: p_i ∝ probs_i^2.
    const sq = probs.map((p) => p * p);
    const z = sq.reduce((a, b) => a + b, 0);
    const hot = [0, 0, 0, 0];
    for (const t of draw(new TokenSampler({ temperature: 0.5, seed: 4 }), logits, n)) hot[t]!++;
    hot.forEach((c, i) => expect(Math.abs(c / n - sq[i]! / z)).toBeLessThan(0.015));
  });

  it('topK = 1 equals greedy at any temperature', () => {
    const logits = randomLogits(5, 16);
    const s = new TokenSampler({ topK: 1, temperature: 2.5, seed: 1 });
    for (let r = 0; r < 16; r++) expect(s.pick(logits, r * V, V)).toBe(argmax(logits, r * V, V));
  });

  it('topK keeps only the k best, plus ties with the k-th (HF rule)', () => {
    const logits = randomLogits(6, 1);
    const top3 = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!).slice(0, 3);
    const seen = new Set(draw(new TokenSampler({ topK: 3, temperature: 5, seed: 2 }), logits, 500));
    expect([...seen].sort()).toEqual([...top3].sort());
    const tied = new Set(draw(new TokenSampler({ topK: 2, seed: 2 }), [1, 1, 1, 0], 500));
    expect([...tied].sort()).toEqual([0, 1, 2]);
  });

  it('topP keeps a token while the mass above it is below topP', () => {
    const uniform = [0, 0, 0, 0]; // p = 0.25 each, exactly representable
    const at = (topP: number): number[] => [...new Set(draw(new TokenSampler({ topP, seed: 9 }), uniform, 400))].sort();
    expect(at(0.5)).toEqual([0, 1]); // the third token has exactly 0.5 above it: dropped
    expect(at(0.5000001)).toEqual([0, 1, 2]);
    expect(at(0.25)).toEqual([0]);
    expect(at(1e-9)).toEqual([0]);
    expect(at(1)).toEqual([0, 1, 2, 3]);
  });

  it('topP tiny equals greedy and topP = 1 changes nothing', () => {
    const logits = randomLogits(10, 8);
    const tiny = new TokenSampler({ topP: 1e-6, temperature: 3, seed: 4 });
    for (let r = 0; r < 8; r++) expect(tiny.pick(logits, r * V, V)).toBe(argmax(logits, r * V, V));
    const row = logits.subarray(0, V);
    expect(draw(new TokenSampler({ topP: 1, temperature: 1.3, seed: 4 }), row, 100)).toEqual(
      draw(new TokenSampler({ temperature: 1.3, seed: 4 }), row, 100),
    );
  });

  it('agrees with a brute-force sort on a large vocabulary (top-k heap, nucleus pre-cut)', () => {
    const big = 5000;
    const rng = new Rng(21);
    const logits = Float32Array.from({ length: big }, () => rng.normal() * 4);
    const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
    const top10 = new Set(order.slice(0, 10));
    for (const t of draw(new TokenSampler({ topK: 10, seed: 1 }), logits, 2000)) expect(top10.has(t)).toBe(true);
    const w = order.map((i) => Math.exp(logits[i]! - logits[order[0]!]!));
    const total = w.reduce((a, b) => a + b, 0);
    const nucleus = new Set<number>();
    let above = 0;
    for (let j = 0; j < order.length && (j === 0 || above / total < 0.9); j++) {
      nucleus.add(order[j]!);
      above += w[j]!;
    }
    const seen = new Set(draw(new TokenSampler({ topP: 0.9, seed: 2 }), logits, 3000));
    for (const t of seen) expect(nucleus.has(t)).toBe(true);
    expect(nucleus.size).toBeLessThan(big / 10);
    expect(seen.size).toBeGreaterThan(nucleus.size * 0.5);
  });

  it('applies top-k before top-p (top-p renormalises over the k survivors)', () => {
    // After top-2 the survivors are 0.5/0.5; topP 0.5 then keeps only the first of them.
    const logits = [0, 0, -0.1, -0.2];
    expect(new Set(draw(new TokenSampler({ topK: 2, topP: 0.5, seed: 1 }), logits, 300))).toEqual(new Set([0]));
    expect(new Set(draw(new TokenSampler({ topK: 2, topP: 0.6, seed: 1 }), logits, 300))).toEqual(new Set([0, 1]));
  });

  it('rejects invalid options with ShapeError', () => {
    const bad = [
      { topP: 0 },
      { topP: 1.5 },
      { topP: Number.NaN },
      { topK: 0 },
      { topK: 2.5 },
      { temperature: -1 },
      { temperature: Number.POSITIVE_INFINITY },
      { greedy: true, temperature: 0.7 },
      { greedy: true, topK: 5 },
      { temperature: 1, seed: 1.5 },
    ];
    for (const opts of bad) expect(() => new TokenSampler(opts), JSON.stringify(opts)).toThrow(ShapeError);
  });

  it('greedy: false alone samples at temperature 1', () => {
    const s = new TokenSampler({ greedy: false, seed: 1 });
    expect(s.greedy).toBe(false);
    expect(new Set(draw(s, [0, 0, 0], 200)).size).toBe(3);
  });
});
