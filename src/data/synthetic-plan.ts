import type { Problem, SocraticStep } from './schema.js';
import { SCENARIOS, type Scenario } from './synthetic-templates.js';

/**
 * A synthetic problem as a small program over named quantities (one per person,
 * plus totals). Gold steps are rendered from it, and the simulated teacher replays
 * it with a slip (a wrong result, a skipped step) so that later steps build on the
 * wrong value the way a real model's would.
 */
export type SyntheticOp = 'add' | 'sub' | 'mul' | 'div';

/** A literal from the question, or the current value of a named quantity. */
export type PlanOperand = { value: number } | { ref: string };

export interface PlanStep {
  /** The quantity this step computes (its new value), e.g. `Ana` or `Tom+Ana`. */
  target: string;
  left: PlanOperand;
  op: SyntheticOp;
  right: PlanOperand;
  subquestion: string;
  /** The solution reads `${lead}a op b = <<a op b=r>>r${tail}`. */
  lead: string;
  tail: string;
}

export interface SyntheticPlan {
  /** Values stated in the question before any step. */
  initial: Record<string, number>;
  /** Gold steps in order; only the ones the asked quantity needs. */
  steps: PlanStep[];
  /** The quantity the question asks for. */
  asked: string;
  /**
   * A step that defines a quantity may be skipped too (family dag, where every step is a definition):
   * the quantity then takes the value it is defined from, as if the relation were left out.
   */
  definitionsSkippable?: boolean;
}

/** The pre-family program of chain problems (kept as is in `meta.program` for byte-identical output). */
export interface SyntheticProgram {
  start: number;
  ops: { op: SyntheticOp; operand: number }[];
}

export const SYMBOL: Record<SyntheticOp, string> = { add: '+', sub: '-', mul: '*', div: '/' };

export function applyOp(x: number, op: SyntheticOp, b: number): number {
  switch (op) {
    case 'add': return x + b;
    case 'sub': return x - b;
    case 'mul': return x * b;
    case 'div': return x / b;
  }
}

/** `a op b = <<a op b=r>>r`, the GSM8K calculation with its calculator note. */
export function calculation(a: number, op: SyntheticOp, b: number, r: number): string {
  return `${a} ${SYMBOL[op]} ${b} = <<${a}${SYMBOL[op]}${b}=${r}>>${r}`;
}

export interface StepValues {
  left: number;
  right: number;
  result: number;
}

export interface ReplayOptions {
  /** Index of a step left out: its quantity keeps its previous value. */
  skip?: number;
  /** Replaces the result of a step (a slip); later steps use the replaced value. */
  override?: (index: number, result: number) => number;
}

/** Values of every (kept) step and the asked quantity's final value. */
export function replayPlan(plan: SyntheticPlan, options: ReplayOptions = {}): { steps: StepValues[]; kept: PlanStep[]; answer: number } {
  const state = new Map(Object.entries(plan.initial));
  const read = (o: PlanOperand): number => {
    if ('value' in o) return o.value;
    const v = state.get(o.ref);
    if (v === undefined) throw new RangeError(`synthetic plan reads ${o.ref} before it has a value`);
    return v;
  };
  const steps: StepValues[] = [];
  const kept: PlanStep[] = [];
  plan.steps.forEach((s, i) => {
    if (i === options.skip) {
      if (!state.has(s.target)) state.set(s.target, read(s.left));
      return;
    }
    const left = read(s.left);
    const right = read(s.right);
    const exact = Number(applyOp(left, s.op, right).toFixed(2));
    const result = options.override ? options.override(i, exact) : exact;
    state.set(s.target, result);
    steps.push({ left, right, result });
    kept.push(s);
  });
  const answer = state.get(plan.asked);
  if (answer === undefined) throw new RangeError(`synthetic plan never computes ${plan.asked}`);
  return { steps, kept, answer };
}

export function renderStep(step: PlanStep, v: StepValues): SocraticStep {
  return { subquestion: step.subquestion, solution: `${step.lead}${calculation(v.left, step.op, v.right, v.result)}${step.tail}`, answer: v.result };
}

/** Rendered (gold-shaped) steps and final answer of a plan, replayed with an optional slip. */
export function solvePlan(plan: SyntheticPlan, options: ReplayOptions = {}): { steps: SocraticStep[]; answer: number } {
  const r = replayPlan(plan, options);
  return { steps: r.kept.map((s, i) => renderStep(s, r.steps[i]!)), answer: r.answer };
}

/** Steps a slip may leave out: updates of a quantity that already has a value (a definition only where the plan allows it). */
export function skippableSteps(plan: SyntheticPlan): number[] {
  const known = new Set(Object.keys(plan.initial));
  const out: number[] = [];
  plan.steps.forEach((s, i) => {
    if (known.has(s.target) || (plan.definitionsSkippable && 'ref' in s.left)) out.push(i);
    known.add(s.target);
  });
  return out;
}

// --- chain problems: the shared sentence forms, and the conversion of their program to a plan ---

export function chainSentence(s: Scenario, name: string, op: SyntheticOp, b: number): string {
  switch (op) {
    case 'add': return `${name} ${s.gain[0]} ${b} more ${s.objects}.`;
    case 'sub': return `${name} ${s.lose[0]} ${b} ${s.objects}.`;
    case 'mul': return `Then the number of ${s.objects} ${name} has becomes ${b} times as large.`;
    case 'div': return `${name} splits the ${s.objects} into ${b} equal ${s.group[0]} and keeps one ${s.group[1]}.`;
  }
}

export function chainSubquestion(s: Scenario, name: string, op: SyntheticOp, b: number): string {
  switch (op) {
    case 'add': return `How many ${s.objects} does ${name} have after ${s.gain[1]} ${b} more?`;
    case 'sub': return `How many ${s.objects} does ${name} have after ${s.lose[1]} ${b}?`;
    case 'mul': return `How many ${s.objects} does ${name} have after the number becomes ${b} times as large?`;
    case 'div': return `How many ${s.objects} are in each ${s.group[1]}?`;
  }
}

/** One operation on a person's own quantity, as a plan step. */
export function chainStep(s: Scenario, name: string, op: SyntheticOp, b: number): PlanStep {
  return {
    target: name, left: { ref: name }, op, right: { value: b },
    subquestion: chainSubquestion(s, name, op, b),
    lead: op === 'div' ? `Each ${s.group[1]} has ` : `${name} has `,
    tail: ` ${s.objects}.`,
  };
}

function isChainProgram(v: unknown): v is SyntheticProgram {
  return typeof v === 'object' && v !== null && Array.isArray((v as SyntheticProgram).ops) && typeof (v as SyntheticProgram).start === 'number';
}

function isPlan(v: unknown): v is SyntheticPlan {
  return typeof v === 'object' && v !== null && Array.isArray((v as SyntheticPlan).steps) && typeof (v as SyntheticPlan).asked === 'string';
}

/** The plan of any synthetic problem (chain programs are converted), or undefined for other problems. */
export function syntheticPlan(problem: Problem): SyntheticPlan | undefined {
  const program = problem.meta?.program;
  if (isPlan(program)) return program;
  if (!isChainProgram(program)) return undefined;
  const scenario = SCENARIOS.find((s) => s.id === problem.meta?.template) ?? SCENARIOS[0]!;
  const name = typeof problem.meta?.name === 'string' ? problem.meta.name : 'They';
  return {
    initial: { [name]: program.start },
    steps: program.ops.map(({ op, operand }) => chainStep(scenario, name, op, operand)),
    asked: name,
  };
}
