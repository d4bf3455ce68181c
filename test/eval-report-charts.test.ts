/** The report a person looks at: readable, honest charts and nothing from the machine's file system (issue #12, item 7). */
import { homedir, tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.js';
import { accuracySpec, ema, htmlReport, lossSpec, renderSvg } from '../src/eval/html.js';
import { summarize, type EvalReport, type RunResult } from '../src/eval/report.js';

const ARMS = [['Answer-only', 'answer-only', 0.1], ['CoT', 'cot', 0.3], ['Iterative Socratic (QG+QA)', 'iterative', 0.45]] as const;

function noisyCurve(n: number, end: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => (end + 8 * Math.exp(-i / 60)) * (1 + 0.3 * Math.sin(i * 7.1 + seed)));
}

function report(seeds: number[]): EvalReport {
  const runs: RunResult[] = seeds.map((seed) => ({
    seed,
    arms: ARMS.map(([name, kind, acc]) => ({
      name, kind, strict: acc + 0.04 * seed, flexible: acc + 0.1 + 0.02 * seed, scores: [], steps: { meanSteps: 3, capRate: 0 }, samples: [], wallSeconds: 1,
    })),
    losses: { 'Answer-only': noisyCurve(400, 1, seed), CoT: noisyCurve(400, 0.8, seed), 'Iterative Socratic (QG+QA)/qg': noisyCurve(400, 0.5, seed), 'Iterative Socratic (QG+QA)/qa': noisyCurve(400, 0.3, seed) },
  }));
  return { title: 't', createdAt: '2026-01-01T00:00:00Z', setup: {}, runs, summary: summarize(runs), comparisons: [], baselines: [], stages: [], findings: [] };
}

describe('accuracy chart', () => {
  it('keeps the 0-100 axis, prints each mean on its bar and draws ± sd whiskers over seeds', async () => {
    const r = report([0, 1, 2]);
    const spec = accuracySpec(r) as { layer: Array<{ mark: unknown; encoding: { x: { scale?: { domain: number[] } } } }>; data: { values: Array<Record<string, number | string>> } };
    for (const layer of spec.layer) expect(layer.encoding.x.scale?.domain).toEqual([0, 100]);
    const cot = spec.data.values.find((v) => v.student === 'CoT' && v.reading === 'strict')!;
    // CoT strict over seeds: 30, 34, 38 -> mean 34, sample sd 4.
    expect(cot.mean).toBeCloseTo(34, 9);
    expect([cot.lo, cot.hi]).toEqual([expect.closeTo(30, 9), expect.closeTo(38, 9)]);
    expect(cot.label).toBe('34.0');
    const svg = await renderSvg(spec);
    for (const label of ['34.0', '100', 'Iterative Socratic (QG+QA)']) expect(svg).toContain(`>${label}<`);
    // Long student names are not truncated with an ellipsis.
    expect(svg).not.toContain('…');
  });

  it('renders an evaluation-only report (no training curves, one seed) without an empty loss chart', async () => {
    const r = report([0]);
    const html = await htmlReport({ ...r, runs: r.runs.map((run) => ({ ...run, losses: {} })) });
    expect(html.match(/<svg/g)?.length).toBe(1);
    expect(html).not.toContain('Training loss');
  });

  it('draws no whiskers for a single seed', () => {
    const spec = accuracySpec(report([0])) as { layer: Array<{ mark: string | { type: string } }> };
    expect(spec.layer.map((l) => (typeof l.mark === 'string' ? l.mark : l.mark.type))).toEqual(['bar', 'text']);
  });
});

describe('loss curves', () => {
  it('EMA smoothing follows the trend and removes most of the noise', () => {
    const raw = noisyCurve(400, 1, 0);
    const smooth = ema(raw);
    const roughness = (xs: number[]) => xs.slice(1).reduce((a, x, i) => a + Math.abs(x - xs[i]!), 0);
    expect(smooth).toHaveLength(raw.length);
    expect(roughness(smooth)).toBeLessThan(roughness(raw) / 5);
    expect(smooth[0]).toBe(raw[0]);
    expect(smooth.at(-1)!).toBeGreaterThan(0.7);
    expect(smooth.at(-1)!).toBeLessThan(1.3);
  });

  it('puts QG and QA in their own panel, raw faint behind smoothed, with axes spanning the data', () => {
    type Layer = { mark: { opacity?: number }; encoding: { x: { scale: { domain: number[] } }; y: { field: string; scale: { domain: number[] } } } };
    const spec = lossSpec(report([0, 1])) as { vconcat: Array<{ title: string; layer: Layer[]; data: { values: Array<{ model: string; step: number; raw: number }> } }> };
    expect(spec.vconcat.map((c) => c.title)).toEqual(['Single models (smoothed; raw faint)', 'Iterative: QG and QA models (smoothed; raw faint)']);
    const [single, iterative] = spec.vconcat;
    expect(new Set(single!.data.values.map((v) => v.model))).toEqual(new Set(['Answer-only', 'CoT']));
    expect(new Set(iterative!.data.values.map((v) => v.model))).toEqual(new Set(['Iterative Socratic (QG+QA)/qg', 'Iterative Socratic (QG+QA)/qa']));
    const [raw, smooth] = single!.layer;
    expect([raw!.encoding.y.field, raw!.mark.opacity, smooth!.encoding.y.field]).toEqual(['raw', 0.2, 'smooth']);
    const losses = single!.data.values.map((v) => v.raw);
    expect(smooth!.encoding.x.scale.domain).toEqual([1, 400]);
    expect(smooth!.encoding.y.scale.domain).toEqual([Math.min(...losses), Math.max(...losses)]);
  });
});

describe('what the report reveals about the machine', () => {
  it("the backend summary names backends and reasons but no absolute path", async () => {
    const backend = await selectBackend('auto');
    for (const dir of [process.cwd(), homedir(), tmpdir(), '/work/', '/home/', '/Users/']) expect(backend.summary).not.toContain(dir);
    expect(backend.summary).toMatch(/^using (native-cpu|native-cuda|tfjs-node-gpu|tfjs-wasm|tfjs-cpu)\b/);
  });

  it('report.html has no absolute path of this machine', async () => {
    const backend = await selectBackend('auto');
    const html = await htmlReport({ ...report([0, 1]), backend: backend.summary });
    for (const dir of [process.cwd(), homedir(), tmpdir()]) expect(html).not.toContain(dir);
    expect(html.match(/<svg/g)?.length).toBe(2);
  });
});
