/** Without the optional chart packages the report is still written, and report.html says how to get the charts (issue #15, item 6). */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { OptionalDependencyError } from '../src/errors.js';
import { renderSvg } from '../src/eval/html.js';
import { summarize, type EvalReport, type RunResult } from '../src/eval/report.js';
import { writeReport } from '../src/eval/write.js';

// What Node throws when a package is not installed.
vi.mock('vega', () => {
  throw Object.assign(new Error("Cannot find package 'vega' imported from /project/node_modules/socratic-distill/dist/index.js"), { code: 'ERR_MODULE_NOT_FOUND' });
});

function report(): EvalReport {
  const runs: RunResult[] = [{
    seed: 0,
    arms: [{ name: 'Unified', kind: 'unified', strict: 0.4, flexible: 0.5, scores: [], steps: { meanSteps: 3, capRate: 0 }, samples: [], wallSeconds: 1 }],
    losses: { Unified: [3, 2, 1] },
  }];
  return { title: 'no charts', createdAt: '2026-01-01T00:00:00Z', setup: {}, runs, summary: summarize(runs), comparisons: [], baselines: [], stages: [], findings: ['a finding'] };
}

describe('report without vega / vega-lite', () => {
  it('renderSvg throws a typed error naming both packages and the install command', async () => {
    const err = await renderSvg({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptionalDependencyError);
    expect((err as OptionalDependencyError).packages).toEqual(['vega', 'vega-lite']);
    expect((err as Error).message).toContain('npm install vega vega-lite');
  });

  it('writes report.json, report.md and a report.html with every table and a note instead of the charts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sd-nocharts-'));
    const paths = await writeReport(dir, report());
    const html = await readFile(paths.html, 'utf8');
    expect(html).not.toContain('<svg');
    expect(html).toContain('npm install vega vega-lite');
    expect(html).toMatch(/<table>[\s\S]*Unified[\s\S]*<\/table>/);
    expect(html).toContain('a finding');
    expect(JSON.parse(await readFile(paths.json, 'utf8')).title).toBe('no charts');
    expect(await readFile(paths.markdown, 'utf8')).toContain('Unified');
  });
});
