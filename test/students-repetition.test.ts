/**
 * Issue 21, item 2: `solve` stops a degenerate repetition and says it stopped. The students stop a looping
 * solve (`stoppedBy: 'repetition'`); the CLI prints why.
 */
import { describe, expect, it } from 'vitest';
import type { Problem } from '../src/data/schema.js';
import { goldSteps } from '../src/data/gold.js';
import { generateSynthetic } from '../src/data/synthetic.js';
import type { GenerateTextOptions, TextGenerator } from '../src/students/decode.js';
import { IterativeStudent } from '../src/students/iterative.js';
import type { StudentLM } from '../src/students/lm.js';
import { hasWordLoop, repetitionIn } from '../src/students/repetition.js';
import { UnifiedStudent } from '../src/students/single.js';
import { finalSolution } from '../src/students/stream.js';

/** A generator that answers every prompt with the next scripted line (the last one forever). */
function scripted(lines: string[]): TextGenerator & { calls: number } {
  const g = {
    calls: 0,
    async generate(prompts: readonly string[], _o: GenerateTextOptions) {
      return prompts.map(() => lines[Math.min(g.calls++, lines.length - 1)]!);
    },
  };
  return g;
}

const problem: Problem = { id: 'p', dataset: 'synthetic', question: 'Ann has 3 cats. She gets 2 more. How many cats does she have now?', answer: 5 };

describe('stopping a looping student', () => {
  it('tells loops from real steps: word and phrase loops, never a real sum (no gold step of the synthetic task loops)', () => {
    expect(hasWordLoop('How many many many many cats')).toBe(true);
    expect(hasWordLoop('So the answer is. So the answer is. So the answer is.')).toBe(true);
    expect(hasWordLoop('Each has 2 = 2 = 2 = 2 =')).toBe(true);
    expect(hasWordLoop('Frank has 7 + 20 + 20 + 20 = <<7+20+20+20=67>>67 dollars')).toBe(false);
    expect(hasWordLoop('3 cars + 3 cars + 3 cars + 3 cars = 12 cars')).toBe(false);
    for (const family of ['chain', 'long', 'distractors', 'entities', 'planning'] as const) {
      for (const p of generateSynthetic({ count: 300, seed: 2, family })) {
        for (const s of goldSteps(p)!) expect(hasWordLoop(s.subquestion) || hasWordLoop(s.solution), s.solution).toBe(false);
      }
    }
    const step = { subquestion: 'How many cats?', solution: '3 + 2 = 5.' };
    expect(repetitionIn(step, [{ subquestion: 'How many cats?', solution: '3 + 1 = 4.' }])).toBeUndefined();
    expect(repetitionIn(step, [{ subquestion: 'x?', solution: 'y' }, step])).toBe('repeats step 2 word for word');
  });

  it('an Iterative student that says the same step again stops there, without the repeat, in solve() and solveMany() alike', async () => {
    const make = () => new IterativeStudent(scripted(['Q: How many cats does she have?']), scripted(['A: She has 3 + 2 = 5 cats.']), 8);
    const solved = await finalSolution(make().solve(problem));
    expect(solved.stoppedBy).toBe('repetition');
    expect(solved.steps).toHaveLength(1);
    expect(solved.answer).toBe(5);
    const [many] = await make().solveMany([problem]);
    expect([many!.stoppedBy, many!.steps.length, many!.answer]).toEqual(['repetition', 1, 5]);
  });

  it('an Iterative QG that loops inside its subquestion is stopped before QA is asked', async () => {
    const qa = scripted(['A: 5']);
    const s = await finalSolution(new IterativeStudent(scripted(['Q: How many many many many']), qa, 8).solve(problem));
    expect([s.stoppedBy, s.steps.length, qa.calls]).toEqual(['repetition', 0, 0]);
  });

  it('a Unified student that writes a line again stops at once, and the loop is left out of its text', async () => {
    const lm = scripted(['Q: How many cats does she have?', 'A: She has 3 + 2 = 5 cats.', 'Q: How many cats does she have?', 'A: She has 3 + 2 = 5 cats.', '#### 5']);
    const student = new UnifiedStudent(lm as unknown as StudentLM);
    const s = await finalSolution(student.solve(problem));
    expect(s.stoppedBy).toBe('repetition');
    expect(s.steps).toHaveLength(1);
    expect(s.text).toBe('Q: How many cats does she have?\nA: She has 3 + 2 = 5 cats.\n');
    expect(lm.calls).toBe(4); // stopped as soon as the repeated step was complete, not at the 17-line cap
    const looping = new UnifiedStudent(scripted(['Q: How many many many many many']) as unknown as StudentLM);
    const t = await finalSolution(looping.solve(problem));
    expect([t.stoppedBy, t.text, t.answer]).toEqual(['repetition', '', null]);
  });
});
