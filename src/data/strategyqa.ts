import { z } from 'zod';
import type { Problem, SocraticStep } from './schema.js';

export const StrategyQaRowSchema = z.object({
  qid: z.string().min(1),
  term: z.string().optional(),
  description: z.string().optional(),
  question: z.string().min(1),
  answer: z.boolean(),
  facts: z.array(z.string()),
  decomposition: z.array(z.string().min(1)).min(1),
});

export function strategyQaProblem(raw: z.infer<typeof StrategyQaRowSchema>): Problem {
  return {
    id: raw.qid,
    dataset: 'strategyqa',
    question: raw.question,
    context: raw.facts.join(' '),
    answer: raw.answer,
    meta: { decomposition: raw.decomposition, facts: raw.facts, ...(raw.term ? { term: raw.term } : {}) },
  };
}

/**
 * Socratic steps from a StrategyQA decomposition. The annotations do not align
 * facts with steps, so fact i is used as the solution of step i where it exists,
 * and the last step states the yes/no answer. `#k` references are kept verbatim.
 */
export function strategyQaSteps(decomposition: readonly string[], facts: readonly string[], answer: boolean): SocraticStep[] {
  const n = decomposition.length;
  return decomposition.map((subquestion, i) => {
    if (i < n - 1) return { subquestion, solution: facts[i] ?? '' };
    const rest = facts.slice(n - 1).join(' ');
    return { subquestion, solution: `${rest ? `${rest} ` : ''}So the answer is ${answer ? 'yes' : 'no'}.`, answer };
  });
}
