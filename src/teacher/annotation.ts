import { goldRationale, goldSteps, storedGoldSteps } from '../data/gold.js';
import type { Problem, SocraticChain, SocraticStep } from '../data/schema.js';
import { TeacherError } from '../errors.js';
import { TEACHER_NEEDS } from './needs.js';
import { TeacherBase } from './sampling.js';
import { throwIfAborted, type SampleRequest, type TeacherMode, type TeacherSample } from './types.js';

/** Steps and final answer from whatever human annotation the problem carries. */
function annotatedSteps(problem: Problem): { steps: SocraticStep[]; finalAnswer: SocraticChain['finalAnswer'] } | undefined {
  const steps = goldSteps(problem);
  if (!steps) return undefined;
  // SVAMP: the equation's own result, not the gold label: the control arm must be able to disagree (SVAMP chal-680 does).
  const fromEquation = !storedGoldSteps(problem) && typeof problem.meta?.equation === 'string';
  return { steps, finalAnswer: fromEquation ? (steps.at(-1)!.answer as number) : problem.answer };
}

/**
 * An offline teacher that turns human annotations into chains: GSM8K socratic
 * subquestions, StrategyQA decompositions + facts, SVAMP equations as steps,
 * and the synthetic gold steps. Deterministic, so all samples are identical.
 */
export class AnnotationTeacher extends TeacherBase {
  readonly id = 'annotation';

  /** Socratic chains need gold steps; CoT chains a rationale (GSM8K's main files have only that). */
  needs(mode: TeacherMode) {
    return TEACHER_NEEDS.annotation(mode);
  }

  async sample(problem: Problem, { mode, signal }: SampleRequest): Promise<TeacherSample> {
    throwIfAborted(signal);
    const rationale = goldRationale(problem);
    const promptVersion = `annotation-${problem.dataset}-v1`;
    if (mode === 'cot') {
      if (!rationale) throw new TeacherError('client', `problem ${problem.id} has no annotated rationale`, { retryable: false });
      const a = annotatedSteps(problem);
      return { steps: [], finalAnswer: a?.finalAnswer ?? problem.answer, rationale, promptVersion };
    }
    const a = annotatedSteps(problem);
    if (!a) throw new TeacherError('client', `problem ${problem.id} has no human annotation (gold steps, decomposition or equation)`, { retryable: false });
    // Socratic chains keep a human rationale too, when there is one.
    return { steps: a.steps, finalAnswer: a.finalAnswer, ...(rationale ? { rationale } : {}), promptVersion };
  }
}

/** Exported for prompts: the annotated chain of a problem, if any. */
export function annotatedChain(problem: Problem): { steps: SocraticStep[]; finalAnswer: SocraticChain['finalAnswer'] } | undefined {
  return annotatedSteps(problem);
}
