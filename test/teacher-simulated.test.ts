import { describe, expect, it } from 'vitest';
import { generateSynthetic } from '../src/data/index.js';
import { SimulatedTeacher } from '../src/teacher/index.js';
import { ChainVerifier } from '../src/verify/index.js';
import { TeacherError } from '../src/errors.js';

describe('SimulatedTeacher', () => {
  const problems = generateSynthetic({ count: 600, seed: 11 });

  it('injects exactly the planned errors, and the verifier rejects them', async () => {
    const teacher = new SimulatedTeacher({ errorRate: 0.3, seed: 5 });
    const chains = (await Promise.all(problems.map((p) => teacher.decompose(p)))).flat();
    const judged = new ChainVerifier({ checkArithmetic: true }).verifyAll(chains, problems).judged;
    const planned = problems.map((p) => teacher.plannedError(p, 0));
    const rate = planned.filter((k) => k !== null).length / problems.length;
    expect(rate).toBeGreaterThan(0.22);
    expect(rate).toBeLessThan(0.38);
    for (const kind of ['wrong-step-result', 'skipped-step', 'wrong-final-answer'] as const) expect(planned).toContain(kind);
    judged.forEach((c, i) => {
      if (planned[i] === null) expect(c.verdict).toEqual({ kept: true, reason: 'ok' });
      // A skipped step could in principle land on the right answer; everything else must be rejected.
      else if (planned[i] !== 'skipped-step') expect(c.verdict!.kept).toBe(false);
      if (planned[i] === 'skipped-step') expect(c.steps.length).toBe((problems[i]!.meta!.goldSteps as unknown[]).length - 1);
    });
  });

  it('is deterministic per (seed, problem, sample) and numbers samples from sampleOffset', async () => {
    const teacher = new SimulatedTeacher({ errorRate: 0.5, seed: 1 });
    const a = await teacher.decompose(problems[3]!, { samples: 4 });
    const b = await teacher.decompose(problems[3]!, { samples: 2, sampleOffset: 2 });
    expect(a.map((c) => c.teacher.sampleIndex)).toEqual([0, 1, 2, 3]);
    expect(b).toEqual(a.slice(2));
    const cot = await teacher.chainOfThought(problems[3]!, { samples: 4 });
    expect(cot.map((c) => c.finalAnswer)).toEqual(a.map((c) => c.finalAnswer));
    expect(cot[0]!.steps).toEqual([]);
    expect(cot[0]!.rationale).toMatch(/\n#### /);
  });

  it('error rate 0 gives the gold chain; problems without gold steps are a typed failure', async () => {
    const teacher = new SimulatedTeacher({ errorRate: 0 });
    const [chain] = await teacher.decompose(problems[0]!);
    expect(chain!.steps).toEqual(problems[0]!.meta!.goldSteps);
    await expect(teacher.decompose({ id: 'x', dataset: 'custom', question: 'q', answer: 1 })).rejects.toBeInstanceOf(TeacherError);
  });
});
