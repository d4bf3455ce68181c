import type { Problem } from '../data/schema.js';
import { evaluateStudents, type ArmResult, type EvaluateOptions, type Solver } from './evaluator.js';
import { compareRuns, type ArmSummary, type RunResult, type SubsetRun, type SubsetSummary, type TestSubset } from './report.js';
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
  /** When the runs carry test subsets: the same per subset, and each arm's shift from the first subset. */
  subsets?: SubsetSummary[];
}

/**
 * Scores students the way the paper compares them: every student on the very same problems, then the
 * seeds paired. `evaluate` is one seed; `evaluateSubsets` is one seed on several named test sets (e.g.
 * in distribution and deeper); `compare` turns several seeds' results into verdicts.
 */
export class Evaluator {
  constructor(private readonly options: EvaluateOptions = {}) {}

  /** Accuracy (strict and flexible), step statistics and, with `attribution`, where Socratic students go wrong. */
  evaluate(students: NamedStudents, problems: readonly Problem[]): Promise<ArmResult[]> {
    return evaluateStudents(students, problems, this.options);
  }

  /**
   * `evaluate` on each subset apart (attribution per subset too). Pass the result as a run's `subsets`,
   * with the first subset's arms as its `arms`: `{ seed, arms: r[0].arms, subsets: r }`.
   */
  async evaluateSubsets(students: NamedStudents, subsets: readonly TestSubset[]): Promise<SubsetRun[]> {
    const names = subsets.map((s) => s.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) throw new RangeError(`test subset '${twice}' is named twice; every subset needs its own name`);
    const out: SubsetRun[] = [];
    for (const s of subsets) out.push({ name: s.name, problems: s.problems.length, arms: await this.evaluate(students, s.problems) });
    return out;
  }

  /** Paired comparisons over seeds: each run is one seed's `evaluate` result (with `subsets`: its `evaluateSubsets` result). */
  compare(runs: ReadonlyArray<{ seed: number; arms: ArmResult[]; subsets?: SubsetRun[] }>): Comparison {
    return compareRuns(runs.map((r): RunResult => ({ ...r, losses: {} })));
  }
}
