import { mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { DatasetFormatError } from '../src/errors.js';
import { mergeReports, readReport } from '../src/eval/merge.js';
import { armComparisons, summarize, type EvalReport, type RunResult } from '../src/eval/report.js';
import { writeReport } from '../src/eval/write.js';

type Arm = RunResult['arms'][number];
const arm = (name: string, kind: Arm['kind'], flexible: number): Arm => ({ name, kind, flexible, strict: flexible, scores: [], steps: { meanSteps: 2, capRate: 0 }, wallSeconds: 1, samples: [] });
const run = (seed: number): RunResult => ({
  seed,
  losses: { CoT: [2, 1] },
  arms: [arm('Answer-only', 'answer-only', 0.1 + seed / 100), arm('CoT', 'cot', 0.5 + seed / 50), arm('Unified', 'unified', 0.7 - seed / 100)],
});

function report(seeds: number[], setup: Record<string, unknown> = { model: 'm' }): EvalReport {
  const runs = seeds.map(run);
  const summary = summarize(runs);
  const comparisons = armComparisons(runs, summary);
  return {
    title: 'demo', createdAt: '2026-11-28T00:00:00Z', setup: { ...setup, seeds }, runs, summary, comparisons, baselines: [],
    stages: [{ name: `seed ${seeds.join(',')}`, seconds: 1 }],
    findings: ['ordering', ...comparisons.map(() => 'comparison'), 'The verifier rejected 1 of 10 teacher chains.'],
  };
}

async function saved(r: EvalReport): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sd-merge-'));
  await writeReport(dir, r);
  return dir;
}

describe('merging reports of runs made apart', () => {
  it('joins the runs and recomputes the summary, the paired CIs and the findings over every seed', async () => {
    const merged = mergeReports([report([2]), report([0, 1])]);
    expect(merged.runs.map((r) => r.seed)).toEqual([0, 1, 2]);
    expect(merged.setup.seeds).toEqual([0, 1, 2]);
    expect(merged.summary.find((a) => a.name === 'CoT')!.flexible.values).toEqual([0.5, 0.52, 0.54]);
    const unifiedVsCot = merged.comparisons.find((c) => c.a === 'Unified' && c.b === 'CoT')!;
    expect(unifiedVsCot.seeds).toEqual([0, 1, 2]);
    expect(unifiedVsCot.ci).not.toBeNull();
    expect(merged.findings[0]).toMatch(/paired 95% CIs over 3 seeds/);
    expect(merged.findings.at(-1)).toBe('The verifier rejected 1 of 10 teacher chains.');
    expect(merged.findings).toHaveLength(1 + merged.comparisons.length + 1);
    expect(merged.stages).toHaveLength(2);
  });

  it('refuses a seed twice and a different setup', () => {
    expect(() => mergeReports([report([0, 1]), report([1])])).toThrow(/seed 1 appears in more than one report/);
    expect(() => mergeReports([report([0]), report([1], { model: 'other' })])).toThrow(/another setup/);
  });

  it('the report command writes the merged report; a broken report.json is named', async () => {
    const a = await saved(report([0]));
    const b = await saved(report([1, 2]));
    const out = await mkdtemp(join(tmpdir(), 'sd-merged-'));
    expect(await main(['report', '--merge', a, '--merge', b, '--out', out])).toBe(0);
    const merged = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as EvalReport;
    expect(merged.runs.map((r) => r.seed)).toEqual([0, 1, 2]);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toContain('## Paired comparisons');
    const bad = join(await mkdtemp(join(tmpdir(), 'sd-bad-')), 'r');
    await mkdir(bad);
    await writeFile(join(bad, 'report.json'), '{"title": 1}');
    const err = await readReport(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetFormatError);
    expect((err as Error).message).toContain(join(bad, 'report.json'));
  });
});
