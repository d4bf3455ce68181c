import type { Rng } from '../util/rng.js';
import type { SocraticStep } from './schema.js';
import { between, nextOp, smallest, type ResolvedSyntheticOptions } from './synthetic-ops.js';
import {
  applyOp, chainSentence, chainStep, renderStep, solvePlan,
  type PlanStep, type SyntheticOp, type SyntheticPlan, type SyntheticProgram,
} from './synthetic-plan.js';
import { NAMES, SCENARIOS, type Scenario } from './synthetic-templates.js';

/** What a family builder returns; synthetic.ts turns it into a Problem. */
export interface FamilyDraft {
  sentences: string[];
  goldSteps: SocraticStep[];
  answer: number;
  template: string;
  name: string;
  program: SyntheticProgram | SyntheticPlan;
  /** Family-specific fields for `meta`. */
  extra?: Record<string, unknown>;
}

/** One person applying operations to their own quantity: the `chain` and `long` families. */
export function chainProblem(rng: Rng, o: ResolvedSyntheticOptions): FamilyDraft & { program: SyntheticProgram } {
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
    sentences.push(chainSentence(scenario, name, op, operand));
    goldSteps.push(renderStep(chainStep(scenario, name, op, operand), { left: x, right: operand, result: r }));
    x = r;
  }
  sentences.push(`How many ${scenario.objects} does ${name} have now?`);
  return { sentences, goldSteps, answer: x, template: scenario.id, name, program };
}

/** `count` distinct names. */
function people(rng: Rng, count: number): string[] {
  const names: string[] = [];
  while (names.length < count) {
    const n = rng.pick(NAMES);
    if (!names.includes(n)) names.push(n);
  }
  return names;
}

/** A number in [lo, hi] that is not in `avoid`; searches above hi when the range is used up. */
function freshNumber(rng: Rng, lo: number, hi: number, avoid: ReadonlySet<number>): number {
  const free = [];
  for (let n = lo; n <= hi; n++) if (!avoid.has(n)) free.push(n);
  if (free.length > 0) return rng.pick(free);
  let n = hi + 1;
  while (avoid.has(n)) n++;
  return n;
}

/**
 * A chain problem plus facts with numbers the question does not ask about: another
 * person's objects, or an irrelevant attribute of the main person. Their numbers differ
 * from every number the gold steps use, so a step that uses one is visibly wrong.
 */
export function distractorsProblem(rng: Rng, o: ResolvedSyntheticOptions): FamilyDraft {
  const base = chainProblem(rng, o);
  const scenario = SCENARIOS.find((s) => s.id === base.template)!;
  const used = new Set<number>([...base.sentences.join(' ').matchAll(/\d+/g)].map((m) => Number(m[0])));
  for (const s of base.goldSteps) for (const m of s.solution.matchAll(/\d+/g)) used.add(Number(m[0]));
  const other = people(rng, 2).find((n) => n !== base.name)!;
  const otherObjects = rng.pick(SCENARIOS.filter((s) => s.objects !== scenario.objects)).objects;
  const kinds = [
    (n: number) => `${other} has ${n} ${scenario.objects}.`,
    (n: number) => `${other} ${scenario.gain[0]} ${n} ${scenario.objects}.`,
    (n: number) => `${base.name} also has ${n} ${otherObjects}.`,
    (n: number) => `${base.name} is ${n} years old.`,
  ];
  const numbers: number[] = [];
  const sentences = [...base.sentences];
  for (let k = 0; k < o.distractors; k++) {
    const n = freshNumber(rng, smallest(o), o.maxOperand, new Set([...used, ...numbers]));
    numbers.push(n);
    // After the opening fact and before the question.
    sentences.splice(1 + rng.int(sentences.length - 1), 0, rng.pick(kinds)(n));
  }
  return { ...base, sentences, extra: { distractorNumbers: numbers } };
}

/** Own operations for several people: no division, whose `each basket` subquestion names nobody. */
function ownOperations(o: ResolvedSyntheticOptions): SyntheticOp[] {
  const ops = o.operations.filter((op) => op !== 'div');
  return ops.length > 0 ? ops : ['add'];
}

function transferSteps(s: Scenario, giver: string, taker: string, n: number): { giver: PlanStep; taker: PlanStep } {
  return {
    giver: { target: giver, left: { ref: giver }, op: 'sub', right: { value: n }, subquestion: `How many ${s.objects} does ${giver} have after giving ${n} to ${taker}?`, lead: `${giver} has `, tail: ` ${s.objects}.` },
    taker: { target: taker, left: { ref: taker }, op: 'add', right: { value: n }, subquestion: `How many ${s.objects} does ${taker} have after getting ${n} from ${giver}?`, lead: `${taker} has `, tail: ` ${s.objects}.` },
  };
}

function listNames(names: readonly string[]): string {
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

function draftFromPlan(plan: SyntheticPlan, sentences: string[], scenario: Scenario, name: string, extra: Record<string, unknown>): FamilyDraft {
  const gold = solvePlan(plan);
  return { sentences, goldSteps: gold.steps, answer: gold.answer, template: scenario.id, name, program: plan, extra };
}

/**
 * 2–3 people with their own quantities; events change one person's quantity or move
 * objects between two ("Tom gives Ana 3 apples."). The question asks about one person
 * (only their events are gold steps) or about everyone together (then sums follow).
 */
export function entitiesProblem(rng: Rng, o: ResolvedSyntheticOptions): FamilyDraft {
  const scenario = rng.pick(SCENARIOS);
  const names = people(rng, o.people ?? between(rng, 2, 3));
  const lo = smallest(o);
  const value = new Map(names.map((n) => [n, between(rng, lo, o.maxOperand)]));
  const initial = Object.fromEntries(value);
  const sentences = names.map((n) => `${n} has ${value.get(n)} ${scenario.objects}.`);
  const events: PlanStep[] = [];
  const storyEvents = between(rng, o.minSteps, o.maxSteps);
  for (let k = 0; k < storyEvents; k++) {
    const givers = names.filter((n) => value.get(n)! - 1 >= lo);
    if (givers.length > 0 && rng.next() < 0.4) {
      const giver = rng.pick(givers);
      const taker = rng.pick(names.filter((n) => n !== giver));
      const room = Math.min(o.maxOperand, value.get(giver)! - 1, o.maxResult - value.get(taker)!);
      if (room >= lo) {
        const n = between(rng, lo, room);
        const t = transferSteps(scenario, giver, taker, n);
        events.push(t.giver, t.taker);
        value.set(giver, value.get(giver)! - n).set(taker, value.get(taker)! + n);
        sentences.push(`${giver} gives ${taker} ${n} ${scenario.objects}.`);
        continue;
      }
    }
    const who = rng.pick(names);
    const { op, operand } = nextOp(rng, value.get(who)!, o, ownOperations(o));
    events.push(chainStep(scenario, who, op, operand));
    value.set(who, applyOp(value.get(who)!, op, operand));
    sentences.push(chainSentence(scenario, who, op, operand));
  }
  const active = names.filter((n) => events.some((e) => e.target === n));
  const total = names.reduce((sum, n) => sum + value.get(n)!, 0);
  // Every event has a person, so `active` is never empty; a total must respect maxResult too.
  if (rng.next() < 1 / 3 && total <= o.maxResult) {
    const steps = [...events];
    for (let i = 1; i < names.length; i++) {
      const group = names.slice(0, i + 1);
      steps.push({
        target: group.join('+'), left: { ref: i === 1 ? names[0]! : names.slice(0, i).join('+') }, op: 'add', right: { ref: names[i]! },
        subquestion: `How many ${scenario.objects} do ${listNames(group)} have together?`, lead: `${listNames(group)} have `, tail: ` ${scenario.objects}.`,
      });
    }
    sentences.push(`How many ${scenario.objects} do ${listNames(names)} have together now?`);
    return draftFromPlan({ initial, steps, asked: names.join('+') }, sentences, scenario, names[0]!, { people: names, asked: 'total' });
  }
  const asked = rng.pick(active);
  sentences.push(`How many ${scenario.objects} does ${asked} have now?`);
  const plan = { initial, steps: events.filter((e) => e.target === asked), asked };
  return draftFromPlan(plan, sentences, scenario, asked, { people: names, asked, storyEvents });
}

/** `B has k times as many / n more / n fewer objects than A has now`, as a step that defines B. */
function relation(rng: Rng, s: Scenario, a: string, b: string, x: number, o: ResolvedSyntheticOptions): { step: PlanStep; sentence: string } {
  const lo = smallest(o);
  const options: { op: SyntheticOp; n: number; sentence: string }[] = [];
  if (x * 2 <= o.maxResult) {
    const k = between(rng, 2, Math.max(2, Math.min(o.maxFactor, Math.floor(o.maxResult / x))));
    options.push({ op: 'mul', n: k, sentence: `${b} has ${k} times as many ${s.objects} as ${a} has now.` });
  }
  if (x + lo <= o.maxResult) {
    const n = between(rng, lo, Math.min(o.maxOperand, o.maxResult - x));
    options.push({ op: 'add', n, sentence: `${b} has ${n} more ${s.objects} than ${a} has now.` });
  }
  if (x - 1 >= lo) {
    const n = between(rng, lo, Math.min(o.maxOperand, x - 1));
    options.push({ op: 'sub', n, sentence: `${b} has ${n} fewer ${s.objects} than ${a} has now.` });
  }
  const c = options.length > 0 ? rng.pick(options) : { op: 'add' as const, n: lo, sentence: `${b} has ${lo} more ${s.objects} than ${a} has now.` };
  const step: PlanStep = { target: b, left: { ref: a }, op: c.op, right: { value: c.n }, subquestion: `How many ${s.objects} does ${b} have at first?`, lead: `${b} has `, tail: ` ${s.objects}.` };
  return { step, sentence: c.sentence };
}

/**
 * Facts that depend on another person's quantity at one point of the story ("Ana has 2
 * times as many apples as Tom has now."), followed by more changes to that other person
 * which the question does not need. Solving it means choosing which quantity to compute
 * next: the earlier person's value up to the dependent fact, then the asked person's.
 */
export function planningProblem(rng: Rng, o: ResolvedSyntheticOptions): FamilyDraft {
  const scenario = rng.pick(SCENARIOS);
  const names = people(rng, o.people ?? between(rng, 2, 3));
  const ops = ownOperations(o);
  const gold = between(rng, Math.max(o.minSteps, names.length), Math.max(o.maxSteps, names.length));
  // Own operations per person: the first needs at least one, so the dependent fact reads a computed value.
  const own = names.map((_, i) => (i === 0 ? 1 : 0));
  for (let k = 0; k < gold - names.length; k++) own[rng.int(names.length)]!++;
  const start = between(rng, smallest(o), o.maxOperand);
  const sentences = [`${names[0]} has ${start} ${scenario.objects}.`];
  const steps: PlanStep[] = [];
  const value = new Map([[names[0]!, start]]);
  const change = (who: string, needed: boolean): void => {
    const { op, operand } = nextOp(rng, value.get(who)!, o, ops);
    if (needed) steps.push(chainStep(scenario, who, op, operand));
    value.set(who, applyOp(value.get(who)!, op, operand));
    sentences.push(chainSentence(scenario, who, op, operand));
  };
  names.forEach((who, i) => {
    if (i > 0) {
      const prev = names[i - 1]!;
      const r = relation(rng, scenario, prev, who, value.get(prev)!, o);
      steps.push(r.step);
      sentences.push(r.sentence);
      value.set(who, applyOp(value.get(prev)!, r.step.op, (r.step.right as { value: number }).value));
      // A later change to the earlier person: part of the story, not of the answer.
      change(prev, false);
    }
    for (let k = 0; k < own[i]!; k++) change(who, true);
  });
  const asked = names.at(-1)!;
  sentences.push(`How many ${scenario.objects} does ${asked} have now?`);
  return draftFromPlan({ initial: { [names[0]!]: start }, steps, asked }, sentences, scenario, asked, { people: names, asked });
}
