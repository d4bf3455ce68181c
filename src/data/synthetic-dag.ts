import { Rng } from '../util/rng.js';
import type { Problem, SocraticChain, SocraticStep } from './schema.js';
import type { FamilyDraft } from './synthetic-families.js';
import { between, smallest, type ResolvedSyntheticOptions } from './synthetic-ops.js';
import { renderStep, replayPlan, type PlanStep, type SyntheticOp, type SyntheticPlan } from './synthetic-plan.js';
import { NAMES, SCENARIOS, type Scenario } from './synthetic-templates.js';

/*
 * The `dag` family, in the spirit of iGSM ("Physics of Language Models" 2.1): every person's count
 * is a named quantity, stated outright (a leaf) or defined from one or two others ("Ana has 3 more
 * apples than Tom.", "Mia has as many apples as Tom and Ana together."). The facts come in shuffled
 * order, the question asks for one quantity, and some quantities are irrelevant to it. The gold
 * chain asks only about the quantities the answer needs, each as soon as it can be computed (the
 * first such fact in the story), which is one of several valid orders.
 */

/** What a dag problem keeps in `meta` beside its plan (whose steps are the needed quantities in gold order). */
export interface DagMeta {
  /** The computed quantities the answer needs, in gold order (the last is the one asked for). */
  needed: string[];
  /** Quantities the answer does not need: defined ones (distractorSteps' targets) and the leaves only they read. */
  irrelevant: string[];
  /** How each irrelevant quantity is computed, in an order that can be replayed after the needed steps. */
  distractorSteps: PlanStep[];
  /** Leaves that only irrelevant quantities read. */
  irrelevantInitial: Record<string, number>;
}

interface Fact {
  sentence: string;
  /** Undefined for a leaf (a stated number). */
  step?: PlanStep;
}

function relationSentence(s: Scenario, step: PlanStep): string {
  const from = (step.left as { ref: string }).ref;
  const b = step.target;
  if ('ref' in step.right) return `${b} has as many ${s.objects} as ${from} and ${step.right.ref} together.`;
  const n = step.right.value;
  switch (step.op) {
    case 'add': return `${b} has ${n} more ${s.objects} than ${from}.`;
    case 'sub': return `${b} has ${n} fewer ${s.objects} than ${from}.`;
    default: return `${b} has ${n} times as many ${s.objects} as ${from}.`;
  }
}

/** One attempt at a problem; undefined when the numbers or names run out (the caller draws again). */
function tryDag(rng: Rng, o: ResolvedSyntheticOptions): FamilyDraft | undefined {
  const scenario = rng.pick(SCENARIOS);
  const pool = rng.shuffle([...NAMES]);
  const ops: SyntheticOp[] = o.operations.filter((op) => op !== 'div');
  if (ops.length === 0) ops.push('add');
  const lo = smallest(o);
  const value = new Map<string, number>();
  const facts: Fact[] = [];
  const neededLeaves: string[] = [];

  const leaf = (): string | undefined => {
    const name = pool.pop();
    if (name === undefined) return undefined;
    const v = between(rng, lo, o.maxOperand);
    value.set(name, v);
    facts.push({ sentence: `${name} has ${v} ${scenario.objects}.` });
    return name;
  };
  const define = (from: string, other: string | undefined): PlanStep | undefined => {
    const target = pool.pop();
    if (target === undefined) return undefined;
    const x = value.get(from)!;
    let op: SyntheticOp;
    let right: PlanStep['right'];
    if (other !== undefined) {
      if (!ops.includes('add') || x + value.get(other)! > o.maxResult) return undefined;
      op = 'add';
      right = { ref: other };
    } else {
      const choices: Array<{ op: SyntheticOp; n: number }> = [];
      if (ops.includes('add') && x + lo <= o.maxResult) choices.push({ op: 'add', n: between(rng, lo, Math.min(o.maxOperand, o.maxResult - x)) });
      if (ops.includes('sub') && x - 1 >= lo) choices.push({ op: 'sub', n: between(rng, lo, Math.min(o.maxOperand, x - 1)) });
      if (ops.includes('mul') && x * 2 <= o.maxResult) choices.push({ op: 'mul', n: between(rng, 2, Math.max(2, Math.min(o.maxFactor, Math.floor(o.maxResult / x)))) });
      if (choices.length === 0) return undefined;
      const c = rng.pick(choices);
      op = c.op;
      right = { value: c.n };
    }
    const step: PlanStep = {
      target, left: { ref: from }, op, right,
      subquestion: `How many ${scenario.objects} does ${target} have?`, lead: `${target} has `, tail: ` ${scenario.objects}.`,
    };
    const r = replayPlan({ initial: Object.fromEntries(value), steps: [step], asked: target }).answer;
    value.set(target, r);
    facts.push({ sentence: relationSentence(scenario, step), step });
    return step;
  };
  /** A leaf to read: an existing one of `leaves` (a quantity read twice makes the graph a DAG, not a tree) or a new one. */
  const someLeaf = (leaves: string[], not?: string): string | undefined => {
    const old = leaves.filter((l) => l !== not);
    if (old.length > 0 && rng.next() < 1 / 3) return rng.pick(old);
    const l = leaf();
    if (l !== undefined) leaves.push(l);
    return l;
  };

  // Needed quantities, bottom-up. `open` holds the computed ones no later quantity reads yet; all but the
  // asked one must be read, so each new quantity reads enough of them that the rest can still be closed.
  const depth = between(rng, o.minSteps, o.maxSteps);
  let open: string[] = [];
  const needed: PlanStep[] = [];
  for (let i = 0; i < depth; i++) {
    const left = depth - 1 - i;
    const consume = between(rng, Math.max(0, open.length - left), Math.min(2, open.length));
    const reads = rng.shuffle([...open]).slice(0, consume);
    open = open.filter((n) => !reads.includes(n));
    const pair = consume === 2 || (rng.next() < 1 / 3 && ops.includes('add'));
    const from = reads[0] ?? someLeaf(neededLeaves);
    const other = pair ? (reads[1] ?? someLeaf(neededLeaves, from)) : undefined;
    if (from === undefined || (pair && (other === undefined || other === from))) return undefined;
    const step = define(from, other);
    if (!step) return undefined;
    needed.push(step);
    open.push(step.target);
  }
  const asked = needed.at(-1)!.target;

  // Irrelevant quantities: read needed ones (never the asked one), leaves, earlier irrelevant ones or a leaf of their own.
  const irrelevantLeaves: string[] = [];
  const distractorSteps: PlanStep[] = [];
  for (let k = 0; k < o.distractors; k++) {
    const readable = [...needed.slice(0, -1).map((s) => s.target), ...neededLeaves, ...distractorSteps.map((s) => s.target)];
    const pick = (): string | undefined => (readable.length > 0 && rng.next() < 2 / 3 ? rng.pick(readable) : someLeaf(irrelevantLeaves));
    const from = pick();
    const other = rng.next() < 1 / 3 && ops.includes('add') ? pick() : undefined;
    if (from === undefined || other === from) return undefined;
    const step = define(from, other);
    if (!step) return undefined;
    distractorSteps.push(step);
  }

  // The story in shuffled order; gold order: repeatedly the first needed fact in the story that can be computed.
  const story = rng.shuffle([...facts]);
  const known = new Set(neededLeaves);
  const pending = story.flatMap((f) => (f.step && needed.includes(f.step) ? [f.step] : []));
  const gold: PlanStep[] = [];
  const reads = (s: PlanStep): string[] => [s.left, s.right].flatMap((x) => ('ref' in x ? [x.ref] : []));
  while (pending.length > 0) {
    const next = pending.findIndex((s) => reads(s).every((r) => known.has(r)));
    const [step] = pending.splice(next, 1);
    gold.push(step!);
    known.add(step!.target);
  }
  const plan: SyntheticPlan = { initial: Object.fromEntries(neededLeaves.map((l) => [l, value.get(l)!])), steps: gold, asked, definitionsSkippable: true };
  const solved = replayPlan(plan);
  const dag: DagMeta = {
    needed: gold.map((s) => s.target),
    irrelevant: [...distractorSteps.map((s) => s.target), ...irrelevantLeaves],
    distractorSteps,
    irrelevantInitial: Object.fromEntries(irrelevantLeaves.map((l) => [l, value.get(l)!])),
  };
  return {
    sentences: [...story.map((f) => f.sentence), `How many ${scenario.objects} does ${asked} have?`],
    goldSteps: solved.kept.map((s, i) => renderStep(s, solved.steps[i]!)),
    answer: solved.answer,
    template: scenario.id,
    name: asked,
    program: plan,
    extra: { ...dag },
  };
}

/** A dag problem: drawn again (same stream) until its numbers fit the options; ~always the first try. */
export function dagProblem(rng: Rng, o: ResolvedSyntheticOptions): FamilyDraft {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const d = tryDag(rng, o);
    if (d) return d;
  }
  throw new RangeError('family dag: could not build a problem within the number limits; raise maxResult or maxOperand');
}

/** The dag fields of a problem's meta, or undefined for problems of other families. */
export function dagMeta(problem: Problem): DagMeta | undefined {
  const m = problem.meta;
  if (!m || !Array.isArray(m.distractorSteps) || !Array.isArray(m.needed) || typeof m.irrelevantInitial !== 'object') return undefined;
  return { needed: m.needed as string[], irrelevant: m.irrelevant as string[], distractorSteps: m.distractorSteps as PlanStep[], irrelevantInitial: m.irrelevantInitial as Record<string, number> };
}

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * The negative control of "wrong locality" (Prystawski et al.): the chain with a subquestion about every
 * irrelevant quantity of a dag problem interleaved among its own steps, each placed at random (seeded by
 * the problem id) after the steps it reads and before the last step, so the final answer is unchanged.
 * The chain's own steps are kept as written; the extra steps carry the true values. Undefined for a problem
 * that is not a dag problem.
 */
export function wrongLocalityChain(problem: Problem, chain: SocraticChain): SocraticChain | undefined {
  const dag = dagMeta(problem);
  const plan = problem.meta?.program as SyntheticPlan | undefined;
  if (!dag || !plan || dag.distractorSteps.length === 0 || chain.steps.length === 0) return undefined;
  const all = replayPlan({ initial: { ...plan.initial, ...dag.irrelevantInitial }, steps: [...plan.steps, ...dag.distractorSteps], asked: plan.asked });
  const extra = dag.distractorSteps.map((s, i) => ({ step: s, rendered: renderStep(s, all.steps[plan.steps.length + i]!) }));
  // Where the chain's own steps compute each needed quantity (only when they line up with the gold plan).
  const aligned = chain.steps.length === plan.steps.length;
  const rng = new Rng(hash(problem.id));
  const known = new Set([...Object.keys(plan.initial), ...Object.keys(dag.irrelevantInitial)]);
  const ready = (s: PlanStep) => [s.left, s.right].every((x) => !('ref' in x) || known.has(x.ref));
  const out: SocraticStep[] = [];
  const pending = [...extra];
  chain.steps.forEach((own, i) => {
    const last = i === chain.steps.length - 1;
    // Steps that do not line up with the plan: the irrelevant ones all go just before the last step.
    if (last) for (const s of plan.steps.slice(0, -1)) known.add(s.target);
    for (let k = 0; k < pending.length; ) {
      const e = pending[k]!;
      // Before the last step every irrelevant quantity is computable (none reads the asked one): all go in.
      if ((last || aligned) && ready(e.step) && (last || rng.next() < 0.5)) {
        out.push(e.rendered);
        known.add(e.step.target);
        pending.splice(k, 1);
      } else k++;
    }
    out.push(own);
    if (aligned) known.add(plan.steps[i]!.target);
  });
  return { ...chain, steps: out };
}
