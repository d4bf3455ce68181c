import { describe, expect, it } from 'vitest';
import type { Problem } from '../src/data/schema.js';
import { Evaluator, type Solver } from '../src/eval/index.js';
import type { StudentSolution } from '../src/students/index.js';

const problems: Problem[] = Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, dataset: 'synthetic', question: `q${i}`, answer: i }));

/** Right on the first `right` problems. */
function solver(kind: Solver['kind'], right: number): Solver {
  return {
    kind,
    async solveMany(ps) {
      return ps.map((p, i): StudentSolution => {
        const answer = i < right ? (p.answer as number) : -1;
        return { answer, strictAnswer: answer, steps: [], text: `#### ${answer}`, stoppedBy: 'eos' };
      });
    },
  };
}

describe('Evaluator', () => {
  const evaluator = new Evaluator();
  // Per seed: [answer-only, cot, unified] problems right out of 10.
  const bySeed = [
    [1, 6, 8],
    [2, 7, 7],
    [1, 5, 6],
    [2, 6, 8],
  ];

  it('evaluates every student on the same problems and pairs the seeds: verdicts come from the CI', async () => {
    const runs = [];
    for (const [seed, [a, c, u]] of bySeed.entries()) {
      const arms = await evaluator.evaluate(
        [
          { name: 'Answer-only', solver: solver('answer-only', a!) },
          { name: 'CoT', solver: solver('cot', c!) },
          { name: 'Unified', solver: solver('unified', u!) },
        ],
        problems,
      );
      expect(arms.map((r) => r.flexible)).toEqual([a! / 10, c! / 10, u! / 10]);
      runs.push({ seed, arms });
    }
    const { summary, comparisons, findings } = evaluator.compare(runs);
    expect(summary.map((s) => [s.name, s.seeds])).toEqual([['Answer-only', 4], ['CoT', 4], ['Unified', 4]]);
    const unifiedVsCot = comparisons.find((c) => c.a === 'Unified' && c.b === 'CoT')!;
    // Differences +0.2, 0, +0.1, +0.2 (fractions): mean +0.125, but the 95% CI (t = 3.182, sd 0.0957) spans zero.
    expect(unifiedVsCot.mean).toBeCloseTo(0.125, 9);
    expect(unifiedVsCot.ci![0]).toBeLessThan(0);
    expect(unifiedVsCot.verdict).toBe('tie within noise');
    const cotVsAnswerOnly = comparisons.find((c) => c.a === 'CoT' && c.b === 'Answer-only')!;
    expect(cotVsAnswerOnly.verdict).toBe('ahead');
    expect(findings.some((f) => f.startsWith('Unified vs CoT') && f.includes('tied within noise'))).toBe(true);
  });
});
