/** The example page opens with a problem its saved students can make sense of (issue #12, item 6). */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtInProblems, heldOutDemoProblem } from '../examples/browser/default-problem.js';
import { DEMO_PRESETS } from '../src/demo/config.js';
import { syntheticSplit } from '../src/demo/index.js';

describe('the browser example default problem', () => {
  it('is a synthetic problem with the demo settings that neither demo preset trains or tests on', () => {
    const problem = heldOutDemoProblem();
    const full = DEMO_PRESETS.full;
    expect(problem.dataset).toBe('synthetic');
    const program = problem.meta!.program as { start: number; ops: Array<{ op: string; operand: number }> };
    expect(program.ops.length).toBeGreaterThanOrEqual(full.minOps);
    expect(program.ops.length).toBeLessThanOrEqual(full.maxOps);
    expect(program.start).toBeLessThanOrEqual(full.maxOperand);
    expect(problem.answer as number).toBeLessThanOrEqual(full.maxResult);
    for (const preset of [DEMO_PRESETS.full, DEMO_PRESETS.quick]) {
      const { train, test } = syntheticSplit(preset);
      expect(train.map((p) => p.question)).not.toContain(problem.question);
      expect(test.map((p) => p.question)).not.toContain(problem.question);
      // Same family: the demo's own problems are generated the same way (same seed stream and settings).
      expect(train[0]!.id.replace(/\d+$/, '')).toBe(problem.id.replace(/\d+$/, ''));
    }
  });

  it('the built-in problems are distinct held-out problems of the same task, each with its gold answer', () => {
    const problems = builtInProblems();
    expect(problems).toHaveLength(5);
    expect(new Set(problems.map((p) => p.question)).size).toBe(5);
    const { train, test } = syntheticSplit(DEMO_PRESETS.full);
    const seen = new Set([...train, ...test].map((p) => p.question));
    for (const p of problems) {
      expect(seen.has(p.question)).toBe(false);
      expect(typeof p.answer).toBe('number');
    }
  });

  it('is filled in by the page script, not hard-coded in the HTML', () => {
    const html = readFileSync(resolve(__dirname, '../examples/browser/index.html'), 'utf8');
    expect(html).toMatch(/<textarea id="problem"[^>]*><\/textarea>/);
    const app = readFileSync(resolve(__dirname, '../examples/browser/app.ts'), 'utf8');
    expect(app).toContain('ui.problem.value = BUILT_IN[0]!.question');
    expect(builtInProblems(1)[0]).toEqual(heldOutDemoProblem());
  });
});
