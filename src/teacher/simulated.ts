import { goldChain } from '../data/gold.js';
import type { Problem, SocraticChain, SocraticStep } from '../data/schema.js';
import { skippableSteps, solvePlan, syntheticPlan, type SyntheticPlan } from '../data/synthetic-plan.js';
import { TeacherError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { TEACHER_NEEDS } from './needs.js';
import { TeacherBase } from './sampling.js';
import { throwIfAborted, type SampleRequest, type TeacherMode, type TeacherSample } from './types.js';

export type SimulatedErrorKind = 'wrong-step-result' | 'skipped-step' | 'wrong-final-answer';

export interface SimulatedTeacherOptions {
  /** Probability that a sample carries one error. Default 0.2. */
  errorRate?: number;
  /** Which errors to draw from (uniformly). Default all three. */
  errorKinds?: readonly SimulatedErrorKind[];
  seed?: number;
  /** Artificial latency per request, to exercise concurrency. Default 0. */
  latencyMs?: number;
}

function hashString(s: string, seed: number): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A nonzero offset that keeps a value non-negative. */
function offset(rng: Rng, value: number): number {
  const deltas = [-2, -1, 1, 2, 3].filter((d) => value + d >= 0);
  return rng.pick(deltas);
}

/** The synthetic plan behind a problem's gold steps, when there is one that matches them. */
function planFor(problem: Problem, gold: readonly SocraticStep[]): SyntheticPlan | undefined {
  const plan = syntheticPlan(problem);
  return plan && plan.steps.length === gold.length ? plan : undefined;
}

/** A skipped step needs two steps and (for synthetic plans) a step that only updates a value. */
function canSkip(problem: Problem, gold: readonly SocraticStep[]): boolean {
  const plan = planFor(problem, gold);
  return gold.length >= 2 && (!plan || skippableSteps(plan).length > 0);
}

/**
 * An offline teacher for problems with gold steps (the synthetic task, GSM8K
 * socratic, SVAMP equations, StrategyQA decompositions). It returns the gold decomposition, but with probability
 * `errorRate` injects one realistic mistake, so the verifier has real work.
 * Results depend only on (seed, problem id, sample index), not on call order.
 */
export class SimulatedTeacher extends TeacherBase {
  readonly id = 'simulated';
  private readonly errorRate: number;
  private readonly kinds: readonly SimulatedErrorKind[];
  private readonly seed: number;
  private readonly latencyMs: number;

  constructor(options: SimulatedTeacherOptions = {}) {
    super();
    this.errorRate = options.errorRate ?? 0.2;
    this.kinds = options.errorKinds ?? ['wrong-step-result', 'skipped-step', 'wrong-final-answer'];
    this.seed = options.seed ?? 0;
    this.latencyMs = options.latencyMs ?? 0;
    if (!(this.errorRate >= 0 && this.errorRate <= 1)) throw new RangeError('errorRate must be in [0, 1]');
    if (this.kinds.length === 0) throw new RangeError('errorKinds must not be empty');
  }

  /** Gold steps, in both modes (a CoT rationale is written from them). */
  needs(mode: TeacherMode) {
    return TEACHER_NEEDS.simulated(mode);
  }

  private rng(problem: Problem, sampleIndex: number): Rng {
    return new Rng(hashString(`${problem.id}#${sampleIndex}`, this.seed));
  }

  /** The error (if any) this teacher injects into a given sample; tests and reports use it. */
  plannedError(problem: Problem, sampleIndex: number): SimulatedErrorKind | null {
    const rng = this.rng(problem, sampleIndex);
    const kind = rng.next() < this.errorRate ? rng.pick(this.kinds) : null;
    return kind === 'skipped-step' && !canSkip(problem, goldChain(problem)?.steps ?? []) ? 'wrong-final-answer' : kind;
  }

  async sample(problem: Problem, { mode, sampleIndex, signal }: SampleRequest): Promise<TeacherSample> {
    const gold = goldChain(problem);
    if (!gold) {
      throw new TeacherError('client', `SimulatedTeacher needs gold steps (meta.goldSteps) and problem ${problem.id} has none`, { retryable: false });
    }
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    throwIfAborted(signal);
    const { steps, finalAnswer } = this.corrupt(problem, gold.steps, sampleIndex);
    const provenance = { model: 'gold+noise', promptVersion: 'simulated-v1' };
    if (mode === 'socratic') return { steps, finalAnswer, ...provenance };
    const rationale = `${steps.map((s) => s.solution).join('\n')}\n#### ${String(finalAnswer)}`;
    return { steps: [], finalAnswer, rationale, ...provenance };
  }

  private corrupt(problem: Problem, gold: SocraticStep[], sampleIndex: number): { steps: SocraticStep[]; finalAnswer: SocraticChain['finalAnswer'] } {
    const rng = this.rng(problem, sampleIndex);
    let kind: SimulatedErrorKind | null = rng.next() < this.errorRate ? rng.pick(this.kinds) : null;
    if (kind === 'skipped-step' && !canSkip(problem, gold)) kind = 'wrong-final-answer';
    if (kind === null) return { steps: gold, finalAnswer: problem.answer };
    if (kind === 'wrong-final-answer') {
      const a = problem.answer;
      return { steps: gold, finalAnswer: typeof a === 'number' ? a + offset(rng, a) : typeof a === 'boolean' ? !a : `${a}?` };
    }
    const plan = planFor(problem, gold);
    if (plan) return this.corruptPlan(plan, kind, rng);
    return this.corruptText(problem, gold, kind, rng);
  }

  /** Synthetic problems (every family): replay the plan with the slip, so later steps build on the wrong value. */
  private corruptPlan(plan: SyntheticPlan, kind: SimulatedErrorKind, rng: Rng) {
    let slipped: ReturnType<typeof solvePlan>;
    if (kind === 'skipped-step') {
      const skippable = skippableSteps(plan);
      slipped = solvePlan(plan, { skip: skippable[rng.int(skippable.length)]! });
    } else {
      const k = rng.int(plan.steps.length);
      slipped = solvePlan(plan, { override: (i, r) => (i === k ? r + offset(rng, r) : r) });
    }
    return { steps: slipped.steps, finalAnswer: slipped.answer };
  }

  /** Other gold chains: edit the text of one step (its note, trailing result and answer). */
  private corruptText(problem: Problem, gold: SocraticStep[], kind: SimulatedErrorKind, rng: Rng) {
    const k = kind === 'skipped-step' ? rng.int(gold.length - 1) : rng.int(gold.length);
    if (kind === 'skipped-step') return { steps: gold.filter((_, i) => i !== k), finalAnswer: problem.answer };
    const step = gold[k]!;
    const old = typeof step.answer === 'number' ? step.answer : undefined;
    if (old === undefined) return { steps: gold, finalAnswer: problem.answer };
    const wrong = old + offset(rng, old);
    const solution = step.solution.replace(/=([^<>=]+)>>([\d.,$]*)/g, (m, v: string, after: string) =>
      Number(v.replace(/[,$]/g, '')) === old ? `=${wrong}>>${after.replace(/[\d.,]+/, String(wrong))}` : m,
    );
    const steps = gold.map((s, i) => (i === k ? { ...s, solution, answer: wrong } : s));
    return { steps, finalAnswer: k === gold.length - 1 ? wrong : problem.answer };
  }
}
