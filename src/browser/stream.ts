import type { DatasetName, Problem } from '../data/schema.js';
import { MARKERS } from '../format/markers.js';
import { problemHeader } from '../format/pairs.js';
import type { SolvedStep, StudentSolution } from '../students/common.js';
import { IterativeStudent } from '../students/iterative.js';
import { UnifiedStudent } from '../students/single.js';
import type { BrowserStudent } from './load.js';

export type SolveEvent =
  /** One (subquestion, solution) turn, as soon as it is generated; `ms` is the time this step took. */
  | { type: 'step'; step: SolvedStep; index: number; ms: number }
  /** The final solution; `ms` is the time of the whole solve. */
  | { type: 'done'; solution: StudentSolution; ms: number };

export interface StreamSolveOptions {
  /** Most subquestion turns (Iterative) or lines (Unified). Default: the student's own limit, else 8. */
  maxSteps?: number;
  /** New tokens per generated line. Default 96. */
  maxNewTokens?: number;
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

const now = (): number => performance.now();

/**
 * Solve with every step streamed as an event. Iterative students stream through their own
 * `solve()` generator; Unified students are decoded one line at a time (each line a greedy
 * continuation of the text so far); other students yield only the final answer.
 */
export async function* solveStreaming(student: BrowserStudent, problem: Problem, options: StreamSolveOptions = {}): AsyncGenerator<SolveEvent, void, undefined> {
  const start = now();
  if (student instanceof IterativeStudent) {
    const steps = student.solve(problem, { maxSteps: options.maxSteps ?? student.maxSteps, maxNewTokens: options.maxNewTokens });
    let last = start;
    for (let index = 0; ; index++) {
      const next = await steps.next();
      const t = now();
      if (next.done) {
        yield { type: 'done', solution: next.value, ms: t - start };
        return;
      }
      yield { type: 'step', step: next.value, index, ms: t - last };
      last = now(); // time spent by the consumer between steps is not the model's
    }
  }
  if (student instanceof UnifiedStudent) {
    yield* unifiedLines(student, problem, options, start);
    return;
  }
  yield { type: 'done', solution: await student.solve(problem, { maxNewTokens: options.maxNewTokens }), ms: now() - start };
}

async function* unifiedLines(student: UnifiedStudent, problem: Problem, options: StreamSolveOptions, start: number): AsyncGenerator<SolveEvent, void, undefined> {
  const header = problemHeader(problem);
  const maxLines = 2 * (options.maxSteps ?? 8) + 1;
  let text = '';
  let pending: string | undefined;
  let index = 0;
  let last = start;
  for (let line = 0; line < maxLines; line++) {
    const [out = ''] = await student.lm.generate([header + text], { maxNewTokens: options.maxNewTokens ?? 96, stopSequences: ['\n'] });
    const l = out.trim();
    if (!l) break;
    text += `${out}\n`;
    if (l.startsWith(MARKERS.question)) pending = l.slice(MARKERS.question.length).trim();
    else if (l.startsWith(MARKERS.answer) && pending !== undefined) {
      const parsed = student.parse(`${MARKERS.question} ${pending}\n${l}\n`, problem).steps[0];
      const step: SolvedStep = parsed ?? { subquestion: pending, solution: l.slice(MARKERS.answer.length).trim() };
      pending = undefined;
      const t = now();
      yield { type: 'step', step, index: index++, ms: t - last };
      last = now();
    }
    if (l.includes(MARKERS.final)) break;
  }
  yield { type: 'done', solution: student.parse(text, problem), ms: now() - start };
}
