import { describe, expect, it } from 'vitest';
import type { Problem } from '../src/data/schema.js';
import { IterativeStudent, type GenerateTextOptions, type SolvedStep, type SolveEvent, type TextGenerator } from '../src/students/index.js';

/** Plays back canned outputs and records every prompt it saw. */
class Scripted implements TextGenerator {
  readonly prompts: string[] = [];
  constructor(private readonly reply: (prompt: string, call: number) => string) {}
  async generate(prompts: readonly string[], _options: GenerateTextOptions): Promise<string[]> {
    return prompts.map((p) => {
      this.prompts.push(p);
      return this.reply(p, this.prompts.length - 1);
    });
  }
}

const problem: Problem = { id: 'p', dataset: 'synthetic', question: 'Ann has 2 cats. She gets 3 more, then doubles them. How many?', answer: 10 };
const steps = (prompt: string): number => prompt.split('\nA: ').length - 1;

describe('IterativeStudent stop rules (scripted QG/QA)', () => {
  it('streams each step as it is made and stops on the end marker', async () => {
    const qg = new Scripted((p) => (steps(p) < 2 ? `Q: question ${steps(p) + 1}?` : '[END]'));
    const qa = new Scripted((p) => (steps(p) === 0 ? 'A: 2 + 3 = 5. So the answer is 5.' : 'A: 5 * 2 = 10. So the answer is 10.'));
    const student = new IterativeStudent(qg, qa, 8);
    const seen: SolvedStep[] = [];
    const run = student.solve(problem, { onStep: (s) => seen.push(s) });
    const streamed: SolvedStep[] = [];
    const events: SolveEvent[] = [];
    let next = await run.next();
    while (!next.done) {
      events.push(next.value);
      if (next.value.type === 'step') {
        streamed.push(next.value.step);
        expect(next.value.index).toBe(streamed.length - 1);
        // Streaming: when a step arrives, QA has produced exactly that many solutions so far.
        expect(qa.prompts).toHaveLength(streamed.length);
      }
      next = await run.next();
    }
    const solution = next.value;
    // The last event is `done` with the same solution the generator returns.
    expect(events.map((e) => e.type)).toEqual(['step', 'step', 'done']);
    expect(events.at(-1)).toMatchObject({ type: 'done', solution });
    expect(streamed.map((s) => s.subquestion)).toEqual(['question 1?', 'question 2?']);
    expect(seen).toEqual(streamed);
    expect(solution.stoppedBy).toBe('end-marker');
    expect(solution.answer).toBe(10);
    expect(solution.strictAnswer).toBe(10);
    expect(solution.text).toContain('#### 10');
    // QG saw the growing history; QA saw the current subquestion last.
    expect(qg.prompts[2]).toContain('Q: question 2?\nA: 5 * 2 = 10. So the answer is 10.\n');
    expect(qa.prompts[1]!.endsWith('Q: question 2?\n')).toBe(true);
  });

  it('stops on the final-answer marker from QA', async () => {
    const qg = new Scripted(() => 'Q: what now?');
    const qa = new Scripted((_, call) => (call === 0 ? 'A: 5 cats.' : 'A: 10 cats. #### 10'));
    const s = await new IterativeStudent(qg, qa).solveMany([problem]);
    expect(s[0]!.stoppedBy).toBe('final-marker');
    expect(s[0]!.steps).toHaveLength(2);
    expect(s[0]!.answer).toBe(10);
  });

  it('stops on the final-answer marker from QG without asking QA', async () => {
    const qg = new Scripted((p) => (steps(p) === 0 ? 'Q: first?' : '#### 7'));
    const qa = new Scripted(() => 'A: 7.');
    const [s] = await new IterativeStudent(qg, qa).solveMany([problem]);
    expect(s!.stoppedBy).toBe('final-marker');
    expect(s!.answer).toBe(7);
    expect(qa.prompts).toHaveLength(1);
  });

  it('stops at maxSteps, counts it as a cap hit and gives no strict answer', async () => {
    // Each step differs (a step said again word for word would stop the solve as a loop instead).
    const qg = new Scripted((_p, call) => `Q: again, look ${'abc'[call]}?`);
    const qa = new Scripted(() => 'A: still 4.');
    const [s] = await new IterativeStudent(qg, qa).solveMany([problem], { maxSteps: 3 });
    expect(s!.steps).toHaveLength(3);
    expect(s!.stoppedBy).toBe('max-steps');
    expect(s!.answer).toBe(4);
    expect(s!.strictAnswer).toBeNull();
  });

  it('batches several problems per round and lets each stop on its own', async () => {
    const other: Problem = { ...problem, id: 'q', question: 'Short one.' };
    const qg = new Scripted((p) => (p.includes('Short one') && steps(p) >= 1 ? '[END]' : steps(p) >= 3 ? '[END]' : `Q: next ${'abc'[steps(p)]}?`));
    const qa = new Scripted(() => 'A: 1.');
    const out = await new IterativeStudent(qg, qa).solveMany([problem, other]);
    expect(out.map((s) => s.steps.length)).toEqual([3, 1]);
    expect(out.every((s) => s.stoppedBy === 'end-marker')).toBe(true);
  });

  it('self-consistency takes the majority answer over samples', async () => {
    let run = 0;
    const qg = new Scripted((p) => (steps(p) === 0 ? 'Q: x?' : '[END]'));
    const qa = new Scripted(() => `A: ${[10, 3, 10][run++ % 3]}.`);
    const [s] = await new IterativeStudent(qg, qa).solveMany([problem], { selfConsistency: { k: 3 } });
    expect(s!.samples).toEqual([10, 3, 10]);
    expect(s!.answer).toBe(10);
  });

  it('votes once more in solve() with self-consistency, then streams the winner', async () => {
    let run = 0;
    const qg = new Scripted((p) => (steps(p) === 0 ? 'Q: x?' : '[END]'));
    const qa = new Scripted(() => `A: ${[3, 10, 10][run++ % 3]}.`);
    const events: SolveEvent[] = [];
    for await (const e of new IterativeStudent(qg, qa).solve(problem, { selfConsistency: { k: 3 } })) events.push(e);
    expect(events.map((e) => e.type)).toEqual(['step', 'done']);
    expect(events[1]).toMatchObject({ type: 'done', solution: { answer: 10, samples: [3, 10, 10] } });
    expect(events[0]).toMatchObject({ type: 'step', step: { solution: '10.' } });
  });

  it('offers train and save only on model-backed students (a type error, not a runtime one)', () => {
    const student = new IterativeStudent(new Scripted(() => ''), new Scripted(() => ''));
    // Never called: tsc checks that save/train are not callable on scripted generators.
    const _typeChecks = (): void => {
      // @ts-expect-error save needs IterativeStudent<StudentLM>
      void student.save('/tmp/never');
      // @ts-expect-error train needs IterativeStudent<StudentLM>
      void student.train({ problems: [], chains: [] }, { batchSize: 1 });
    };
    expect(typeof _typeChecks).toBe('function');
    // Scripted generators hold nothing to free; dispose still works.
    expect(() => student.dispose()).not.toThrow();
  });
});
