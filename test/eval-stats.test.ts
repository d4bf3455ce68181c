import { describe, expect, it } from 'vitest';
import { describeComparison, pairedComparison, tCritical95, verdictOf } from '../src/eval/stats.js';

const arm = (name: string, values: number[], seeds = values.map((_, i) => i)) => ({ name, bySeed: new Map(seeds.map((s, i) => [s, values[i]!])) });

describe('paired comparisons', () => {
  it('t quantiles match the tables (df 1, 2, 9, 19, 30) and approach 1.96', () => {
    expect(tCritical95(1)).toBe(12.706);
    expect(tCritical95(2)).toBe(4.303);
    expect(tCritical95(9)).toBe(2.262);
    expect(tCritical95(19)).toBe(2.093);
    expect(tCritical95(30)).toBe(2.042);
    expect(tCritical95(40)).toBeCloseTo(2.021, 3);
    expect(tCritical95(50)).toBeGreaterThan(2.0);
    expect(tCritical95(50)).toBeLessThan(2.021);
    expect(tCritical95(100000)).toBeCloseTo(1.96, 2);
    expect(() => tCritical95(0)).toThrow(RangeError);
  });

  it('computes the mean difference and its 95% CI by hand-checked numbers', () => {
    // diffs 0.1, 0.2, 0.3: mean 0.2, sd 0.1, half-width 4.303 * 0.1 / sqrt(3) = 0.24844
    const c = pairedComparison(arm('A', [0.6, 0.7, 0.8]), arm('B', [0.5, 0.5, 0.5]));
    expect(c.diffs.map((d) => Number(d.toFixed(10)))).toEqual([0.1, 0.2, 0.3]);
    expect(c.mean).toBeCloseTo(0.2, 12);
    expect(c.sd).toBeCloseTo(0.1, 12);
    expect(c.ci![0]).toBeCloseTo(0.2 - 0.248438, 5);
    expect(c.ci![1]).toBeCloseTo(0.2 + 0.248438, 5);
    // Every seed favours A, yet the CI reaches below 0: the verdict is a tie, not "ahead".
    expect(c.wins).toBe(3);
    expect(c.verdict).toBe('tie within noise');
    expect(describeComparison(c)).toMatch(/A vs B: \+20\.0 points \(95% CI -4\.8 to \+44\.8, 3 paired seeds, 3 won \/ 0 lost\): A is tied within noise\./);
  });

  it('says ahead or behind only when the CI excludes zero', () => {
    const a = [0.8, 0.82, 0.79, 0.81, 0.8];
    const b = [0.7, 0.71, 0.69, 0.72, 0.7];
    expect(pairedComparison(arm('A', a), arm('B', b)).verdict).toBe('ahead');
    expect(pairedComparison(arm('B', b), arm('A', a)).verdict).toBe('behind');
    expect(verdictOf([-0.01, 0.02])).toBe('tie within noise');
    expect(verdictOf(null)).toBe('no verdict');
  });

  it('pairs by seed and leaves out seeds only one arm has', () => {
    const c = pairedComparison(arm('A', [0.5, 0.9, 0.4], [0, 1, 2]), arm('B', [0.3, 0.2], [2, 0]));
    expect(c.seeds).toEqual([0, 2]);
    expect(c.diffs.map((d) => Number(d.toFixed(10)))).toEqual([0.3, 0.1]);
  });

  it('gives no verdict when every seed has exactly the same nonzero difference (a zero-width interval)', () => {
    const c = pairedComparison(arm('A', [0.5, 0.6]), arm('B', [0.45, 0.55]));
    expect(c.ci![1] - c.ci![0]).toBeCloseTo(0, 12);
    expect(c.verdict).toBe('no verdict');
    expect(describeComparison(c)).toMatch(/A vs B: \+5\.0 points on every one of 2 paired seeds: no verdict/);
    // Every seed tied exactly: a tie, not "no verdict".
    expect(pairedComparison(arm('A', [0.5, 0.6]), arm('B', [0.5, 0.6])).verdict).toBe('tie within noise');
  });

  it('gives no verdict from one seed', () => {
    const c = pairedComparison(arm('A', [0.9]), arm('B', [0.1]));
    expect(c.ci).toBeNull();
    expect(c.verdict).toBe('no verdict');
    expect(describeComparison(c)).toMatch(/no verdict/);
  });
});

describe('armComparisons', () => {
  it('compares Socratic arms with Unified, CoT and answer-only, and calculator rows only with their own student', async () => {
    const { armComparisons, summarize } = await import('../src/eval/report.js');
    type Arm = Parameters<typeof summarize>[0][number]['arms'][number];
    const arm = (name: string, kind: Arm['kind'], flexible: number, calculator = false): Arm => ({
      name, kind, flexible, strict: flexible, scores: [], steps: { meanSteps: 0, capRate: 0 }, wallSeconds: 0, samples: [], ...(calculator ? { calculator } : {}),
    });
    const runs = [0, 1, 2].map((seed) => ({
      seed,
      losses: {},
      arms: [
        arm('Answer-only', 'answer-only', 0.1 + seed / 200), arm('CoT', 'cot', 0.5 + seed / 100), arm('Unified', 'unified', 0.6 + [0, 0.02, 0.01][seed]!), arm('Iterative', 'iterative', 0.55 - seed / 100),
        arm('Unified + calculator', 'unified', 0.7 + seed / 100, true),
      ],
    }));
    const pairs = armComparisons(runs, summarize(runs)).map((c) => `${c.a} vs ${c.b}: ${c.verdict}`);
    expect(pairs).toEqual([
      'Unified vs CoT: ahead', 'Unified vs Answer-only: ahead',
      'Iterative vs Unified: behind', 'Iterative vs CoT: tie within noise', 'Iterative vs Answer-only: ahead',
      'CoT vs Answer-only: ahead',
      'Unified + calculator vs Unified: ahead',
    ]);
  });
});

describe('armComparisons with Iterative variants', () => {
  it('compares each further Iterative arm with the first one as well as with Unified', async () => {
    const { armComparisons, summarize } = await import('../src/eval/report.js');
    type Arm = Parameters<typeof summarize>[0][number]['arms'][number];
    const arm = (name: string, kind: Arm['kind'], flexible: number): Arm => ({ name, kind, flexible, strict: flexible, scores: [], steps: { meanSteps: 0, capRate: 0 }, wallSeconds: 0, samples: [] });
    const runs = [0, 1, 2].map((seed) => ({
      seed, losses: {},
      arms: [arm('Unified', 'unified', 0.8), arm('Iterative', 'iterative', 0.78 + seed / 100), arm('Iterative per-step', 'iterative', 0.5 + seed / 50)],
    }));
    const pairs = armComparisons(runs, summarize(runs)).map((c) => `${c.a} vs ${c.b}: ${c.verdict}`);
    expect(pairs).toEqual(['Iterative vs Unified: tie within noise', 'Iterative per-step vs Unified: behind', 'Iterative per-step vs Iterative: behind']);
  });
});
