import { OptionalDependencyError } from '../errors.js';
import { importOptional } from '../util/optional.js';
import type { EvalReport } from './report.js';
import { attributionTable, comparisonsTable, markdownTable, stagesTable, subsetAccuracyTable, summaryNotes } from './report.js';

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

/** True when every arm's strict and flexible accuracies are equal on every seed: then one bar says it all. */
export function readingsAgree(report: Pick<EvalReport, 'summary'>): boolean {
  return report.summary.every((a) => a.strict.values.length === a.flexible.values.length && a.strict.values.every((v, i) => v === a.flexible.values[i]));
}

/**
 * Horizontal bars (so long student names never get cut off) on the honest 0-100 axis: the mean over
 * seeds, each seed's accuracy as a dot, a whisker of ± one sample standard deviation drawn over the bar
 * (in black: the bars' reading colour would hide it), and the value printed beside each bar. Strict and
 * flexible get a bar each only when they differ somewhere; when they agree on every arm, one bar and a note.
 */
export function accuracySpec(report: EvalReport): Spec {
  const agree = readingsAgree(report);
  const readings = agree ? (['strict = flexible'] as const) : (['strict', 'flexible'] as const);
  const valuesOf = (a: EvalReport['summary'][number], reading: (typeof readings)[number]) => (reading === 'flexible' ? a.flexible.values : a.strict.values);
  const values = report.summary.flatMap((a) =>
    readings.map((reading) => {
      const xs = valuesOf(a, reading).map((v) => 100 * v);
      const mean = xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);
      const spread = sd(xs, mean);
      return { student: a.name, reading, mean, lo: Math.max(0, mean - spread), hi: Math.min(100, mean + spread), label: `${mean.toFixed(1)}` };
    }),
  );
  const dots = report.summary.flatMap((a) => readings.flatMap((reading) => valuesOf(a, reading).map((v) => ({ student: a.name, reading, accuracy: 100 * v }))));
  const seeds = Math.max(0, ...report.summary.map((a) => a.seeds));
  const x = { type: 'quantitative', scale: { domain: [0, 100] }, title: 'accuracy on held-out problems (%)' } as const;
  const title = seeds > 1 ? `Held-out accuracy: mean over ${seeds} seeds (dots: each seed), whiskers ± 1 sd` : 'Held-out accuracy (one seed)';
  return {
    $schema: SCHEMA,
    title: agree ? { text: title, subtitle: 'Strict and flexible answer readings agree on every student, so one bar shows both.' } : title,
    config: CONFIG,
    data: { values },
    width: 600,
    encoding: {
      y: { field: 'student', type: 'nominal', sort: report.summary.map((a) => a.name), axis: { title: null, labelLimit: 0 } },
      ...(agree ? {} : { yOffset: { field: 'reading', sort: readings } }),
      // One reading: the subtitle says so, and a one-entry legend would only repeat it.
      color: { field: 'reading', type: 'nominal', sort: readings, title: 'answer reading', legend: agree ? null : { orient: 'bottom' } },
    },
    height: { step: agree ? 30 : 24 },
    layer: [
      { mark: 'bar', encoding: { x: { field: 'mean', ...x } } },
      ...(seeds > 1
        ? [
            { mark: { type: 'rule', strokeWidth: 2 }, encoding: { x: { field: 'lo', ...x }, x2: { field: 'hi' }, color: { value: 'black' } } },
            { data: { values: dots }, mark: { type: 'point', filled: true, size: 22, opacity: 0.75 }, encoding: { x: { field: 'accuracy', ...x }, color: { value: '#222' } } },
          ]
        : []),
      { mark: { type: 'text', align: 'left', dx: 4, fontSize: 12 }, encoding: { x: { field: seeds > 1 ? 'hi' : 'mean', ...x }, text: { field: 'label' }, color: { value: 'black' } } },
    ],
  };
}

/** Verdict colours of the forest plot: ahead green, behind red, a tie grey. */
const VERDICT_COLORS: Record<string, string> = { ahead: '#2e7d32', behind: '#c62828', 'tie within noise': '#8d8d8d', 'no verdict': '#c9c9c9' };

/**
 * The paired comparisons as a forest plot: one row per A − B, its 95% CI as a bar (coloured by the verdict,
 * which comes from the CI alone) against the line at 0, the mean difference as a black tick, and each seed's
 * difference as a dot. Null when there is nothing to compare.
 */
export function forestSpec(report: Pick<EvalReport, 'comparisons'>): Spec | null {
  if (report.comparisons.length === 0) return null;
  const label = (c: EvalReport['comparisons'][number]) => `${c.a} − ${c.b}`;
  const rows = report.comparisons.map((c) => ({
    comparison: label(c),
    mean: 100 * c.mean,
    ...(c.ci ? { lo: 100 * c.ci[0], hi: 100 * c.ci[1] } : {}),
    verdict: c.verdict,
    text: `${c.mean >= 0 ? '+' : ''}${(100 * c.mean).toFixed(1)}${c.ci ? ` [${(100 * c.ci[0]).toFixed(1)}, ${(100 * c.ci[1]).toFixed(1)}]` : ''}`,
  }));
  const dots = report.comparisons.flatMap((c) => c.diffs.map((d, i) => ({ comparison: label(c), diff: 100 * d, seed: c.seeds[i] })));
  // 0 always in view; the axis spans the data with a margin (a symmetric one would squeeze one-sided data).
  const all = [0, ...rows.flatMap((r) => [r.lo ?? r.mean, r.hi ?? r.mean, r.mean]), ...dots.map((d) => d.diff)];
  const pad = Math.max(2, 0.08 * (Math.max(...all) - Math.min(...all)));
  const domain = [Math.floor(Math.min(...all) - pad), Math.ceil(Math.max(...all) + pad)];
  const width = 440;
  const x = { type: 'quantitative', scale: { domain, nice: false }, title: 'A − B, flexible accuracy (points)' } as const;
  const y = { field: 'comparison', type: 'nominal', sort: rows.map((r) => r.comparison), axis: { title: null, labelLimit: 0 } } as const;
  const verdicts = Object.keys(VERDICT_COLORS);
  const seeds = Math.max(0, ...report.comparisons.map((c) => c.seeds.length));
  return {
    $schema: SCHEMA,
    title: {
      text: 'Paired comparisons: mean A − B with its 95% CI',
      subtitle: seeds > 1 ? `bar: 95% CI over ${seeds} paired seeds, coloured by the verdict; tick: mean; dots: each seed` : 'one seed: no CI and no verdict, only the difference',
    },
    config: CONFIG,
    width,
    height: { step: 28 },
    layer: [
      { data: { values: [{ zero: 0 }] }, mark: { type: 'rule', color: '#444', strokeDash: [4, 3] }, encoding: { x: { field: 'zero', ...x } } },
      {
        data: { values: rows.filter((r) => r.lo !== undefined) },
        mark: { type: 'bar', height: 12, cornerRadius: 2 },
        encoding: {
          y, x: { field: 'lo', ...x }, x2: { field: 'hi' },
          color: { field: 'verdict', type: 'nominal', title: 'verdict for A', scale: { domain: verdicts, range: verdicts.map((v) => VERDICT_COLORS[v]) }, legend: { orient: 'bottom' } },
        },
      },
      { data: { values: dots }, mark: { type: 'point', size: 26, opacity: 0.7, color: '#222' }, encoding: { y, x: { field: 'diff', ...x } } },
      { data: { values: rows }, mark: { type: 'tick', color: 'black', thickness: 3, size: 18 }, encoding: { y, x: { field: 'mean', ...x } } },
      { data: { values: rows }, mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -7, fontSize: 11 }, encoding: { y, x: { value: width }, text: { field: 'text' } } },
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
 * Training loss per optimizer step: the EMA-smoothed curve, with the raw one faint behind it, one small panel
 * per model with one colour per seed (so seeds are told apart and models never share a colour). The
 * Iterative student's QG and QA models (`name/qg`, `name/qa`) learn a different text than the single
 * models, so they get their own block. Both axes span the block's data, so no half of a panel is empty.
 */
export function lossSpec(report: EvalReport): Spec {
  type Point = { model: string; seed: string; step: number; raw: number; smooth: number };
  const panels: Record<'single' | 'iterative', Point[]> = { single: [], iterative: [] };
  for (const run of report.runs) {
    for (const [model, losses] of Object.entries(run.losses)) {
      const smooth = ema(losses);
      // Thin long curves so the SVG stays small; every 1/300th step is plenty for the shape.
      const stride = Math.max(1, Math.floor(losses.length / 300));
      const panel = /\/(qg|qa)$/i.test(model) ? panels.iterative : panels.single;
      losses.forEach((raw, i) => {
        if (i % stride === 0 && Number.isFinite(raw)) panel.push({ model, seed: `seed ${run.seed}`, step: i + 1, raw, smooth: smooth[i]! });
      });
    }
  }
  const seeds = [...new Set(report.runs.map((r) => `seed ${r.seed}`))];
  const chart = (title: string, values: Point[]): Spec => {
    const steps = values.map((v) => v.step);
    const losses = values.map((v) => v.raw);
    const x = { field: 'step', type: 'quantitative', title: 'optimizer step', scale: { domain: [Math.min(...steps), Math.max(...steps)], nice: false } };
    const y = { type: 'quantitative', title: 'loss (log scale)', scale: { type: 'log', domain: [Math.min(...losses), Math.max(...losses)], nice: false } };
    const color = { field: 'seed', type: 'nominal', sort: seeds, title: null, legend: { orient: 'bottom', labelLimit: 0 } };
    const models = new Set(values.map((v) => v.model)).size;
    return {
      title,
      data: { values },
      facet: { field: 'model', type: 'nominal', title: null, header: { labelLimit: 0 } },
      columns: Math.min(2, models),
      spec: {
        width: models > 1 ? 280 : 600,
        height: 170,
        layer: [
          { mark: { type: 'line', strokeWidth: 1, opacity: 0.2, clip: true }, encoding: { x, y: { field: 'raw', ...y }, color } },
          { mark: { type: 'line', strokeWidth: 2, clip: true }, encoding: { x, y: { field: 'smooth', ...y }, color } },
        ],
      },
    };
  };
  const charts = [
    ...(panels.single.length ? [chart('Single models (smoothed; raw faint; one colour per seed)', panels.single)] : []),
    ...(panels.iterative.length ? [chart('Iterative: QG and QA models (smoothed; raw faint; one colour per seed)', panels.iterative)] : []),
  ];
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: 'Training loss per optimizer step',
    vconcat: charts,
  };
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Markdown pipe table -> HTML table (our tables have no escaped pipes); lines that are not table rows (notes) are left out. */
function tableHtml(md: string): string {
  const rows = md.split('\n').filter((l) => l.startsWith('|')).filter((_, i) => i !== 1).map((l) => l.split('|').slice(1, -1).map((c) => escapeHtml(c.trim())));
  const [head, ...body] = rows;
  return `<table><thead><tr>${head!.map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>${body.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** Paired comparisons (forest plot and table) and error attribution, the same tables as report.md. */
function analysisHtml(report: EvalReport, forest: string): string {
  const attribution = attributionTable(report.summary);
  const parts = [];
  if (attribution) parts.push(`<h2>Where the Socratic students go wrong</h2>\n<p>Teacher-forced QG / stop / QA accuracy with the gold history, and the first error of each free-running solution (planning: the subquestion asked for another quantity; arithmetic: right subquestion, wrong number).</p>\n${tableHtml(attribution)}`);
  if (report.comparisons.length > 0) {
    parts.push(`<h2>Paired comparisons</h2>\n<p>Per-seed differences in flexible accuracy (points); the verdict comes from the 95% CI, never from the sign of the mean.</p>\n${forest ? `<figure>${forest}</figure>\n` : ''}${tableHtml(comparisonsTable(report.comparisons))}`);
  }
  if (report.subsets?.length) {
    parts.push(`<h2>By test subset</h2>\n<p>Flexible accuracy per subset; each shift pairs an arm with itself on the first subset, seed by seed.</p>\n${tableHtml(subsetAccuracyTable(report.subsets))}`);
    for (const s of report.subsets) {
      const table = attributionTable(s.summary);
      parts.push(`<h3>${escapeHtml(s.name)}</h3>\n<p>${escapeHtml(s.findings[0] ?? '')}</p>\n${tableHtml(comparisonsTable(s.comparisons))}${table ? `\n${tableHtml(table)}` : ''}`);
    }
  }
  return parts.join('\n');
}

const NO_CHARTS = `<p class="note">No charts: they are drawn by the optional packages ${CHART_PACKAGES.map((p) => `<code>${p}</code>`).join(' and ')}, which are not installed here. Install them (<code>npm install ${CHART_PACKAGES.join(' ')}</code>) then write this report again from its report.json to get the accuracy, paired-comparison and training-loss charts: <code>writeReport(dir, report)</code> in code, or <code>socratic-distill report --merge &lt;this folder&gt; --out &lt;folder&gt;</code> on the command line.</p>`;

/** The charts as SVG (accuracy, forest plot, loss), or null when the optional chart packages are missing. */
async function charts(report: EvalReport): Promise<{ accuracy: string; forest: string; loss: string } | null> {
  // `eval` reports have no training curves: leave the loss figure out rather than draw empty axes.
  const hasCurves = report.runs.some((r) => Object.keys(r.losses).length > 0);
  const forest = forestSpec(report);
  try {
    const [accuracy, f, loss] = await Promise.all([renderSvg(accuracySpec(report)), forest ? renderSvg(forest) : '', hasCurves ? renderSvg(lossSpec(report)) : '']);
    return { accuracy, forest: f, loss };
  } catch (err) {
    if (!(err instanceof OptionalDependencyError)) throw err;
    // The tables carry every number; only the pictures need the optional packages.
    return null;
  }
}

/** One example: the problem, what the student wrote (its steps), and whether its answer was right. */
function exampleHtml(arm: string, s: EvalReport['runs'][number]['arms'][number]['samples'][number]): string {
  const mark = s.correct === undefined ? '' : s.correct ? ' ✓ right' : ' ✗ wrong';
  const problem = s.question ? `<p><b>Problem.</b> ${escapeHtml(s.question)}</p>` : '<p><i>(this report was written before problem texts were recorded)</i></p>';
  return `<h3>${escapeHtml(arm)} on ${escapeHtml(s.problemId)}: answered ${escapeHtml(String(s.answer))}, gold ${escapeHtml(String(s.gold))}${mark}</h3>\n${problem}\n<p><b>The student wrote:</b></p><pre>${escapeHtml(s.text.trim() || '(nothing)')}</pre>`;
}

/** The HTML report. Without the optional chart packages it is complete except for the charts, and says so. */
export async function htmlReport(report: EvalReport): Promise<string> {
  const figures = await charts(report);
  const samples = report.runs[0]?.arms.flatMap((a) => a.samples.slice(0, 1).map((s) => exampleHtml(a.name, s))) ?? [];
  const notes = summaryNotes(report.summary);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(report.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}td:first-child,th:first-child{text-align:left}pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap}.note{background:#fff8e1;padding:.6em}.foot{font-size:.9em;color:#444}</style>
</head><body>
<h1>${escapeHtml(report.title)}</h1>
<p>Created ${escapeHtml(report.createdAt)}${report.machine ? ` on ${escapeHtml(report.machine)}` : ''}${report.backend ? `, backend ${escapeHtml(report.backend)}` : ''}.</p>
${tableHtml(markdownTable(report))}
${notes.map((n) => `<p class="foot">${escapeHtml(n)}</p>`).join('\n')}
<ul>${report.findings.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>
${figures ? `<figure>${figures.accuracy}</figure>\n${figures.loss ? `<figure>${figures.loss}</figure>` : ''}` : NO_CHARTS}
${analysisHtml(report, figures?.forest ?? '')}
<h2>Stages</h2>
${tableHtml(stagesTable(report.stages))}
<h2>Examples (first seed)</h2>
${samples.join('\n')}
<h2>Setup</h2><pre>${escapeHtml(JSON.stringify(report.setup, null, 2))}</pre>
</body></html>
`;
}
