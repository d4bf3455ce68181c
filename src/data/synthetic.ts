import { Rng } from '../util/rng.js';
import type { Problem, SocraticStep } from './schema.js';
import { NAMES, SCENARIOS, type Scenario } from './synthetic-templates.js';

/**
 * The embedded default task: seeded multi-step arithmetic word problems with a
 * gold Socratic decomposition in GSM8K-socratic form. Each problem applies 1–4
 * operations to a running quantity, so its final answer needs every
 * intermediate result — which is what step-by-step decomposition should help with.
 */
export type SyntheticOp = 'add' | 'sub' | 'mul' | 'div';

export interface SyntheticOptions {
  count: number;
  seed?: number;
  /** Operations per problem (each becomes one Socratic step). Defaults 2 and 4. */
  minSteps?: number;
  maxSteps?: number;
  /** Operands of + and - and the starting quantity lie in [minOperand, maxOperand]. Defaults 1 and 20. */
  minOperand?: number;
  maxOperand?: number;
  /** Largest multiplier / divisor. Default 5. */
  maxFactor?: number;
  /** No intermediate or final result exceeds this. Default 100. */
  maxResult?: number;
  operations?: readonly SyntheticOp[];
  /** Index of the first problem; ids are `synthetic-<seed>-<index>`. Default 0. */
  startIndex?: number;
}

export interface SyntheticProgram {
  start: number;
  ops: { op: SyntheticOp; operand: number }[];
}

type Resolved = Required<Omit<SyntheticOptions, 'count' | 'startIndex'>>;

function resolve(o: Partial<SyntheticOptions>): Resolved {
  const r: Resolved = {
    seed: o.seed ?? 0,
    minSteps: o.minSteps ?? 2,
    maxSteps: o.maxSteps ?? 4,
    minOperand: o.minOperand ?? 1,
    maxOperand: o.maxOperand ?? 20,
    maxFactor: o.maxFactor ?? 5,
    maxResult: o.maxResult ?? 100,
    operations: o.operations ?? ['add', 'sub', 'mul', 'div'],
  };
  if (!(r.minSteps >= 1 && r.maxSteps >= r.minSteps && r.maxSteps <= 8)) throw new RangeError('need 1 <= minSteps <= maxSteps <= 8');
  if (!(r.minOperand >= 1 && r.maxOperand >= r.minOperand)) throw new RangeError('need 1 <= minOperand <= maxOperand');
  if (r.maxResult < r.maxOperand * 2) throw new RangeError('maxResult must be at least 2 * maxOperand');
  if (r.operations.length === 0) throw new RangeError('operations must not be empty');
  return r;
}

function between(rng: Rng, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

/** Operands start at 2 when the range allows, so sentences never read `1 pages`. */
function smallest(o: Resolved): number {
  return o.maxOperand >= 2 ? Math.max(2, o.minOperand) : o.minOperand;
}

/** Choose an operation and operand that keep the running value a small non-negative integer. */
function nextOp(rng: Rng, x: number, o: Resolved): { op: SyntheticOp; operand: number } {
  const candidates: { op: SyntheticOp; operand: number }[] = [];
  const lo = smallest(o);
  for (const op of o.operations) {
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
  if (candidates.length === 0) return { op: 'add', operand: lo };
  return rng.pick(candidates);
}

export function applyOp(x: number, op: SyntheticOp, b: number): number {
  switch (op) {
    case 'add': return x + b;
    case 'sub': return x - b;
    case 'mul': return x * b;
    case 'div': return x / b;
  }
}

const SYMBOL: Record<SyntheticOp, string> = { add: '+', sub: '-', mul: '*', div: '/' };

function sentence(s: Scenario, name: string, op: SyntheticOp, b: number): string {
  switch (op) {
    case 'add': return `${name} ${s.gain[0]} ${b} more ${s.objects}.`;
    case 'sub': return `${name} ${s.lose[0]} ${b} ${s.objects}.`;
    case 'mul': return `Then the number of ${s.objects} ${name} has becomes ${b} times as large.`;
    case 'div': return `${name} splits the ${s.objects} into ${b} equal ${s.group[0]} and keeps one ${s.group[1]}.`;
  }
}

function subquestion(s: Scenario, name: string, op: SyntheticOp, b: number): string {
  switch (op) {
    case 'add': return `How many ${s.objects} does ${name} have after ${s.gain[1]} ${b} more?`;
    case 'sub': return `How many ${s.objects} does ${name} have after ${s.lose[1]} ${b}?`;
    case 'mul': return `How many ${s.objects} does ${name} have after the number becomes ${b} times as large?`;
    case 'div': return `How many ${s.objects} are in each ${s.group[1]}?`;
  }
}

/** A step's solution in GSM8K form, with its `<<a op b=c>>` calculator note. */
export function stepSolution(s: Scenario, name: string, op: SyntheticOp, x: number, b: number, r: number): string {
  const calc = `${x} ${SYMBOL[op]} ${b} = <<${x}${SYMBOL[op]}${b}=${r}>>${r}`;
  return op === 'div' ? `Each ${s.group[1]} has ${calc} ${s.objects}.` : `${name} has ${calc} ${s.objects}.`;
}

function mixSeed(seed: number, index: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

/** Problem `index` of the stream for `seed`; independent of how many others are generated. */
export function syntheticProblem(index: number, options: Partial<SyntheticOptions> = {}): Problem {
  const o = resolve(options);
  const rng = new Rng(mixSeed(o.seed, index));
  const scenario = rng.pick(SCENARIOS);
  const name = rng.pick(NAMES);
  const steps = between(rng, o.minSteps, o.maxSteps);
  const start = between(rng, smallest(o), o.maxOperand);
  const program: SyntheticProgram = { start, ops: [] };
  const sentences = [`${name} has ${start} ${scenario.objects}.`];
  const goldSteps: SocraticStep[] = [];
  let x = start;
  for (let k = 0; k < steps; k++) {
    const { op, operand } = nextOp(rng, x, o);
    const r = applyOp(x, op, operand);
    program.ops.push({ op, operand });
    sentences.push(sentence(scenario, name, op, operand));
    goldSteps.push({ subquestion: subquestion(scenario, name, op, operand), solution: stepSolution(scenario, name, op, x, operand, r), answer: r });
    x = r;
  }
  sentences.push(`How many ${scenario.objects} does ${name} have now?`);
  return {
    id: `synthetic-${o.seed}-${index}`,
    dataset: 'synthetic',
    question: sentences.join(' '),
    answer: x,
    meta: {
      goldSteps,
      rationale: `${goldSteps.map((s) => s.solution).join('\n')}\n#### ${x}`,
      template: scenario.id,
      name,
      program,
    },
  };
}

/** `count` seeded problems with gold Socratic steps in `meta.goldSteps` and a CoT rationale in `meta.rationale`. */
export function generateSynthetic(options: SyntheticOptions): Problem[] {
  if (!Number.isInteger(options.count) || options.count < 0) throw new RangeError('count must be a non-negative integer');
  resolve(options);
  const first = options.startIndex ?? 0;
  return Array.from({ length: options.count }, (_, i) => syntheticProblem(first + i, options));
}

/** Recompute a synthetic problem's steps from its program, e.g. after a simulated slip. */
export function renderSyntheticSteps(problem: Problem, values: readonly number[], ops: SyntheticProgram['ops']): SocraticStep[] {
  const scenario = SCENARIOS.find((s) => s.id === problem.meta?.template) ?? SCENARIOS[0]!;
  const name = typeof problem.meta?.name === 'string' ? problem.meta.name : 'They';
  return ops.map(({ op, operand }, k) => ({
    subquestion: subquestion(scenario, name, op, operand),
    solution: stepSolution(scenario, name, op, values[k]!, operand, values[k + 1]!),
    answer: values[k + 1]!,
  }));
}
