/** solveStreaming (shared by the Node and browser entries) on scripted generators: steps leave as soon as they exist. */
import { describe, expect, it } from 'vitest';
import { solveStreaming, userProblem, type SolveEvent } from '../src/students/stream.js';
import type { GenerateTextOptions, TextGenerator } from '../src/students/decode.js';
import { IterativeStudent } from '../src/students/iterative.js';
import type { StudentLM } from '../src/students/lm.js';
import { CoTStudent, UnifiedStudent } from '../src/students/single.js';

const problem = userProblem('Tom has 3 boxes with 4 apples in each box. He eats 2 apples. How many apples does he have left?');

/** Answers each call from a script and records the calls, so a test can see when generation happened. */
class Scripted implements TextGenerator {
  readonly calls: Array<{ prompts: readonly string[]; options: GenerateTextOptions }> = [];
  constructor(private readonly reply: (prompt: string, call: number) => string) {}
  async generate(prompts: readonly string[], options: GenerateTextOptions): Promise<string[]> {
    this.calls.push({ prompts, options });
    return prompts.map((p) => this.reply(p, this.calls.length - 1));
  }
}

async function collect(events: AsyncIterable<SolveEvent>, onEach: (e: SolveEvent) => void = () => {}): Promise<SolveEvent[]> {
  const out: SolveEvent[] = [];
  for await (const e of events) {
    onEach(e);
    out.push(e);
  }
  return out;
}

describe('solveStreaming', () => {
  it('streams an Iterative student step by step, before the next subquestion is asked', async () => {
    const questions = ['Q: How many apples are in the boxes?', 'Q: How many apples are left?', '[END]'];
    const qg = new Scripted((_, call) => questions[call]!);
    const qa = new Scripted((_, call) => ['A: 3 * 4 = 12. The answer is 12.', 'A: 12 - 2 = 10. The answer is 10.'][call]!);
    const student = new IterativeStudent(qg, qa, 5);
    const qgCallsAtStep: number[] = [];
    const events = await collect(solveStreaming(student, problem), (e) => {
      if (e.type === 'step') qgCallsAtStep.push(qg.calls.length);
    });

    expect(events.map((e) => e.type)).toEqual(['step', 'step', 'done']);
    expect(qgCallsAtStep).toEqual([1, 2]); // step k is out before QG is asked for subquestion k+1
    const steps = events.flatMap((e) => (e.type === 'step' ? [e] : []));
    expect(steps.map((s) => s.index)).toEqual([0, 1]);
    expect(steps.map((s) => s.step.subquestion)).toEqual(['How many apples are in the boxes?', 'How many apples are left?']);
    expect(steps.map((s) => s.step.answer)).toEqual([12, 10]);
    for (const s of steps) expect(s.ms).toBeGreaterThanOrEqual(0);
    const done = events.at(-1)!;
    if (done.type !== 'done') throw new Error('no done event');
    expect(done.solution.answer).toBe(10);
    expect(done.solution.stoppedBy).toBe('end-marker');
    expect(done.solution.steps.map((s) => s.subquestion)).toEqual(steps.map((s) => s.step.subquestion));
    // The second QA prompt carries the first step as history.
    expect(qa.calls[1]!.prompts[0]).toContain('3 * 4 = 12');
  });

  it('passes maxSteps through and stops there', async () => {
    // Each step differs (a step said again word for word would stop the solve as a loop instead).
    const qg = new Scripted((_p, call) => `Q: And then ${'abc'[call]}?`);
    const qa = new Scripted(() => 'A: 1 + 1 = 2.');
    const events = await collect(solveStreaming(new IterativeStudent(qg, qa, 8), problem, { maxSteps: 2 }));
    expect(events.filter((e) => e.type === 'step')).toHaveLength(2);
    const done = events.at(-1)!;
    expect(done.type === 'done' && done.solution.stoppedBy).toBe('max-steps');
  });

  it('streams a Unified student one generated line at a time', async () => {
    const lines = ['Q: How many apples are in the boxes?', 'A: 3 * 4 = 12.', 'Q: How many apples are left?', 'A: 12 - 2 = 10.', '#### 10', 'never reached'];
    const lm = new Scripted((prompt) => lines[prompt.split('\n').length - 2]!);
    const student = new UnifiedStudent(lm as TextGenerator as StudentLM);
    const linesAtStep: number[] = [];
    const events = await collect(solveStreaming(student, problem), (e) => {
      if (e.type === 'step') linesAtStep.push(lm.calls.length);
    });

    expect(events.map((e) => e.type)).toEqual(['step', 'step', 'done']);
    expect(linesAtStep).toEqual([2, 4]);
    expect(lm.calls).toHaveLength(5); // stops at the `####` line
    for (const c of lm.calls) expect(c.options.stopSequences).toEqual(['\n']);
    expect(lm.calls[2]!.prompts[0]).toMatch(/^Problem: Tom has .*\nQ: How many apples are in the boxes\?\nA: 3 \* 4 = 12\.\n$/);
    const steps = events.flatMap((e) => (e.type === 'step' ? [e.step] : []));
    expect(steps).toEqual([
      { subquestion: 'How many apples are in the boxes?', solution: '3 * 4 = 12.', answer: 12 },
      { subquestion: 'How many apples are left?', solution: '12 - 2 = 10.', answer: 10 },
    ]);
    const done = events.at(-1)!;
    if (done.type !== 'done') throw new Error('no done event');
    expect(done.solution.answer).toBe(10);
    expect(done.solution.strictAnswer).toBe(10);
    expect(done.solution.steps).toEqual(steps);
  });

  it('gives a CoT student the same contract: no steps, one done event, the solution as the return value', async () => {
    const lm = new Scripted(() => 'Tom has 3 * 4 = 12 apples, then 12 - 2 = 10.\n#### 10');
    const student = new CoTStudent(lm as TextGenerator as StudentLM);
    const run = solveStreaming(student, problem, { maxNewTokens: 64 });
    const first = await run.next();
    expect(first.done).toBe(false);
    expect(first.value).toMatchObject({ type: 'done', solution: { answer: 10, strictAnswer: 10, steps: [] } });
    const last = await run.next();
    expect(last.done).toBe(true);
    expect(last.value).toMatchObject({ answer: 10, stoppedBy: 'eos' });
    // One whole-text generation, as solveMany does it.
    expect(lm.calls).toHaveLength(1);
    expect(lm.calls[0]!.options.stopSequences).toBeUndefined();
  });
});
