import { SocraticStepSchema, type Problem, type SocraticChain, type SocraticStep } from './schema.js';

/** The human/gold Socratic steps stored in `problem.meta.goldSteps`, if any. */
export function goldSteps(problem: Problem): SocraticStep[] | undefined {
  const raw = problem.meta?.goldSteps;
  const parsed = SocraticStepSchema.array().safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** The gold CoT rationale (`meta.rationale`, ending in `#### N`), if any. */
export function goldRationale(problem: Problem): string | undefined {
  const r = problem.meta?.rationale;
  return typeof r === 'string' ? r : undefined;
}

/** The gold chain of a problem with gold steps (synthetic, GSM8K socratic); undefined otherwise. */
export function goldChain(problem: Problem): SocraticChain | undefined {
  const steps = goldSteps(problem);
  if (!steps) return undefined;
  const rationale = goldRationale(problem);
  return {
    problemId: problem.id,
    steps,
    finalAnswer: problem.answer,
    ...(rationale ? { rationale } : {}),
    teacher: { adapter: 'gold', sampleIndex: 0 },
  };
}
