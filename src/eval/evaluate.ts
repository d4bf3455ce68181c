import type { Problem } from '../data/schema.js';
import { evaluateStudents, type ArmResult, type EvaluateOptions, type Solver } from './evaluator.js';
import { compareRuns, type ArmSummary, type RunResult } from './report.js';
import type { PairedComparison } from './stats.js';

/** One seed's students, each under the name it carries in every table. */
export type NamedStudents = ReadonlyArray<{ name: string; solver: Solver }>;

export interface Comparison {
  /** Per student: mean and spread of accuracy over the seeds. */
  summary: ArmSummary[];
  /** Paired per-seed differences with a 95% CI; the verdict comes from the CI, never from the sign of a mean. */
  comparisons: PairedComparison[];
  /** The same, as sentences (the paper's ordering first). */
  findings: string[];
}

/**
 * Scores students the way the paper compares them: every student on the very same problems, then the
 * seeds paired. `evaluate` is one seed; `compare` turns several seeds' results into verdicts.
 */
export class Evaluator {
  constructor(private readonly options: EvaluateOptions = {}) {}

  /** Accuracy (strict and flexible), step statistics and, with `attribution`, where Socratic students go wrong. */
  evaluate(students: NamedStudents, problems: readonly Problem[]): Promise<ArmResult[]> {
    return evaluateStudents(students, problems, this.options);
  }

  /** Paired comparisons over seeds: each run is one seed's `evaluate` result. */
  compare(runs: ReadonlyArray<{ seed: number; arms: ArmResult[] }>): Comparison {
    return compareRuns(runs.map((r): RunResult => ({ ...r, losses: {} })));
  }
}
