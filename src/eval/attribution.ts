import { goldSteps } from '../data/gold.js';
import type { Problem, SocraticStep } from '../data/schema.js';
import { MARKERS, oneLine } from '../format/markers.js';
import { qaPrompt, qgPrompt } from '../format/pairs.js';
import type { StudentSolution } from '../students/common.js';
import type { GenerateTextOptions, TurnModels } from '../students/decode.js';
import { answersMatch, extractAnswer } from '../verify/answer.js';

/*
 * Where a stepwise student goes wrong. Both Socratic students write the same turns
 * (`Q:` subquestion lines, `A:` solution lines), so both can be probed the same way:
 * teacher-forced (gold history in, one turn out) and free-running (their own solutions).
 */

/** Why a free-running solution first left the gold path. */
export const FIRST_ERRORS = ['none', 'planning', 'arithmetic', 'stopped-early', 'ran-over', 'final-answer'] as const;
export type FirstError = (typeof FIRST_ERRORS)[number];

export interface Attribution {
  /** Problems with gold steps that were probed. */
  problems: number;
  /** Teacher-forced QG: share of gold prefixes after which the next subquestion asks for the gold step's quantity. */
  qgAccuracy: number;
  /** Teacher-forced stop: share of complete gold histories after which the student ends (end marker or final answer). */
  stopAccuracy: number;
  /** Teacher-forced QA: share of (gold history, gold subquestion) whose answer is the gold step's value. */
  qaAccuracy: number;
  /** Free-running: share of solutions by where they first left the gold path. */
  firstError: Record<FirstError, number>;
  /** Free-running: mean 0-based step index of the first wrong number, over solutions that have one. */
  meanFirstWrongStep: number | null;
}

/**
 * On the synthetic task a subquestion is a deterministic function of the quantity it asks for
 * (entity, operation, operand), so a normalised match with the gold subquestion says exactly
 * whether it asks for the gold step's quantity. On human-written data it is a strict proxy.
 */
export function asksGoldQuantity(subquestion: string, gold: Pick<SocraticStep, 'subquestion'>): boolean {
  return normalizeQuestion(subquestion) === normalizeQuestion(gold.subquestion);
}

export function normalizeQuestion(text: string): string {
  return oneLine(text).toLowerCase().replace(/[^a-z0-9.]+/g, ' ').replace(/\s+/g, ' ').trim();
}

/** Classify one free-running solution against the gold steps (see FirstError). */
export function firstError(solution: StudentSolution, gold: readonly SocraticStep[], problem: Problem): { kind: FirstError; step: number | null } {
  const steps = solution.steps;
  for (let k = 0; k < Math.min(steps.length, gold.length); k++) {
    if (answersMatch(steps[k]!.answer ?? null, gold[k]!.answer ?? null, problem.dataset)) continue;
    return { kind: asksGoldQuantity(steps[k]!.subquestion, gold[k]!) ? 'arithmetic' : 'planning', step: k };
  }
  if (steps.length < gold.length) return { kind: 'stopped-early', step: steps.length };
  if (steps.length > gold.length) return { kind: 'ran-over', step: gold.length };
  if (!answersMatch(solution.answer, problem.answer, problem.dataset)) return { kind: 'final-answer', step: null };
  return { kind: 'none', step: null };
}

const TURN: GenerateTextOptions = { maxNewTokens: 64, stopSequences: ['\n'] };

/**
 * Probe a stepwise student on problems with gold steps: teacher-forced QG, stop and QA
 * accuracy, and the first error of each free-running solution (`solutions[i]` solves `problems[i]`).
 * Returns null when no problem has gold steps.
 */
export async function attributeErrors(
  models: TurnModels,
  problems: readonly Problem[],
  solutions: readonly StudentSolution[],
  options: { batchSize?: number } = {},
): Promise<Attribution | null> {
  const gen: GenerateTextOptions = { ...TURN, batchSize: options.batchSize };
  const probed = problems.map((p, i) => ({ problem: p, gold: goldSteps(p), solution: solutions[i]! })).filter((x) => x.gold && x.gold.length > 0);
  if (probed.length === 0) return null;

  // QG: every gold prefix, including the complete one (where the right move is to stop).
  const qgCases = probed.flatMap(({ problem, gold }) => gold!.map((_, k) => ({ problem, gold: gold!, k })).concat([{ problem, gold: gold!, k: gold!.length }]));
  const proposed = await models.proposer.generate(qgCases.map((c) => qgPrompt(c.problem, c.gold.slice(0, c.k))), gen);
  let qgRight = 0;
  let qgTotal = 0;
  let stopRight = 0;
  qgCases.forEach((c, i) => {
    const out = proposed[i]!.trim();
    const stops = out.includes(MARKERS.end) || out.startsWith(MARKERS.final);
    if (c.k === c.gold.length) {
      if (stops) stopRight++;
      return;
    }
    qgTotal++;
    if (!stops && asksGoldQuantity(stripMarker(out, MARKERS.question), c.gold[c.k]!)) qgRight++;
  });

  // QA: gold history and gold subquestion in, one solution line out.
  const qaCases = probed.flatMap(({ problem, gold }) => gold!.map((step, k) => ({ problem, gold: gold!, k, step })));
  const answered = await models.answerer.generate(qaCases.map((c) => qaPrompt(c.problem, c.gold.slice(0, c.k), c.step.subquestion)), gen);
  let qaRight = 0;
  qaCases.forEach((c, i) => {
    const value = extractAnswer(stripMarker(answered[i]!.trim(), MARKERS.answer), c.problem.dataset, 'flexible');
    if (answersMatch(value, c.step.answer ?? null, c.problem.dataset)) qaRight++;
  });

  const counts = Object.fromEntries(FIRST_ERRORS.map((k) => [k, 0])) as Record<FirstError, number>;
  const wrongSteps: number[] = [];
  for (const { problem, gold, solution } of probed) {
    const e = firstError(solution, gold!, problem);
    counts[e.kind]++;
    if (e.step !== null && (e.kind === 'planning' || e.kind === 'arithmetic')) wrongSteps.push(e.step);
  }
  const n = probed.length;
  return {
    problems: n,
    qgAccuracy: qgTotal ? qgRight / qgTotal : 0,
    stopAccuracy: stopRight / n,
    qaAccuracy: qaCases.length ? qaRight / qaCases.length : 0,
    firstError: Object.fromEntries(FIRST_ERRORS.map((k) => [k, counts[k] / n])) as Record<FirstError, number>,
    meanFirstWrongStep: wrongSteps.length ? wrongSteps.reduce((a, b) => a + b, 0) / wrongSteps.length : null,
  };
}

function stripMarker(text: string, marker: string): string {
  return (text.startsWith(marker) ? text.slice(marker.length) : text).trim();
}
