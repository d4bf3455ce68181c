import { SocraticStepSchema, type Problem, type SocraticChain, type SocraticStep } from './schema.js';
import { strategyQaSteps } from './strategyqa.js';
import { svampEquationSteps } from './svamp.js';

function stringArray(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
}

/** The Socratic steps stored in `problem.meta.goldSteps` (synthetic, GSM8K socratic), if any. */
export function storedGoldSteps(problem: Problem): SocraticStep[] | undefined {
  const raw = problem.meta?.goldSteps;
  const parsed = SocraticStepSchema.array().safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Steps derived from the annotation a dataset ships instead of steps: a StrategyQA decomposition
 * (with its facts as solutions) or a SVAMP equation (one step per operation, the question last).
 */
function derivedGoldSteps(problem: Problem): SocraticStep[] | undefined {
  const meta = problem.meta ?? {};
  const decomposition = stringArray(meta.decomposition);
  if (decomposition && decomposition.length > 0 && typeof problem.answer === 'boolean') {
    return strategyQaSteps(decomposition, stringArray(meta.facts) ?? [], problem.answer);
  }
  if (typeof meta.equation === 'string') {
    const question = typeof meta.questionSentence === 'string' ? meta.questionSentence : problem.question;
    try {
      return svampEquationSteps(meta.equation, question);
    } catch {
      return undefined; // an equation the parser cannot read is no gold path
    }
  }
  return undefined;
}

/**
 * The gold Socratic steps of a problem: `meta.goldSteps` when stored (synthetic, GSM8K socratic),
 * else derived from a StrategyQA decomposition or a SVAMP equation; undefined when it has none.
 */
export function goldSteps(problem: Problem): SocraticStep[] | undefined {
  return storedGoldSteps(problem) ?? derivedGoldSteps(problem);
}

/**
 * The gold CoT rationale: `meta.rationale` (ending in `#### N`) when stored, else one written from the
 * annotation (StrategyQA facts, SVAMP equation steps); undefined when the problem has neither.
 */
export function goldRationale(problem: Problem): string | undefined {
  const r = problem.meta?.rationale;
  if (typeof r === 'string') return r;
  const meta = problem.meta ?? {};
  const facts = stringArray(meta.facts);
  if (stringArray(meta.decomposition) && facts && typeof problem.answer === 'boolean') {
    return `${facts.join(' ')}${facts.length ? ' ' : ''}So the answer is ${problem.answer ? 'yes' : 'no'}.`;
  }
  const steps = derivedGoldSteps(problem);
  if (steps && typeof meta.equation === 'string') return `${steps.map((s) => s.solution).join('\n')}\n#### ${String(steps.at(-1)!.answer)}`;
  return undefined;
}

/** The gold chain of a problem with gold steps (see goldSteps); undefined otherwise. */
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
