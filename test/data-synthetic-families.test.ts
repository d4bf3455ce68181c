import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSynthetic, goldChain, SYNTHETIC_FAMILIES, solvePlan, syntheticPlan, syntheticProblem, type SyntheticPlan } from '../src/data/index.js';
import { ProblemSchema, type Problem } from '../src/data/schema.js';
import { SimulatedTeacher } from '../src/teacher/index.js';
import { ChainVerifier, evaluateExpression } from '../src/verify/index.js';

const sha = (v: unknown): string => createHash('sha256').update(JSON.stringify(v)).digest('hex');
const numbers = (text: string): number[] => [...text.matchAll(/\d+/g)].map((m) => Number(m[0]));

describe('synthetic chain family (default) is unchanged', () => {
  // Hashes of the output at the commit before families existed (f41cc4b).
  it('gives byte-identical problems for existing seeds and options', () => {
    expect(sha(generateSynthetic({ count: 200, seed: 7 }))).toBe('d6f1259194a35d28ee14c3a842148ff2db2266f1c9d390c3228b50ef714b64ce');
    expect(sha(generateSynthetic({ count: 200, seed: 7, family: 'chain' }))).toBe('d6f1259194a35d28ee14c3a842148ff2db2266f1c9d390c3228b50ef714b64ce');
    expect(sha(generateSynthetic({ count: 100, seed: 3, minSteps: 1, maxSteps: 8, maxResult: 60 }))).toBe('1c27d45bbc94fd4c5a689be7cca20323c7c7a95614e665335c861ed06f2d7582');
    expect(sha(generateSynthetic({ count: 100, seed: 1, operations: ['add', 'sub'], maxOperand: 9 }))).toBe('951dc64be2b009f32bec0f2c82bad6be7cfa54ebd340bf438152d9416cee277a');
    expect(syntheticProblem(0, { seed: 7 })).toEqual({
      id: 'synthetic-7-0',
      dataset: 'synthetic',
      question: 'Ben has 20 fish. Ben splits the fish into 2 equal tanks and keeps one tank. Ben releases 7 fish. How many fish does Ben have now?',
      answer: 3,
      meta: {
        goldSteps: [
          { subquestion: 'How many fish are in each tank?', solution: 'Each tank has 20 / 2 = <<20/2=10>>10 fish.', answer: 10 },
          { subquestion: 'How many fish does Ben have after releasing 7?', solution: 'Ben has 10 - 7 = <<10-7=3>>3 fish.', answer: 3 },
        ],
        rationale: 'Each tank has 20 / 2 = <<20/2=10>>10 fish.\nBen has 10 - 7 = <<10-7=3>>3 fish.\n#### 3',
        template: 'fish',
        name: 'Ben',
        program: { start: 20, ops: [{ op: 'div', operand: 2 }, { op: 'sub', operand: 7 }] },
      },
    });
  });

  it('gives the simulated teacher the same chains, slips included, as before families existed', async () => {
    // Hash of decompose (3 samples), chainOfThought (2) and plannedError (3) per problem at f41cc4b.
    const teacher = new SimulatedTeacher({ errorRate: 0.6, seed: 5 });
    const out: unknown[] = [];
    for (const p of generateSynthetic({ count: 400, seed: 11 })) {
      out.push(await teacher.decompose(p, { samples: 3 }), await teacher.chainOfThought(p, { samples: 2 }), [0, 1, 2].map((i) => teacher.plannedError(p, i)));
    }
    expect(sha(out)).toBe('5d4bd19a1959e55b9fd6fe28c43ba9ba1fad91f5c90b3567b42d1febc0a29183');
  });

  it('converts a chain program to a plan that reproduces the gold steps', () => {
    for (const p of generateSynthetic({ count: 100, seed: 7 })) {
      const solved = solvePlan(syntheticPlan(p)!);
      expect(solved.steps).toEqual(p.meta!.goldSteps);
      expect(solved.answer).toBe(p.answer);
    }
  });
});

describe.each(SYNTHETIC_FAMILIES.filter((f) => f !== 'chain'))('synthetic family %s', (family) => {
  const problems = generateSynthetic({ count: 300, seed: 5, family });

  it('is deterministic per (seed, index, options) and schema-valid with unique ids', () => {
    expect(generateSynthetic({ count: 300, seed: 5, family })).toEqual(problems);
    expect(syntheticProblem(123, { seed: 5, family })).toEqual(problems[123]);
    expect(generateSynthetic({ count: 20, seed: 6, family })).not.toEqual(problems.slice(0, 20));
    for (const p of problems) ProblemSchema.parse(p);
    expect(new Set(problems.map((p) => p.id)).size).toBe(300);
    expect(problems[0]!.id).toBe(`synthetic-${family}-5-0`);
    expect(problems[0]!.meta!.family).toBe(family);
  });

  it('has gold steps whose calculator notes recompute, answers that appear in their solutions, and a final answer from the last step', () => {
    for (const p of problems) {
      const steps = goldChain(p)!.steps;
      expect(steps.length).toBeGreaterThanOrEqual(1);
      for (const s of steps) {
        expect(s.subquestion).toMatch(/^How many .*\?$/);
        const note = /<<([^=]+)=(\d+)>>(\d+)/.exec(s.solution)!;
        expect(note, s.solution).not.toBeNull();
        expect(evaluateExpression(note[1]!)).toBe(Number(note[2]));
        expect(note[3]).toBe(note[2]);
        expect(Number.isInteger(s.answer) && (s.answer as number) >= 0 && (s.answer as number) <= 100).toBe(true);
        expect(numbers(s.solution)).toContain(s.answer);
      }
      expect(steps.at(-1)!.answer).toBe(p.answer);
      expect(p.meta!.rationale).toBe(`${steps.map((s) => s.solution).join('\n')}\n#### ${p.answer}`);
      const solved = solvePlan(syntheticPlan(p)!);
      expect(solved.steps).toEqual(steps);
      expect(solved.answer).toBe(p.answer);
    }
    const v = new ChainVerifier({ checkArithmetic: true }).verifyAll(problems.map((p) => goldChain(p)!), problems);
    expect(v.stats.kept).toBe(problems.length);
  });

  it('simulated teacher chains verify at errorRate 0, and injected slips are caught', async () => {
    const exact = new SimulatedTeacher({ errorRate: 0 });
    const chains = (await Promise.all(problems.map((p) => exact.decompose(p)))).flat();
    expect(new ChainVerifier({ checkArithmetic: true }).verifyAll(chains, problems).stats.kept).toBe(problems.length);

    const noisy = new SimulatedTeacher({ errorRate: 0.5, seed: 3, errorKinds: ['wrong-step-result', 'skipped-step'] });
    const slipped = (await Promise.all(problems.map((p) => noisy.decompose(p)))).flat();
    const judged = new ChainVerifier({ checkArithmetic: true }).verifyAll(slipped, problems).judged;
    let skipped = 0;
    judged.forEach((c, i) => {
      const planned = noisy.plannedError(problems[i]!, 0);
      const gold = goldChain(problems[i]!)!.steps;
      if (planned === null) expect(c.verdict!.kept).toBe(true);
      if (planned === 'wrong-step-result') expect(c.verdict!.kept).toBe(false);
      if (planned === 'skipped-step') {
        skipped++;
        expect(c.steps).toHaveLength(gold.length - 1);
      }
    });
    expect(skipped).toBeGreaterThan(0);
  });
});

describe('what each family asks for', () => {
  it('long: 4-6 operations by default, still small non-negative integers', () => {
    const counts = new Set(generateSynthetic({ count: 300, seed: 2, family: 'long' }).map((p) => goldChain(p)!.steps.length));
    expect([...counts].sort()).toEqual([4, 5, 6]);
  });

  it('distractors: the irrelevant numbers are in the question and in no gold step', () => {
    for (const p of generateSynthetic({ count: 300, seed: 2, family: 'distractors' })) {
      const distractors = p.meta!.distractorNumbers as number[];
      expect(distractors).toHaveLength(2);
      for (const n of distractors) {
        expect(numbers(p.question)).toContain(n);
        for (const s of goldChain(p)!.steps) expect(numbers(s.solution)).not.toContain(n);
      }
    }
    expect(generateSynthetic({ count: 5, seed: 2, family: 'distractors', distractors: 3 })[0]!.meta!.distractorNumbers).toHaveLength(3);
  });

  it('entities: several people, transfers, questions about one person or the total', () => {
    const problems = generateSynthetic({ count: 300, seed: 2, family: 'entities' });
    expect(problems.some((p) => / gives \w+ \d+ /.test(p.question))).toBe(true);
    expect(problems.some((p) => p.meta!.asked === 'total')).toBe(true);
    for (const p of problems) {
      const people = p.meta!.people as string[];
      expect(people.length === 2 || people.length === 3).toBe(true);
      for (const who of people) expect(p.question).toContain(`${who} has `);
      if (p.meta!.asked !== 'total') for (const s of goldChain(p)!.steps) expect(s.subquestion).toContain(` ${p.meta!.asked} have`);
    }
  });

  it('planning: a gold step reads another person\'s computed quantity, and that person changes again afterwards', () => {
    for (const p of generateSynthetic({ count: 300, seed: 2, family: 'planning' })) {
      const plan = p.meta!.program as SyntheticPlan;
      const crossing = plan.steps.findIndex(
        (s, i) => 'ref' in s.left && s.left.ref !== s.target && plan.steps.slice(0, i).some((t) => t.target === (s.left as { ref: string }).ref),
      );
      expect(crossing, p.question).toBeGreaterThan(0);
      // The person read from changes after the dependent fact: using their final value would be wrong.
      const source = (plan.steps[crossing]!.left as { ref: string }).ref;
      const relation = p.question.indexOf(`than ${source} has now`) >= 0 ? p.question.indexOf(`than ${source} has now`) : p.question.indexOf(`as ${source} has now`);
      expect(relation).toBeGreaterThan(0);
      expect(p.question.slice(relation)).toMatch(new RegExp(`(${source} \\w+|of \\w+( \\w+)* ${source} has becomes)`));
    }
  });

  it('keeps every value within [0, maxResult] under tight and unusual options', () => {
    const variants = [
      { maxResult: 40, maxOperand: 20, maxFactor: 3 },
      { minSteps: 1, maxSteps: 8, maxResult: 30, maxOperand: 9 },
      { operations: ['add', 'sub'] as const, maxOperand: 9, maxResult: 18 },
      { operations: ['mul', 'add'] as const, maxFactor: 4 },
    ];
    for (const family of SYNTHETIC_FAMILIES) {
      for (const v of variants) {
        const options = { ...v, operations: v.operations ? [...v.operations] : undefined };
        for (const p of generateSynthetic({ count: 150, seed: 9, family, ...options })) {
          const maxResult = options.maxResult ?? 100;
          for (const s of goldChain(p)!.steps) expect(s.answer as number, `${family} ${p.question}`).toBeLessThanOrEqual(maxResult);
          for (const s of goldChain(p)!.steps) expect(s.answer as number).toBeGreaterThanOrEqual(0);
          if (family !== 'chain') expect(solvePlan(syntheticPlan(p)!).answer).toBe(p.answer);
        }
      }
    }
  });

  it('rejects unknown families and bad family options', () => {
    expect(() => generateSynthetic({ count: 1, family: 'nope' as never })).toThrow(RangeError);
    expect(() => generateSynthetic({ count: 1, family: 'entities', people: 4 })).toThrow(RangeError);
    expect(() => generateSynthetic({ count: 1, family: 'distractors', distractors: 0 })).toThrow(RangeError);
    const p: Problem = generateSynthetic({ count: 1, seed: 1, family: 'planning', people: 3 })[0]!;
    expect(p.meta!.people).toHaveLength(3);
  });
});
