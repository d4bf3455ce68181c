import type { Answer, DatasetName, Problem } from '../data/schema.js';
import type { StudentSolution } from '../students/common.js';
import { answersMatch, normalizeAnswer } from '../verify/answer.js';

export interface DatasetScore {
  dataset: DatasetName;
  n: number;
  /** Share of problems whose strictly-read answer (`####` line; Iterative: after a clean stop) is right. */
  strict: number;
  /** Share whose flexibly-read answer (marked, stated, or last number) is right. */
  flexible: number;
}

export interface StepStats {
  /** Mean number of (subquestion, solution) steps the student wrote. */
  meanSteps: number;
  /** Share of problems where the Iterative QG ran into maxSteps. */
  capRate: number;
}

export function scoreByDataset(problems: readonly Problem[], solutions: readonly StudentSolution[]): DatasetScore[] {
  const groups = new Map<DatasetName, { n: number; strict: number; flexible: number }>();
  problems.forEach((p, i) => {
    const s = solutions[i]!;
    const g = groups.get(p.dataset) ?? { n: 0, strict: 0, flexible: 0 };
    g.n++;
    if (answersMatch(s.strictAnswer, p.answer, p.dataset)) g.strict++;
    if (answersMatch(s.answer, p.answer, p.dataset)) g.flexible++;
    groups.set(p.dataset, g);
  });
  return [...groups].map(([dataset, g]) => ({ dataset, n: g.n, strict: g.strict / g.n, flexible: g.flexible / g.n }));
}

export function stepStats(solutions: readonly StudentSolution[]): StepStats {
  const n = Math.max(1, solutions.length);
  return {
    meanSteps: solutions.reduce((a, s) => a + s.steps.length, 0) / n,
    capRate: solutions.filter((s) => s.stoppedBy === 'max-steps').length / n,
  };
}

/**
 * Accuracy of always answering the most common gold answer of `train` (StrategyQA's
 * yes/no majority class): the floor a student has to beat.
 */
export function majorityClassBaseline(train: readonly Problem[], test: readonly Problem[], dataset?: DatasetName): { answer: Answer | null; accuracy: number } {
  const counts = new Map<string, { answer: Answer; n: number }>();
  for (const p of train) {
    const a = normalizeAnswer(p.answer, dataset ?? p.dataset);
    if (a === null) continue;
    const e = counts.get(String(a)) ?? { answer: a, n: 0 };
    e.n++;
    counts.set(String(a), e);
  }
  let best: { answer: Answer; n: number } | null = null;
  for (const e of counts.values()) if (!best || e.n > best.n) best = e;
  if (!best || test.length === 0) return { answer: best?.answer ?? null, accuracy: 0 };
  const hits = test.filter((p) => answersMatch(best!.answer, p.answer, dataset ?? p.dataset)).length;
  return { answer: best.answer, accuracy: hits / test.length };
}

export function meanAndStd(values: readonly number[]): { mean: number; std: number; min: number; max: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...values), max: Math.max(...values) };
}
