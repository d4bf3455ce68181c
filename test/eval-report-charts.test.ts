/** The report a person looks at: readable, honest charts and nothing from the machine's file system (issue #12, item 7). */
import { homedir, tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.js';
import { generateSynthetic } from '../src/data/synthetic.js';
import { evaluateStudents, type Solver } from '../src/eval/evaluator.js';
import { accuracySpec, ema, forestSpec, htmlReport, lossSpec, readingsAgree, renderSvg } from '../src/eval/html.js';
import { markdownTable, summarize, type EvalReport, type RunResult } from '../src/eval/report.js';
import { pairedComparison } from '../src/eval/stats.js';

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

  it('puts QG and QA in their own block, one panel per model, one colour per seed, raw faint behind smoothed, axes spanning the data', async () => {
    type Layer = { mark: { opacity?: number }; encoding: { color: { field: string }; x: { scale: { domain: number[] } }; y: { field: string; scale: { domain: number[] } } } };
    type Block = { title: string; facet: { field: string }; spec: { layer: Layer[] }; data: { values: Array<{ model: string; seed: string; step: number; raw: number }> } };
    const spec = lossSpec(report([0, 1, 2])) as { vconcat: Block[] };
    expect(spec.vconcat.map((c) => c.title)).toEqual(['Single models (smoothed; raw faint; one colour per seed)', 'Iterative: QG and QA models (smoothed; raw faint; one colour per seed)']);
    const [single, iterative] = spec.vconcat;
    expect(new Set(single!.data.values.map((v) => v.model))).toEqual(new Set(['Answer-only', 'CoT']));
    expect(new Set(iterative!.data.values.map((v) => v.model))).toEqual(new Set(['Iterative Socratic (QG+QA)/qg', 'Iterative Socratic (QG+QA)/qa']));
    // A panel per model; within it, each seed its own colour.
    expect(single!.facet.field).toBe('model');
    const [raw, smooth] = single!.spec.layer;
    expect([raw!.encoding.color.field, smooth!.encoding.color.field]).toEqual(['seed', 'seed']);
    expect(new Set(single!.data.values.map((v) => v.seed))).toEqual(new Set(['seed 0', 'seed 1', 'seed 2']));
    expect([raw!.encoding.y.field, raw!.mark.opacity, smooth!.encoding.y.field]).toEqual(['raw', 0.2, 'smooth']);
    const losses = single!.data.values.map((v) => v.raw);
    expect(smooth!.encoding.x.scale.domain).toEqual([1, 400]);
    expect(smooth!.encoding.y.scale.domain).toEqual([Math.min(...losses), Math.max(...losses)]);
    const svg = await renderSvg(spec);
    for (const label of ['seed 0', 'seed 1', 'seed 2', 'CoT', 'Answer-only']) expect(svg).toContain(`>${label}<`);
    // Three seeds are three distinct stroke colours in the drawing.
    const strokes = new Set([...svg.matchAll(/<path[^>]*stroke="(#[0-9a-f]{6})"[^>]*stroke-width="2"/g)].map((m) => m[1]));
    expect(strokes.size).toBeGreaterThanOrEqual(3);
  });
});

describe('accuracy bars: one when the readings agree, whiskers on top', () => {
  it('draws the ± sd whisker after (over) the bars, in black, with each seed as a dot', () => {
    type Layer = { mark: string | { type: string }; encoding: { color?: { value?: string } }; data?: { values: unknown[] } };
    const spec = accuracySpec(report([0, 1, 2])) as { layer: Layer[]; encoding: Record<string, unknown> };
    const kinds = spec.layer.map((l) => (typeof l.mark === 'string' ? l.mark : l.mark.type));
    expect(kinds).toEqual(['bar', 'rule', 'point', 'text']);
    // The shared colour encoding (by reading) would paint the whisker in its bar's colour and hide it.
    expect(spec.layer[1]!.encoding.color).toEqual({ value: 'black' });
    expect(spec.layer[2]!.data!.values).toHaveLength(3 * 3 * 2); // 3 students x 3 seeds x 2 readings
    expect(spec.encoding.yOffset).toBeDefined();
  });

  it('shows one bar per student and says so when strict and flexible agree on every arm', async () => {
    const r = report([0, 1]);
    const agreeing = { ...r, summary: r.summary.map((a) => ({ ...a, strict: a.flexible })) };
    expect(readingsAgree(r)).toBe(false);
    expect(readingsAgree(agreeing)).toBe(true);
    const spec = accuracySpec(agreeing) as { title: { subtitle: string }; encoding: Record<string, unknown>; data: { values: Array<{ reading: string }> } };
    expect(spec.encoding.yOffset).toBeUndefined();
    expect(new Set(spec.data.values.map((v) => v.reading))).toEqual(new Set(['strict = flexible']));
    expect(spec.title.subtitle).toBe('Strict and flexible answer readings agree on every student, so one bar shows both.');
    const svg = await renderSvg(spec);
    expect(svg).toContain('agree on every student');
  });
});

describe('paired comparisons as a forest plot', () => {
  const c = (a: string, b: string, diffs: number[]) => pairedComparison({ name: a, bySeed: new Map(diffs.map((d, i) => [i, 0.5 + d])) }, { name: b, bySeed: new Map(diffs.map((_, i) => [i, 0.5])) });

  it('one row per A − B: the 95% CI as a bar across 0 coloured by the verdict, the mean as a tick, each seed a dot', async () => {
    const comparisons = [c('Unified', 'CoT', [0.1, 0.12, 0.08]), c('CoT', 'Answer-only', [-0.05, 0.04, 0.01]), c('Iterative', 'CoT', [-0.1, -0.12, -0.09])];
    expect(comparisons.map((x) => x.verdict)).toEqual(['ahead', 'tie within noise', 'behind']);
    type Layer = { mark: { type: string }; data: { values: Array<Record<string, unknown>> }; encoding: { color?: { scale?: { domain: string[]; range: string[] } } } };
    const spec = forestSpec({ comparisons }) as { layer: Layer[] };
    expect(spec.layer.map((l) => l.mark.type)).toEqual(['rule', 'bar', 'point', 'tick', 'text']);
    const bars = spec.layer[1]!;
    expect(bars.data.values.map((v) => [v.comparison, v.verdict])).toEqual([['Unified − CoT', 'ahead'], ['CoT − Answer-only', 'tie within noise'], ['Iterative − CoT', 'behind']]);
    const tie = bars.data.values[1]!;
    expect(tie.lo as number).toBeLessThan(0);
    expect(tie.hi as number).toBeGreaterThan(0);
    expect(tie.lo).toBeCloseTo(100 * comparisons[1]!.ci![0], 9);
    const { domain, range } = bars.encoding.color!.scale!;
    expect(range[domain.indexOf('ahead')]).not.toBe(range[domain.indexOf('behind')]);
    expect(spec.layer[2]!.data.values).toHaveLength(9);
    const svg = await renderSvg(spec);
    for (const label of ['Unified − CoT', 'Iterative − CoT', 'ahead', 'behind', 'tie within noise']) expect(svg).toContain(label);
    expect(svg).toContain('+10.0 [5.0, 15.0]'); // mean 10, sd 2 over 3 seeds: ± 4.303 x 2 / √3
    const html = await htmlReport({ ...report([0, 1, 2]), comparisons });
    expect(html).toContain('Paired comparisons: mean A − B with its 95% CI');
    expect(forestSpec({ comparisons: [] })).toBeNull();
  });

  it('with one seed it shows the differences and says there is no CI and no verdict', async () => {
    const spec = forestSpec({ comparisons: [c('Unified', 'CoT', [0.1])] }) as { title: { subtitle: string }; layer: Array<{ data: { values: unknown[] } }> };
    expect(spec.title.subtitle).toBe('one seed: no CI and no verdict, only the difference');
    expect(spec.layer[1]!.data.values).toEqual([]);
    expect(await renderSvg(spec)).toContain('Unified − CoT');
  });
});

describe('tables and examples', () => {
  it('shows – for the mean steps of students that write no steps, with a note saying why', async () => {
    const r = report([0, 1]);
    const table = markdownTable(r);
    expect(table).toMatch(/^\| CoT \| 2 \| .* \| – \| – \|$/m);
    expect(table).toMatch(/^\| Iterative Socratic \(QG\+QA\) \| 2 \| .* \| 3\.00 \| 0\.0 \|$/m);
    expect(table).toContain('Note: Mean steps counts (subquestion, solution) steps. CoT and answer-only students write none');
    const html = await htmlReport(r);
    expect(html).toContain('<p class="foot">Mean steps counts (subquestion, solution) steps.');
    expect(html).not.toContain('<td>Note:');
  });

  it('shows each example with its problem text, what the student wrote, and whether it was right', async () => {
    const problems = generateSynthetic({ count: 2, seed: 3 });
    const solver: Solver = {
      kind: 'unified',
      solveMany: async (ps) => ps.map((p, i) => ({ answer: i === 0 ? p.answer : -1, strictAnswer: null, steps: [], text: `Q: first?\nA: step for ${p.id}\n#### ${i === 0 ? String(p.answer) : '-1'}`, stoppedBy: 'eos' as const })),
    };
    const arms = await evaluateStudents([{ name: 'Unified', solver }], problems, { keepSamples: 2 });
    expect(arms[0]!.samples[0]).toMatchObject({ problemId: problems[0]!.id, question: problems[0]!.question, correct: true });
    expect(arms[0]!.samples[1]!.correct).toBe(false);
    const runs = [{ seed: 0, arms, losses: {} }];
    const html = await htmlReport({ title: 't', createdAt: 'x', setup: {}, runs, summary: summarize(runs), comparisons: [], baselines: [], stages: [], findings: [] });
    expect(html).toContain(`<b>Problem.</b> ${problems[0]!.question}`);
    expect(html).toContain(`answered ${String(problems[0]!.answer)}, gold ${String(problems[0]!.answer)} ✓ right`);
    expect(html).toContain(`A: step for ${problems[0]!.id}`);
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
