import { describe, expect, it } from 'vitest';
import { generateSynthetic, goldSteps } from '../src/data/index.js';
import type { Problem } from '../src/data/schema.js';
import { attributeErrors, firstError } from '../src/eval/attribution.js';
import { evaluateStudents } from '../src/eval/evaluator.js';
import { IterativeStudent, type GenerateTextOptions, type StudentSolution, type TextGenerator } from '../src/students/index.js';

/** A QG/QA stand-in that reads the gold steps and errs on purpose where told. */
class GoldPlayer implements TextGenerator {
  constructor(
    private readonly problems: readonly Problem[],
    private readonly role: 'qg' | 'qa',
    private readonly wrongAt: (problemIndex: number, step: number) => boolean,
  ) {}
  async generate(prompts: readonly string[], _options: GenerateTextOptions): Promise<string[]> {
    return prompts.map((prompt) => {
      const i = this.problems.findIndex((p) => prompt.includes(p.question));
      const gold = goldSteps(this.problems[i]!)!;
      const answered = prompt.split('\nA: ').length - 1;
      if (this.role === 'qg') {
        if (answered >= gold.length) return '[END]';
        return this.wrongAt(i, answered) ? 'Q: How many hats are there?' : `Q: ${gold[answered]!.subquestion}`;
      }
      const step = gold[answered]!;
      // A question about something else gets a number that is not the gold step's.
      if (prompt.endsWith('hats are there?\n')) return 'A: There are 99 hats.';
      return this.wrongAt(i, answered) ? `A: It is ${Number(step.answer) + 1}.` : `A: It is ${step.answer}.`;
    });
  }
}

const problems = generateSynthetic({ count: 6, seed: 11, minSteps: 2, maxSteps: 3 });

describe('error attribution', () => {
  it('a perfect pair scores 100% everywhere and makes no first error', async () => {
    const never = () => false;
    const student = new IterativeStudent(new GoldPlayer(problems, 'qg', never), new GoldPlayer(problems, 'qa', never));
    const solutions = await student.solveMany(problems);
    const a = (await attributeErrors(student.turnModels(), problems, solutions))!;
    expect(a).toMatchObject({ problems: 6, qgAccuracy: 1, stopAccuracy: 1, qaAccuracy: 1, meanFirstWrongStep: null });
    expect(a.firstError.none).toBe(1);
  });

  it('tells planning (QG) from arithmetic (QA) errors, teacher-forced and free-running', async () => {
    // Problem 0: QG asks the wrong thing at step 1. Problem 1: QA miscounts at step 0. Others clean.
    const qg = new GoldPlayer(problems, 'qg', (i, k) => i === 0 && k === 1);
    const qa = new GoldPlayer(problems, 'qa', (i, k) => i === 1 && k === 0);
    const student = new IterativeStudent(qg, qa);
    const solutions = await student.solveMany(problems);
    const a = (await attributeErrors(student.turnModels(), problems, solutions))!;
    const steps = problems.map((p) => goldSteps(p)!.length).reduce((x, y) => x + y, 0);
    expect(a.qgAccuracy).toBeCloseTo((steps - 1) / steps, 10);
    expect(a.qaAccuracy).toBeCloseTo((steps - 1) / steps, 10);
    expect(a.stopAccuracy).toBe(1);
    expect(firstError(solutions[0]!, goldSteps(problems[0]!)!, problems[0]!)).toEqual({ kind: 'planning', step: 1 });
    expect(firstError(solutions[1]!, goldSteps(problems[1]!)!, problems[1]!)).toEqual({ kind: 'arithmetic', step: 0 });
    expect(a.firstError.planning).toBeCloseTo(1 / 6, 10);
    expect(a.firstError.arithmetic).toBeCloseTo(1 / 6, 10);
    expect(a.firstError.none).toBeCloseTo(4 / 6, 10);
    expect(a.meanFirstWrongStep).toBe(0.5);
  });

  it('classes early stops, overruns and a wrong final answer after right steps', () => {
    const p = problems[0]!;
    const gold = goldSteps(p)!;
    const right = gold.map((s) => ({ subquestion: s.subquestion, solution: String(s.answer), answer: s.answer ?? null }));
    const solution = (steps: typeof right, answer: number): StudentSolution => ({ answer, strictAnswer: answer, steps, text: '', stoppedBy: 'end-marker' });
    expect(firstError(solution(right.slice(0, 1), 0), gold, p).kind).toBe('stopped-early');
    expect(firstError(solution([...right, right[0]!], p.answer as number), gold, p).kind).toBe('ran-over');
    expect(firstError(solution(right, (p.answer as number) + 1), gold, p).kind).toBe('final-answer');
    expect(firstError(solution(right, p.answer as number), gold, p).kind).toBe('none');
  });

  it('the evaluator attaches attribution to Socratic arms only when asked', async () => {
    const never = () => false;
    const student = new IterativeStudent(new GoldPlayer(problems, 'qg', never), new GoldPlayer(problems, 'qa', never));
    const [withIt] = await evaluateStudents([{ name: 'it', solver: student }], problems, { attribution: true });
    expect(withIt!.attribution?.qgAccuracy).toBe(1);
    const [without] = await evaluateStudents([{ name: 'it', solver: student }], problems);
    expect(without!.attribution).toBeUndefined();
    const noGold = problems.map((p) => ({ ...p, meta: {} }));
    expect(await attributeErrors(student.turnModels(), noGold, await student.solveMany(noGold))).toBeNull();
  });
});
