import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { command as demo } from '../src/cli/commands/demo.js';
import { CliUsageError } from '../src/cli/usage-error.js';
import type { Problem } from '../src/data/schema.js';
import { DEMO_PRESETS } from '../src/demo/config.js';
import { HELD_OUT_START, syntheticSplit } from '../src/demo/pipeline.js';
import { Evaluator, type Solver } from '../src/eval/index.js';
import { mergeReports, readReport } from '../src/eval/merge.js';
import { compareRuns, markdownReport, type EvalReport, type RunResult } from '../src/eval/report.js';
import { writeReport } from '../src/eval/write.js';
import type { StudentSolution } from '../src/students/index.js';

const problems = (prefix: string): Problem[] => Array.from({ length: 10 }, (_, i) => ({ id: `${prefix}${i}`, dataset: 'synthetic', question: `${prefix}${i}`, answer: i }));
const shallow = problems('s');
const deep = problems('d');

/** Right on the first `right[subset]` problems of each subset (told apart by the id's prefix). */
function solver(kind: Solver['kind'], right: { s: number; d: number }): Solver {
  return {
    kind,
    async solveMany(ps) {
      return ps.map((p, i): StudentSolution => {
        const answer = i < right[p.id[0] as 's' | 'd'] ? (p.answer as number) : -1;
        return { answer, strictAnswer: answer, steps: [], text: `#### ${answer}`, stoppedBy: 'eos' };
      });
    },
  };
}

// Per seed: problems right out of 10 for [CoT, Unified] on [in distribution, deeper].
const bySeed = [
  { cot: { s: 8, d: 2 }, unified: { s: 7, d: 5 } },
  { cot: { s: 7, d: 1 }, unified: { s: 8, d: 5 } },
  { cot: { s: 9, d: 2 }, unified: { s: 8, d: 5 } },
];
const SUBSETS = [{ name: 'in distribution', problems: shallow }, { name: 'deeper', problems: deep }];

async function runs(): Promise<RunResult[]> {
  const ev = new Evaluator();
  const out: RunResult[] = [];
  for (const [seed, r] of bySeed.entries()) {
    const subsets = await ev.evaluateSubsets([{ name: 'CoT', solver: solver('cot', r.cot) }, { name: 'Unified', solver: solver('unified', r.unified) }], SUBSETS);
    out.push({ seed, arms: subsets[0]!.arms, subsets, losses: {} });
  }
  return out;
}

describe('test subsets (in distribution vs deeper)', () => {
  it('Evaluator.evaluateSubsets scores each subset apart and compare() pairs seeds within each subset', async () => {
    const r = await runs();
    expect(r[0]!.subsets!.map((s) => [s.name, s.problems, s.arms.map((a) => a.flexible)])).toEqual([
      ['in distribution', 10, [0.8, 0.7]],
      ['deeper', 10, [0.2, 0.5]],
    ]);
    const { subsets, summary } = new Evaluator().compare(r);
    // The top level stays the main (first) test set.
    expect(summary.find((a) => a.name === 'CoT')!.flexible.values).toEqual([0.8, 0.7, 0.9]);
    expect(subsets!.map((s) => s.name)).toEqual(['in distribution', 'deeper']);
    const deeper = subsets![1]!;
    const unifiedVsCot = deeper.comparisons.find((c) => c.a === 'Unified' && c.b === 'CoT')!;
    // Deeper: Unified - CoT = +0.3, +0.4, +0.3: ahead. In distribution: -0.1, +0.1, -0.1: a tie.
    expect(unifiedVsCot.diffs.map((d) => Number(d.toFixed(6)))).toEqual([0.3, 0.4, 0.3]);
    expect(unifiedVsCot.verdict).toBe('ahead');
    expect(subsets![0]!.comparisons.find((c) => c.a === 'Unified' && c.b === 'CoT')!.verdict).toBe('tie within noise');
    // Shift: each arm on deeper minus itself in distribution, paired by seed.
    expect(subsets![0]!.shift).toEqual([]);
    const cotShift = deeper.shift.find((c) => c.a === 'CoT on deeper')!;
    expect(cotShift.b).toBe('CoT on in distribution');
    expect(cotShift.diffs.map((d) => Number(d.toFixed(6)))).toEqual([-0.6, -0.6, -0.7]);
    expect(cotShift.verdict).toBe('behind');
  });

  it('refuses two subsets of the same name', async () => {
    await expect(new Evaluator().evaluateSubsets([{ name: 'CoT', solver: solver('cot', { s: 1, d: 1 }) }], [SUBSETS[0]!, SUBSETS[0]!])).rejects.toThrow(/named twice/);
  });

  it('report.md carries the per-subset tables, and report --merge recomputes them over every seed', async () => {
    const all = await runs();
    const report = (rs: RunResult[]): EvalReport => {
      const c = compareRuns(rs);
      return { title: 't', createdAt: 'now', setup: { seeds: rs.map((x) => x.seed) }, runs: rs, summary: c.summary, comparisons: c.comparisons, findings: c.findings, subsets: c.subsets, baselines: [], stages: [] };
    };
    const md = markdownReport(report(all));
    expect(md).toContain('## By test subset');
    expect(md).toContain('| Student | in distribution (10 problems) % | deeper (10 problems) % | deeper − in distribution (points, 95% CI) | verdict |');
    expect(md).toContain('### deeper');
    const dirs = await Promise.all([all.slice(0, 1), all.slice(1)].map(async (rs) => {
      const dir = await mkdtemp(join(tmpdir(), 'sd-subsets-'));
      await writeReport(dir, report(rs));
      return dir;
    }));
    const merged = mergeReports(await Promise.all(dirs.map(readReport)));
    expect(merged.subsets!.map((s) => s.summary[0]!.seeds)).toEqual([3, 3]);
    expect(merged.subsets![1]!.comparisons.find((c) => c.a === 'Unified' && c.b === 'CoT')!.verdict).toBe('ahead');
    expect(merged.subsets![1]!.shift.find((c) => c.a === 'CoT on deeper')!.seeds).toEqual([0, 1, 2]);
    const html = await readFile(join(dirs[1]!, 'report.html'), 'utf8');
    expect(html).toContain('<h2>By test subset</h2>');
  });
});

describe('syntheticSplit with testOps', () => {
  const config = { ...DEMO_PRESETS.full, trainProblems: 300, testProblems: 60 };
  it('adds a deeper subset of new problems and leaves train and the main test set as they were', () => {
    const plain = syntheticSplit(config);
    const withDeep = syntheticSplit({ ...config, testOps: { min: 4, max: 5 } });
    expect(withDeep.train).toEqual(plain.train);
    expect(withDeep.test).toEqual(plain.test);
    expect(plain.subsets).toEqual([]);
    expect(withDeep.testName).toBe('in distribution (2-3 ops)');
    const [deeper] = withDeep.subsets;
    expect(deeper!.name).toBe('deeper (4-5 ops)');
    expect(deeper!.problems).toHaveLength(60);
    const depths = new Set(deeper!.problems.map((p) => (p.meta!.goldSteps as unknown[]).length));
    expect([...depths].sort()).toEqual([4, 5]);
    const seen = new Set([...plain.train, ...plain.test].map((p) => p.question));
    const ids = new Set([...plain.train, ...plain.test].map((p) => p.id));
    for (const p of deeper!.problems) {
      expect(seen.has(p.question)).toBe(false);
      expect(ids.has(p.id)).toBe(false);
    }
  });

  it('holds out the same problems whatever the training count, so runs with different --train pair by seed', () => {
    const small = syntheticSplit(config);
    const large = syntheticSplit({ ...config, trainProblems: 1200 });
    expect(large.train.slice(0, 300)).toEqual(small.train);
    const inLargeTrain = new Set(large.train.map((p) => p.question));
    expect(large.test.filter((p) => inLargeTrain.has(p.question))).toEqual([]);
    // Only problems that the larger training set now contains are replaced.
    const kept = small.test.filter((p) => !inLargeTrain.has(p.question));
    expect(kept.length).toBeGreaterThan(0);
    expect(large.test.slice(0, kept.length).map((p) => p.id)).toEqual(kept.map((p) => p.id));
    expect(small.test[0]!.id).toBe(`synthetic-0-${HELD_OUT_START}`);
  });

  it('names a shallower range so, and the CLI refuses a malformed range or non-synthetic data', async () => {
    expect(syntheticSplit({ ...config, minOps: 3, maxOps: 4, testOps: { min: 1, max: 2 } }).subsets[0]!.name).toBe('shallower (1-2 ops)');
    await expect(demo.run(['--test-ops', '5-4'])).rejects.toThrow(CliUsageError);
    await expect(demo.run(['--test-ops', 'deep'])).rejects.toThrow(/--test-ops takes a range/);
    await expect(demo.run(['--test-ops', '4-5', '--dataset', 'gsm8k', '--data', 'x'])).rejects.toThrow(/needs --dataset synthetic/);
  });
});

describe('runDemo with a deeper test subset', () => {
  it('evaluates every arm on each subset with attribution, and checks the deeper problems fit before the teacher runs', async () => {
    const { DEMO_PRESETS: presets } = await import('../src/demo/config.js');
    const { runDemo } = await import('../src/demo/pipeline.js');
    const { SimulatedTeacher } = await import('../src/teacher/simulated.js');
    const { ContextLengthError } = await import('../src/demo/lengths.js');
    const config = { ...presets.quick, trainProblems: 24, testProblems: 6, steps: 2, seeds: [0, 1], arms: ['cot', 'unified'] as const, testOps: { min: 4, max: 5 }, size: { ...presets.quick.size, n_positions: 320 } };
    const split = syntheticSplit(config);
    const source = { ...split, teacher: new SimulatedTeacher({ seed: 0 }), description: 'test' };
    const outDir = await mkdtemp(join(tmpdir(), 'sd-demo-subsets-'));
    const { report } = await runDemo({ config, source, outDir });
    expect(report.runs.map((r) => r.subsets!.map((s) => [s.name, s.problems]))).toEqual([0, 1].map(() => [['in distribution (2-3 ops)', 6], ['deeper (4-5 ops)', 6]]));
    // The run's arms are its main test set's.
    expect(report.runs[0]!.subsets![0]!.arms).toEqual(report.runs[0]!.arms);
    expect(report.subsets!.map((s) => s.name)).toEqual(['in distribution (2-3 ops)', 'deeper (4-5 ops)']);
    expect(report.subsets![1]!.summary.find((a) => a.kind === 'unified')!.attribution!.problems).toBe(6);
    expect(report.setup.testSubsets).toEqual([{ name: 'in distribution (2-3 ops)', problems: 6 }, { name: 'deeper (4-5 ops)', problems: 6 }]);
    expect(report.stages.map((s) => s.name)).toContain('evaluate on deeper (4-5 ops) (seed 1)');
    // A deeper problem that does not fit is found before any teacher call, like any test problem.
    const tiny = { ...config, size: { ...config.size, n_positions: 200 } };
    const teacher = new SimulatedTeacher({ seed: 0 });
    const err = await runDemo({ config: tiny, source: { ...source, subsets: [{ name: 'deep', problems: syntheticSplit({ ...tiny, testProblems: 60 }).subsets[0]!.problems }], teacher }, outDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContextLengthError);
    expect((err as Error).message).toContain('even before the teacher wrote a chain');
  }, 300_000);
});
