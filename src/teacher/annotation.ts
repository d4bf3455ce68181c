import { goldChain } from '../data/gold.js';
import type { Problem, SocraticChain, SocraticStep } from '../data/schema.js';
import { strategyQaSteps } from '../data/strategyqa.js';
import { svampEquationSteps } from '../data/svamp.js';
import { TeacherError } from '../errors.js';
import { TeacherBase } from './sampling.js';
import { throwIfAborted, type SampleRequest, type TeacherSample } from './types.js';

function stringArray(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
}

/** Steps and final answer from whatever human annotation the problem carries. */
function annotatedSteps(problem: Problem): { steps: SocraticStep[]; finalAnswer: SocraticChain['finalAnswer']; rationale?: string } | undefined {
  const gold = goldChain(problem);
  if (gold) return { steps: gold.steps, finalAnswer: gold.finalAnswer, ...(gold.rationale ? { rationale: gold.rationale } : {}) };
  const meta = problem.meta ?? {};
  const decomposition = stringArray(meta.decomposition);
  if (decomposition && typeof problem.answer === 'boolean') {
    const facts = stringArray(meta.facts) ?? [];
    return {
      steps: strategyQaSteps(decomposition, facts, problem.answer),
      finalAnswer: problem.answer,
      rationale: `${facts.join(' ')}${facts.length ? ' ' : ''}So the answer is ${problem.answer ? 'yes' : 'no'}.`,
    };
  }
  if (typeof meta.equation === 'string') {
    const question = typeof meta.questionSentence === 'string' ? meta.questionSentence : problem.question;
    const steps = svampEquationSteps(meta.equation, question);
    // The annotation's own result, not the gold label: the control arm must be able to disagree (SVAMP chal-680 does).
    const finalAnswer = steps.at(-1)!.answer as number;
    return { steps, finalAnswer, rationale: `${steps.map((s) => s.solution).join('\n')}\n#### ${finalAnswer}` };
  }
  return undefined;
}

/**
 * An offline teacher that turns human annotations into chains: GSM8K socratic
 * subquestions, StrategyQA decompositions + facts, SVAMP equations as steps,
 * and the synthetic gold steps. Deterministic, so all samples are identical.
 */
export class AnnotationTeacher extends TeacherBase {
  readonly id = 'annotation';

  async sample(problem: Problem, { mode, signal }: SampleRequest): Promise<TeacherSample> {
    throwIfAborted(signal);
    const a = annotatedSteps(problem);
    if (!a) throw new TeacherError('client', `problem ${problem.id} has no human annotation (gold steps, decomposition or equation)`, { retryable: false });
    const cot = mode === 'cot';
    if (cot && !a.rationale) throw new TeacherError('client', `problem ${problem.id} has no annotated rationale`, { retryable: false });
    return {
      steps: cot ? [] : a.steps,
      finalAnswer: a.finalAnswer,
      // Socratic chains keep a human rationale too, when there is one.
      ...(a.rationale ? { rationale: a.rationale } : {}),
      promptVersion: `annotation-${problem.dataset}-v1`,
    };
  }
}

/** Exported for prompts: the annotated chain of a problem, if any. */
export function annotatedChain(problem: Problem): { steps: SocraticStep[]; finalAnswer: SocraticChain['finalAnswer'] } | undefined {
  return annotatedSteps(problem);
}

