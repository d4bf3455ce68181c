import type { EvalReport } from './report.js';
import { attributionTable, comparisonsTable, markdownTable, stagesTable } from './report.js';

type Spec = Record<string, unknown>;

/**
 * Render a vega-lite spec to an SVG string headless: compile to vega, then
 * View.toSVG() with renderer 'none', which needs no canvas or browser.
 */
export async function renderSvg(spec: Spec): Promise<string> {
  const vegaLite = await import('vega-lite');
  const vega = await import('vega');
  const compiled = vegaLite.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function accuracySpec(report: EvalReport): Spec {
  const values = report.runs.flatMap((r) => r.arms.flatMap((a) => [
    { student: a.name, reading: 'strict', seed: r.seed, accuracy: 100 * a.strict },
    { student: a.name, reading: 'flexible', seed: r.seed, accuracy: 100 * a.flexible },
  ]));
  const order = report.summary.map((a) => a.name);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Held-out accuracy (mean over seeds; points = single seeds)',
    data: { values },
    width: 360,
    height: 220,
    encoding: {
      x: { field: 'student', type: 'nominal', sort: order, axis: { labelAngle: -20, title: null } },
      xOffset: { field: 'reading' },
      color: { field: 'reading', type: 'nominal', title: 'answer reading' },
    },
    layer: [
      { mark: 'bar', encoding: { y: { aggregate: 'mean', field: 'accuracy', type: 'quantitative', title: 'accuracy (%)', scale: { domain: [0, 100] } } } },
      { mark: { type: 'point', filled: true, color: 'black', size: 18 }, encoding: { y: { field: 'accuracy', type: 'quantitative' } } },
    ],
  };
}

export function lossSpec(report: EvalReport): Spec {
  const values: Array<{ model: string; seed: number; step: number; loss: number }> = [];
  for (const run of report.runs) {
    for (const [model, losses] of Object.entries(run.losses)) {
      // Thin long curves so the SVG stays small; every 1/200th step is plenty for the shape.
      const stride = Math.max(1, Math.floor(losses.length / 200));
      losses.forEach((loss, i) => {
        if (i % stride === 0 && Number.isFinite(loss)) values.push({ model, seed: run.seed, step: i + 1, loss });
      });
    }
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Training loss per optimizer step',
    data: { values },
    width: 420,
    height: 240,
    mark: { type: 'line', strokeWidth: 1 },
    encoding: {
      x: { field: 'step', type: 'quantitative' },
      y: { field: 'loss', type: 'quantitative', scale: { type: 'log' } },
      color: { field: 'model', type: 'nominal' },
      detail: { field: 'seed', type: 'nominal' },
    },
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
  return parts.join('\n');
}

export async function htmlReport(report: EvalReport): Promise<string> {
  const [accuracy, loss] = await Promise.all([renderSvg(accuracySpec(report)), renderSvg(lossSpec(report))]);
  const samples = report.runs[0]?.arms.flatMap((a) => a.samples.slice(0, 1).map((s) => `<h3>${escapeHtml(a.name)} on ${escapeHtml(s.problemId)} (gold ${escapeHtml(String(s.gold))}, answered ${escapeHtml(String(s.answer))})</h3><pre>${escapeHtml(s.text)}</pre>`)) ?? [];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(report.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}td:first-child,th:first-child{text-align:left}pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap}</style>
</head><body>
<h1>${escapeHtml(report.title)}</h1>
<p>Created ${escapeHtml(report.createdAt)}${report.machine ? ` on ${escapeHtml(report.machine)}` : ''}${report.backend ? `, backend ${escapeHtml(report.backend)}` : ''}.</p>
${tableHtml(markdownTable(report))}
<ul>${report.findings.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>
<figure>${accuracy}</figure>
<figure>${loss}</figure>
${analysisHtml(report)}
<h2>Stages</h2>
${tableHtml(stagesTable(report.stages))}
<h2>Examples (first seed)</h2>
${samples.join('\n')}
<h2>Setup</h2><pre>${escapeHtml(JSON.stringify(report.setup, null, 2))}</pre>
</body></html>
`;
}
