import { OptionalDependencyError } from '../errors.js';
import { importOptional } from '../util/optional.js';
import type { EvalReport } from './report.js';
import { attributionTable, comparisonsTable, markdownTable, stagesTable, subsetAccuracyTable } from './report.js';

type Spec = Record<string, unknown>;

const CHART_PACKAGES = ['vega', 'vega-lite'] as const;

/**
 * Render a vega-lite spec to an SVG string headless: compile to vega, then
 * View.toSVG() with renderer 'none', which needs no canvas or browser.
 * `vega` and `vega-lite` are optional peers: without them this throws an OptionalDependencyError.
 */
export async function renderSvg(spec: Spec): Promise<string> {
  const vegaLite = await importOptional(CHART_PACKAGES, 'Rendering report charts', () => import('vega-lite'));
  const vega = await importOptional(CHART_PACKAGES, 'Rendering report charts', () => import('vega'));
  const compiled = vegaLite.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
/** Type sizes a person can read at 100% zoom (vega-lite's defaults are 10-11 px). */
const CONFIG = {
  title: { fontSize: 15, anchor: 'start' },
  axis: { labelFontSize: 12, titleFontSize: 12 },
  legend: { labelFontSize: 12, titleFontSize: 12, symbolStrokeWidth: 3, symbolOpacity: 1 },
  header: { labelFontSize: 13 },
};
const sd = (xs: readonly number[], mean: number): number =>
  xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;

/**
 * Horizontal bars (so long student names never get cut off) on the honest 0-100 axis: the mean over
 * seeds, a whisker of ± one sample standard deviation, and the value printed beside each bar.
 */
export function accuracySpec(report: EvalReport): Spec {
  const values = report.summary.flatMap((a) =>
    (['strict', 'flexible'] as const).map((reading) => {
      const xs = a[reading].values.map((v) => 100 * v);
      const mean = xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);
      const spread = sd(xs, mean);
      return { student: a.name, reading, mean, lo: Math.max(0, mean - spread), hi: Math.min(100, mean + spread), label: `${mean.toFixed(1)}` };
    }),
  );
  const seeds = Math.max(0, ...report.summary.map((a) => a.seeds));
  const x = { type: 'quantitative', scale: { domain: [0, 100] }, title: 'accuracy on held-out problems (%)' } as const;
  return {
    $schema: SCHEMA,
    title: seeds > 1 ? `Held-out accuracy: mean over ${seeds} seeds, whiskers ± 1 sd` : 'Held-out accuracy (one seed)',
    config: CONFIG,
    data: { values },
    width: 600,
    encoding: {
      y: { field: 'student', type: 'nominal', sort: report.summary.map((a) => a.name), axis: { title: null, labelLimit: 0 } },
      yOffset: { field: 'reading', sort: ['strict', 'flexible'] },
      color: { field: 'reading', type: 'nominal', sort: ['strict', 'flexible'], title: 'answer reading', legend: { orient: 'bottom' } },
    },
    height: { step: 24 },
    layer: [
      { mark: 'bar', encoding: { x: { field: 'mean', ...x } } },
      ...(seeds > 1 ? [{ mark: { type: 'rule', color: 'black' }, encoding: { x: { field: 'lo', ...x }, x2: { field: 'hi' } } }] : []),
      { mark: { type: 'text', align: 'left', dx: 4, fontSize: 12 }, encoding: { x: { field: seeds > 1 ? 'hi' : 'mean', ...x }, text: { field: 'label' }, color: { value: 'black' } } },
    ],
  };
}

/** Exponential moving average with a span of about 1/20 of the curve (at least 5 steps). */
export function ema(xs: readonly number[]): number[] {
  const alpha = 2 / (Math.max(5, Math.round(xs.length / 20)) + 1);
  const out: number[] = [];
  let acc: number | undefined;
  for (const x of xs) {
    if (!Number.isFinite(x)) {
      out.push(acc ?? NaN);
      continue;
    }
    acc = acc === undefined ? x : alpha * x + (1 - alpha) * acc;
    out.push(acc);
  }
  return out;
}

/**
 * Training loss per optimizer step: the EMA-smoothed curve, with the raw one faint behind it. The
 * Iterative student's QG and QA models (`name/qg`, `name/qa`) learn a different text than the single
 * models, so they get their own panel. Both axes span the data, so no half of a panel is empty.
 */
export function lossSpec(report: EvalReport): Spec {
  type Point = { model: string; seed: number; step: number; raw: number; smooth: number };
  const panels: Record<'single' | 'iterative', Point[]> = { single: [], iterative: [] };
  for (const run of report.runs) {
    for (const [model, losses] of Object.entries(run.losses)) {
      const smooth = ema(losses);
      // Thin long curves so the SVG stays small; every 1/300th step is plenty for the shape.
      const stride = Math.max(1, Math.floor(losses.length / 300));
      const panel = /\/(qg|qa)$/i.test(model) ? panels.iterative : panels.single;
      losses.forEach((raw, i) => {
        if (i % stride === 0 && Number.isFinite(raw)) panel.push({ model, seed: run.seed, step: i + 1, raw, smooth: smooth[i]! });
      });
    }
  }
  const chart = (title: string, values: Point[]): Spec => {
    const steps = values.map((v) => v.step);
    const losses = values.map((v) => v.raw);
    const x = { field: 'step', type: 'quantitative', title: 'optimizer step', scale: { domain: [Math.min(...steps), Math.max(...steps)], nice: false } };
    const y = { type: 'quantitative', title: 'loss (log scale)', scale: { type: 'log', domain: [Math.min(...losses), Math.max(...losses)], nice: false } };
    const color = { field: 'model', type: 'nominal', legend: { orient: 'bottom', columns: 2, labelLimit: 0, title: null } };
    return {
      title,
      data: { values },
      width: 600,
      height: 260,
      layer: [
        { mark: { type: 'line', strokeWidth: 1, opacity: 0.2, clip: true }, encoding: { x, y: { field: 'raw', ...y }, color, detail: { field: 'seed', type: 'nominal' } } },
        { mark: { type: 'line', strokeWidth: 2, clip: true }, encoding: { x, y: { field: 'smooth', ...y }, color, detail: { field: 'seed', type: 'nominal' } } },
      ],
    };
  };
  const charts = [
    ...(panels.single.length ? [chart('Single models (smoothed; raw faint)', panels.single)] : []),
    ...(panels.iterative.length ? [chart('Iterative: QG and QA models (smoothed; raw faint)', panels.iterative)] : []),
  ];
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: 'Training loss per optimizer step',
    vconcat: charts,
    resolve: { scale: { color: 'independent' } },
  };
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Markdown pipe table -> HTML table (our tables have no escaped pipes). */
function tableHtml(md: string): string {
  const rows = md.split('\n').filter((l, i) => i !== 1).map((l) => l.split('|').slice(1, -1).map((c) => escapeHtml(c.trim())));
  const [head, ...body] = rows;
  return `<table><thead><tr>${head!.map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>${body.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** Paired comparisons and error attribution, the same tables as report.md. */
function analysisHtml(report: EvalReport): string {
  const attribution = attributionTable(report.summary);
  const parts = [];
  if (attribution) parts.push(`<h2>Where the Socratic students go wrong</h2>\n<p>Teacher-forced QG / stop / QA accuracy with the gold history, and the first error of each free-running solution (planning: the subquestion asked for another quantity; arithmetic: right subquestion, wrong number).</p>\n${tableHtml(attribution)}`);
  if (report.comparisons.length > 0) parts.push(`<h2>Paired comparisons</h2>\n<p>Per-seed differences in flexible accuracy (points); the verdict comes from the 95% CI, never from the sign of the mean.</p>\n${tableHtml(comparisonsTable(report.comparisons))}`);
  if (report.subsets?.length) {
    parts.push(`<h2>By test subset</h2>\n<p>Flexible accuracy per subset; each shift pairs an arm with itself on the first subset, seed by seed.</p>\n${tableHtml(subsetAccuracyTable(report.subsets))}`);
    for (const s of report.subsets) {
      const table = attributionTable(s.summary);
      parts.push(`<h3>${escapeHtml(s.name)}</h3>\n<p>${escapeHtml(s.findings[0] ?? '')}</p>\n${tableHtml(comparisonsTable(s.comparisons))}${table ? `\n${tableHtml(table)}` : ''}`);
    }
  }
  return parts.join('\n');
}

/** The charts as SVG figures, or a note saying how to get them when the optional chart packages are missing. */
async function chartsHtml(report: EvalReport): Promise<string> {
  // `eval` reports have no training curves: leave the loss figure out rather than draw empty axes.
  const hasCurves = report.runs.some((r) => Object.keys(r.losses).length > 0);
  try {
    const [accuracy, loss] = await Promise.all([renderSvg(accuracySpec(report)), hasCurves ? renderSvg(lossSpec(report)) : '']);
    return `<figure>${accuracy}</figure>\n${loss ? `<figure>${loss}</figure>` : ''}`;
  } catch (err) {
    if (!(err instanceof OptionalDependencyError)) throw err;
    // The tables below carry every number; only the pictures need the optional packages.
    return `<p class="note">No charts: they are drawn by the optional packages ${CHART_PACKAGES.map((p) => `<code>${p}</code>`).join(' and ')}, which are not installed here. Install them (<code>npm install ${CHART_PACKAGES.join(' ')}</code>) then write this report again from its report.json to get the accuracy and training-loss charts: <code>writeReport(dir, report)</code> in code, or <code>socratic-distill report --merge &lt;this folder&gt; --out &lt;folder&gt;</code> on the command line.</p>`;
  }
}

/** The HTML report. Without the optional chart packages it is complete except for the charts, and says so. */
export async function htmlReport(report: EvalReport): Promise<string> {
  const charts = await chartsHtml(report);
  const samples = report.runs[0]?.arms.flatMap((a) => a.samples.slice(0, 1).map((s) => `<h3>${escapeHtml(a.name)} on ${escapeHtml(s.problemId)} (gold ${escapeHtml(String(s.gold))}, answered ${escapeHtml(String(s.answer))})</h3><pre>${escapeHtml(s.text)}</pre>`)) ?? [];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(report.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}td:first-child,th:first-child{text-align:left}pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap}.note{background:#fff8e1;padding:.6em}</style>
</head><body>
<h1>${escapeHtml(report.title)}</h1>
<p>Created ${escapeHtml(report.createdAt)}${report.machine ? ` on ${escapeHtml(report.machine)}` : ''}${report.backend ? `, backend ${escapeHtml(report.backend)}` : ''}.</p>
${tableHtml(markdownTable(report))}
<ul>${report.findings.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>
${charts}
${analysisHtml(report)}
<h2>Stages</h2>
${tableHtml(stagesTable(report.stages))}
<h2>Examples (first seed)</h2>
${samples.join('\n')}
<h2>Setup</h2><pre>${escapeHtml(JSON.stringify(report.setup, null, 2))}</pre>
</body></html>
`;
}
