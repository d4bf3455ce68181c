import type { Problem } from '../data/schema.js';
import type { SolveOptions, StudentKind } from '../students/common.js';
import type { TurnModels } from '../students/decode.js';
import type { StreamingSolver } from '../students/stream.js';
import { attributeErrors, type Attribution } from './attribution.js';
import { answersMatch } from '../verify/answer.js';
import { scoreByDataset, stepStats, type DatasetScore, type StepStats } from './metrics.js';

/** What the evaluator needs of a student: the batched half of the student contract (StreamingSolver.solveMany). */
export interface Solver extends Pick<StreamingSolver, 'solveMany'> {
  readonly kind: StudentKind;
  /** Socratic students: their turn models, so errors can be attributed to a turn. */
  turnModels?(): TurnModels;
}

export interface ArmResult {
  /** Display name, e.g. `Iterative (QG+QA)`. */
  name: string;
  kind: StudentKind;
  /** Decoded with the calculator (SolveOptions.calculator): arithmetic written by the safe parser. */
  calculator?: boolean;
  scores: DatasetScore[];
  /** Accuracy over all problems (every dataset together). */
  strict: number;
  flexible: number;
  steps: StepStats;
  wallSeconds: number;
  /** Socratic arms on problems with gold steps: teacher-forced turn accuracies and free-running first errors. */
  attribution?: Attribution | null;
  /** A few solved examples for the report. */
  samples: Array<{
    problemId: string;
    /** The problem's text (reports written before this field existed lack it). */
    question?: string;
    gold: unknown;
    answer: unknown;
    /** Whether the (flexible) answer is right. */
    correct?: boolean;
    /** What the student wrote: its steps (Q:/A: lines), rationale or answer line. */
    text: string;
  }>;
}

export interface EvaluateOptions extends SolveOptions {
  /** Examples kept per arm for the report. Default 3. */
  keepSamples?: number;
  /** Attribute errors of Socratic arms to QG or QA (see attributeErrors). Default false. */
  attribution?: boolean;
}

/** Evaluate several students on the very same problems. */
export async function evaluateStudents(arms: ReadonlyArray<{ name: string; solver: Solver }>, problems: readonly Problem[], options: EvaluateOptions = {}): Promise<ArmResult[]> {
  const out: ArmResult[] = [];
  for (const { name, solver } of arms) {
    const started = performance.now();
    const solutions = await solver.solveMany(problems, options);
    const wallSeconds = (performance.now() - started) / 1000;
    const models = options.attribution ? solver.turnModels?.() : undefined;
    const attribution = models ? await attributeErrors(models, problems, solutions, { batchSize: options.batchSize }) : undefined;
    const scores = scoreByDataset(problems, solutions);
    const total = scores.reduce((a, s) => a + s.n, 0) || 1;
    out.push({
      name,
      kind: solver.kind,
      ...(options.calculator ? { calculator: true } : {}),
      scores,
      strict: scores.reduce((a, s) => a + s.strict * s.n, 0) / total,
      flexible: scores.reduce((a, s) => a + s.flexible * s.n, 0) / total,
      steps: stepStats(solutions),
      wallSeconds,
      ...(attribution !== undefined ? { attribution } : {}),
      samples: solutions.slice(0, options.keepSamples ?? 3).map((s, i) => {
        const p = problems[i]!;
        return { problemId: p.id, question: p.question, gold: p.answer, answer: s.answer, correct: answersMatch(s.answer, p.answer, p.dataset), text: s.text };
      }),
    });
  }
  return out;
}
