import type { DatasetName, Problem } from '../data/schema.js';
import type { SolvedStep, SolveOptions, StudentSolution } from './common.js';

/** What a student's `solve()` yields, in Node and in the browser alike. */
export type SolveEvent =
  /** One (subquestion, solution) turn, as soon as it is generated; `ms` is the time this step took. */
  | { type: 'step'; step: SolvedStep; index: number; ms: number }
  /** The final solution (also the generator's return value); `ms` is the time of the whole solve. */
  | { type: 'done'; solution: StudentSolution; ms: number };

/** The one student contract: every student solves one problem as a stream, and many in batches. */
export interface StreamingSolver {
  /** Streams each step as soon as it exists, then a `done` event; the generator returns the solution too. */
  solve(problem: Problem, options?: SolveOptions): AsyncGenerator<SolveEvent, StudentSolution, undefined>;
  /** Solves many problems in KV-cached batches (the evaluator's path), with optional self-consistency. */
  solveMany(problems: readonly Problem[], options?: SolveOptions): Promise<StudentSolution[]>;
}

/** solveStreaming's options: the student's SolveOptions (maxSteps and maxNewTokens are the ones a UI sets). */
export type StreamSolveOptions = SolveOptions;

/**
 * Solve with every step streamed as an event, the same way in Node (CLI, HTTP service) and in the
 * browser: `for await (const e of solveStreaming(student, problem))` sees each step, then `done`.
 */
export function solveStreaming(student: Pick<StreamingSolver, 'solve'>, problem: Problem, options: StreamSolveOptions = {}): AsyncGenerator<SolveEvent, StudentSolution, undefined> {
  return student.solve(problem, options);
}

/**
 * A Problem for a question typed by a user. The answer is unknown, and nothing grades it;
 * `dataset` only picks how answers are read (numbers for gsm8k/svamp, yes/no for strategyqa).
 */
export function userProblem(question: string, options: { dataset?: DatasetName; context?: string; id?: string } = {}): Problem {
  const problem: Problem = { id: options.id ?? 'user', dataset: options.dataset ?? 'gsm8k', question, answer: '' };
  if (options.context) problem.context = options.context;
  return problem;
}

/**
 * The events of one solve, from a generator that yields each step as it is made and returns the
 * solution. A step's `ms` is the model's time only: time the consumer spends between events is not counted.
 */
export async function* solveEvents(steps: AsyncGenerator<SolvedStep, StudentSolution, undefined>): AsyncGenerator<SolveEvent, StudentSolution, undefined> {
  const start = performance.now();
  let last = start;
  for (let index = 0; ; index++) {
    const next = await steps.next();
    const t = performance.now();
    if (next.done) {
      yield { type: 'done', solution: next.value, ms: t - start };
      return next.value;
    }
    yield { type: 'step', step: next.value, index, ms: t - last };
    last = performance.now();
  }
}

/** The steps of an already finished solution, for students that only see the whole text at once. */
export async function* replaySteps(solution: StudentSolution): AsyncGenerator<SolvedStep, StudentSolution, undefined> {
  for (const step of solution.steps) yield step;
  return solution;
}

/** Runs a solve to its end, for callers that want the solution and no events. */
export async function finalSolution(run: AsyncGenerator<SolveEvent, StudentSolution, undefined>): Promise<StudentSolution> {
  for (;;) {
    const next = await run.next();
    if (next.done) return next.value;
  }
}
