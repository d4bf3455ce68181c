import type { Problem, SocraticChain, SocraticStep } from '../data/schema.js';
import { TrainingDataError } from '../errors.js';
import { stripCalculatorNotes } from '../data/gsm8k.js';
import { MARKERS, formatAnswer, oneLine } from './markers.js';

/** Which model a pair trains: the baselines, the Unified student, or one half of the Iterative student. */
export const FORMAT_MODES = ['answer-only', 'cot', 'unified', 'qg', 'qa'] as const;
export type FormatMode = (typeof FORMAT_MODES)[number];

/** One supervised example. The loss falls on `completion` (and on `prompt` only when asked). */
export interface TrainingPair {
  prompt: string;
  completion: string;
  problemId: string;
}

export interface FormatOptions {
  /** CoT only: keep GSM8K calculator notes `<<a*b=c>>` in the rationale. Default false (stripped). */
  keepCalculatorNotes?: boolean;
}

export type ProblemText = Pick<Problem, 'question' | 'context'>;
export type StepText = Pick<SocraticStep, 'subquestion' | 'solution'> & { answer?: SocraticStep['answer'] };

/** The shared prompt head: optional facts, then the problem. Always ends with a newline. */
export function problemHeader(problem: ProblemText): string {
  const facts = problem.context ? `${MARKERS.facts} ${oneLine(problem.context)}\n` : '';
  return `${facts}${MARKERS.problem} ${oneLine(problem.question)}\n`;
}

/**
 * A step's solution as students see it: one line, ending with the step's answer when it is known.
 * Calculator notes are stripped unless kept, as for CoT, so every arm sees the same arithmetic text.
 */
export function stepSolutionText(step: StepText, options: FormatOptions = {}): string {
  const text = oneLine(options.keepCalculatorNotes ? step.solution : stripCalculatorNotes(step.solution));
  if (step.answer === undefined) return text;
  const answer = formatAnswer(step.answer);
  const bare = text.replace(/[.\s]+$/, '');
  return bare.endsWith(answer) ? text : `${text}${text ? ' ' : ''}So the answer is ${answer}.`;
}

export function historyText(steps: readonly StepText[], options: FormatOptions = {}): string {
  return steps.map((s) => `${MARKERS.question} ${oneLine(s.subquestion)}\n${MARKERS.answer} ${stepSolutionText(s, options)}\n`).join('');
}

/** QG input: the problem plus every previous (subquestion, solution). */
export function qgPrompt(problem: ProblemText, history: readonly StepText[], options: FormatOptions = {}): string {
  return problemHeader(problem) + historyText(history, options);
}

/** QA input: the problem, the history and the current subquestion. */
export function qaPrompt(problem: ProblemText, history: readonly StepText[], subquestion: string, options: FormatOptions = {}): string {
  return `${qgPrompt(problem, history, options)}${MARKERS.question} ${oneLine(subquestion)}\n`;
}

export function finalAnswerLine(answer: number | boolean | string): string {
  return `${MARKERS.final} ${formatAnswer(answer)}`;
}

/** The CoT rationale: the teacher's, else its Socratic solutions in order, else the dataset's. */
export function cotRationale(problem: Problem, chain: SocraticChain | undefined, options: FormatOptions = {}): string {
  const fromMeta = typeof problem.meta?.rationale === 'string' ? problem.meta.rationale : undefined;
  const fromSteps = chain && chain.steps.length > 0 ? chain.steps.map((s) => oneLine(s.solution)).join('\n') : undefined;
  const raw = chain?.rationale ?? fromSteps ?? fromMeta ?? '';
  const text = options.keepCalculatorNotes ? raw : stripCalculatorNotes(raw);
  // A rationale may carry its own final line; the format adds exactly one.
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith(MARKERS.final))
    .join('\n');
}

/** All training pairs one (problem, chain) contributes in a mode: one pair, or one per step for QG/QA. */
export function pairsForChain(mode: FormatMode, problem: Problem, chain: SocraticChain | undefined, options: FormatOptions = {}): TrainingPair[] {
  const head = problemHeader(problem);
  const final = finalAnswerLine(chain?.finalAnswer ?? problem.answer);
  const pair = (prompt: string, completion: string): TrainingPair => ({ prompt, completion, problemId: problem.id });
  switch (mode) {
    case 'answer-only':
      return [pair(head, final)];
    case 'cot': {
      const rationale = cotRationale(problem, chain, options);
      return [pair(head, rationale ? `${rationale}\n${final}` : final)];
    }
    case 'unified':
      return [pair(head, historyText(requireSteps(chain, mode), options) + final)];
    case 'qg': {
      const steps = requireSteps(chain, mode);
      const out = steps.map((s, k) => pair(qgPrompt(problem, steps.slice(0, k), options), `${MARKERS.question} ${oneLine(s.subquestion)}`));
      out.push(pair(qgPrompt(problem, steps, options), MARKERS.end));
      return out;
    }
    case 'qa': {
      const steps = requireSteps(chain, mode);
      return steps.map((s, k) => pair(qaPrompt(problem, steps.slice(0, k), s.subquestion, options), `${MARKERS.answer} ${stepSolutionText(s, options)}`));
    }
  }
}

function requireSteps(chain: SocraticChain | undefined, mode: FormatMode): SocraticStep[] {
  if (!chain) throw new TrainingDataError(`format '${mode}' needs a Socratic chain for every problem`);
  return chain.steps;
}

/** A text piece of a training sequence; the loss falls on it only when `loss` is true. */
export interface Segment {
  text: string;
  loss: boolean;
}

/**
 * A whole chain as one sequence, with the loss on one role's lines. Because attention is
 * causal, the logits at each of that role's lines are exactly those of the matching
 * per-step pair (same prefix, same tokens: segments split only at line ends, where the
 * tokenizer splits anyway), so one sequence teaches every step of the chain in one pass.
 * `qg`: loss on each `Q:` line and the closing `[END]`; `qa`: loss on each `A:` line.
 */
export interface TrainingSequence {
  segments: Segment[];
  problemId: string;
}

export type ChainRole = 'qg' | 'qa';

export function roleSequence(role: ChainRole, problem: Problem, chain: SocraticChain | undefined, options: FormatOptions = {}): TrainingSequence {
  const steps = requireSteps(chain, role);
  const segments: Segment[] = [{ text: problemHeader(problem), loss: false }];
  for (const s of steps) {
    segments.push({ text: `${MARKERS.question} ${oneLine(s.subquestion)}\n`, loss: role === 'qg' });
    segments.push({ text: `${MARKERS.answer} ${stepSolutionText(s, options)}\n`, loss: role === 'qa' });
  }
  if (role === 'qg') segments.push({ text: MARKERS.end, loss: true });
  // QA's last turn ends with EOS right after the solution, as its per-step pair does.
  else segments[segments.length - 1] = { text: segments.at(-1)!.text.trimEnd(), loss: true };
  return { segments, problemId: problem.id };
}

/** One role sequence per chain, matched to its problem by id (see buildPairs). */
export function buildRoleSequences(role: ChainRole, problems: readonly Problem[], chains: readonly SocraticChain[], options: FormatOptions = {}): TrainingSequence[] {
  const byId = problemsById(problems);
  return chains.map((chain) => roleSequence(role, problemFor(byId, chain), chain, options));
}

function problemsById(problems: readonly Problem[]): Map<string, Problem> {
  return new Map(problems.map((p) => [p.id, p]));
}

function problemFor(byId: ReadonlyMap<string, Problem>, chain: SocraticChain): Problem {
  const problem = byId.get(chain.problemId);
  if (!problem) {
    throw new TrainingDataError(`chain for problem '${chain.problemId}' has no matching problem; pass the problems file the chains were generated from`);
  }
  return problem;
}

/**
 * Pairs for a whole training set. Each chain is matched to its problem by id; a chain
 * whose problem is missing is an error rather than a silently dropped example.
 */
export function buildPairs(mode: FormatMode, problems: readonly Problem[], chains: readonly SocraticChain[], options: FormatOptions = {}): TrainingPair[] {
  const byId = problemsById(problems);
  return chains.flatMap((chain) => pairsForChain(mode, problemFor(byId, chain), chain, options));
}
