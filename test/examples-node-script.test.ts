import { describe, expect, it } from 'vitest';
import { main } from '../examples/node-script.js';

describe('examples/node-script.ts', () => {
  it('runs teacher -> verifier -> student -> evaluation end to end (small budget)', async () => {
    const lines: string[] = [];
    const r = await main({ trainProblems: 120, testProblems: 10, steps: 40, log: (l) => lines.push(l) });
    // The simulated teacher flaws about 15% of 120 chains; the verifier must have dropped some but kept most.
    expect(r.kept).toBeGreaterThan(80);
    expect(r.kept).toBeLessThan(120);
    expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(r.accuracy).toBeLessThanOrEqual(1);
    expect(lines.some((l) => l.startsWith('verifier kept'))).toBe(true);
    expect(lines.some((l) => l.startsWith('held-out accuracy'))).toBe(true);
  });
});
