import type { Rng } from '../util/rng.js';
import type { SyntheticOp } from './synthetic-plan.js';

/** SyntheticOptions after defaults (see synthetic.ts); `people` stays optional (random per problem). */
export interface ResolvedSyntheticOptions {
  family: 'chain' | 'long' | 'distractors' | 'entities' | 'planning' | 'dag';
  seed: number;
  minSteps: number;
  maxSteps: number;
  minOperand: number;
  maxOperand: number;
  maxFactor: number;
  maxResult: number;
  operations: readonly SyntheticOp[];
  distractors: number;
  people: number | undefined;
}

export function between(rng: Rng, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

/** Operands start at 2 when the range allows, so sentences never read `1 pages`. */
export function smallest(o: ResolvedSyntheticOptions): number {
  return o.maxOperand >= 2 ? Math.max(2, o.minOperand) : o.minOperand;
}

/** Choose an operation and operand that keep the running value a small non-negative integer. */
export function nextOp(rng: Rng, x: number, o: ResolvedSyntheticOptions, operations: readonly SyntheticOp[] = o.operations): { op: SyntheticOp; operand: number } {
  const candidates: { op: SyntheticOp; operand: number }[] = [];
  const lo = smallest(o);
  for (const op of operations) {
    if (op === 'add' && x + lo <= o.maxResult) {
      candidates.push({ op, operand: between(rng, lo, Math.min(o.maxOperand, o.maxResult - x)) });
    } else if (op === 'sub' && x - 1 >= lo) {
      candidates.push({ op, operand: between(rng, lo, Math.min(o.maxOperand, x - 1)) });
    } else if (op === 'mul' && x * 2 <= o.maxResult && x > 0) {
      candidates.push({ op, operand: between(rng, 2, Math.max(2, Math.min(o.maxFactor, Math.floor(o.maxResult / x)))) });
    } else if (op === 'div') {
      const divisors = [];
      for (let d = 2; d <= o.maxFactor; d++) if (x % d === 0 && x / d >= 1) divisors.push(d);
      if (divisors.length > 0) candidates.push({ op, operand: rng.pick(divisors) });
    }
  }
  if (candidates.length > 0) return rng.pick(candidates);
  // The allowed operations cannot go on within the limits (e.g. only add and mul at maxResult):
  // step back by subtraction rather than break maxResult. Default operations never get here.
  if (x - 1 >= lo) return { op: 'sub', operand: between(rng, lo, Math.min(o.maxOperand, x - 1)) };
  return { op: 'add', operand: lo };
}
