import { Rng } from '../util/rng.js';
import type { Problem } from './schema.js';
import { dagProblem } from './synthetic-dag.js';
import { chainProblem, distractorsProblem, entitiesProblem, planningProblem, type FamilyDraft } from './synthetic-families.js';
import type { ResolvedSyntheticOptions } from './synthetic-ops.js';
import { applyOp, solvePlan, syntheticPlan, type SyntheticOp, type SyntheticProgram } from './synthetic-plan.js';

/**
 * The embedded default task: seeded multi-step arithmetic word problems with a
 * gold Socratic decomposition in GSM8K-socratic form. The default `chain` family
 * applies 2–4 operations to one running quantity, so its final answer needs every
 * intermediate result; the other families (docs/data.md) add length, irrelevant
 * facts, several people, facts that depend on another person's computed quantity, and
 * (`dag`) a shuffled graph of quantities with irrelevant ones.
 */
export { applyOp, solvePlan, syntheticPlan, type SyntheticOp, type SyntheticProgram };
export type { PlanOperand, PlanStep, ReplayOptions, SyntheticPlan } from './synthetic-plan.js';

export const SYNTHETIC_FAMILIES = ['chain', 'long', 'distractors', 'entities', 'planning', 'dag'] as const;
export type SyntheticFamily = (typeof SYNTHETIC_FAMILIES)[number];

export interface SyntheticOptions {
  count: number;
  seed?: number;
  /** Kind of problem (docs/data.md). Default `chain`, whose output never changes for a given seed. */
  family?: SyntheticFamily;
  /**
   * Operations per problem. Defaults 2 and 4 (`long`: 4 and 6). For `entities` and `planning`
   * they count the events of the story, of which the gold steps use only the relevant ones; for
   * `dag`, the computed quantities the answer needs (the gold steps: the depth of the problem).
   */
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
  /** `distractors` family: irrelevant facts per problem; `dag`: irrelevant computed quantities. Default 2. */
  distractors?: number;
  /** `entities` and `planning` families: people per problem (2 or 3). Default: 2 or 3 at random. */
  people?: number;
  /** Index of the first problem; ids are `synthetic-<seed>-<index>` (`synthetic-<family>-<seed>-<index>` for other families). Default 0. */
  startIndex?: number;
}

function resolve(o: Partial<SyntheticOptions>): ResolvedSyntheticOptions {
  const family = o.family ?? 'chain';
  if (!SYNTHETIC_FAMILIES.includes(family)) throw new RangeError(`family must be one of ${SYNTHETIC_FAMILIES.join('|')}, got '${String(family)}'`);
  const long = family === 'long';
  const r: ResolvedSyntheticOptions = {
    family,
    seed: o.seed ?? 0,
    minSteps: o.minSteps ?? (long ? 4 : 2),
    maxSteps: o.maxSteps ?? (long ? 6 : 4),
    minOperand: o.minOperand ?? 1,
    maxOperand: o.maxOperand ?? 20,
    maxFactor: o.maxFactor ?? 5,
    maxResult: o.maxResult ?? 100,
    operations: o.operations ?? ['add', 'sub', 'mul', 'div'],
    distractors: o.distractors ?? 2,
    people: o.people,
  };
  if (!(r.minSteps >= 1 && r.maxSteps >= r.minSteps && r.maxSteps <= 8)) throw new RangeError('need 1 <= minSteps <= maxSteps <= 8');
  if (!(r.minOperand >= 1 && r.maxOperand >= r.minOperand)) throw new RangeError('need 1 <= minOperand <= maxOperand');
  if (r.maxResult < r.maxOperand * 2) throw new RangeError('maxResult must be at least 2 * maxOperand');
  if (r.operations.length === 0) throw new RangeError('operations must not be empty');
  if (!(Number.isInteger(r.distractors) && r.distractors >= 1 && r.distractors <= 4)) throw new RangeError('distractors must be an integer in [1, 4]');
  if (r.people !== undefined && r.people !== 2 && r.people !== 3) throw new RangeError('people must be 2 or 3');
  return r;
}

function mixSeed(seed: number, index: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

/** Problem `index` of the stream for (seed, family); independent of how many others are generated. */
export function syntheticProblem(index: number, options: Partial<SyntheticOptions> = {}): Problem {
  const o = resolve(options);
  if (o.family === 'chain') {
    // Built exactly as before families existed: existing seeds give byte-identical problems.
    const d = chainProblem(new Rng(mixSeed(o.seed, index)), o);
    return assemble(`synthetic-${o.seed}-${index}`, d, {});
  }
  // Each family its own stream, so `long` and `distractors` problem i do not share chain problem i's opening.
  const rng = new Rng((mixSeed(o.seed, index) ^ Math.imul(SYNTHETIC_FAMILIES.indexOf(o.family) + 1, 0xc2b2ae35)) >>> 0);
  const build = { long: chainProblem, distractors: distractorsProblem, entities: entitiesProblem, planning: planningProblem, dag: dagProblem }[o.family];
  const draft = build(rng, o);
  return assemble(`synthetic-${o.family}-${o.seed}-${index}`, draft, { family: o.family, ...draft.extra });
}

function assemble(id: string, d: FamilyDraft, extra: Record<string, unknown>): Problem {
  return {
    id,
    dataset: 'synthetic',
    question: d.sentences.join(' '),
    answer: d.answer,
    meta: {
      goldSteps: d.goldSteps,
      rationale: `${d.goldSteps.map((s) => s.solution).join('\n')}\n#### ${d.answer}`,
      template: d.template,
      name: d.name,
      program: d.program,
      ...extra,
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
