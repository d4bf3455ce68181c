/**
 * Pair two reports of the same setup but one change (e.g. the recipe before and after a fix), arm by arm
 * and seed by seed (issue #23, docs/results.md):
 *
 *   npx tsx scripts/paired-reports.ts runs/before/merged runs/after/merged [--subset NAME]
 *
 * Prints each arm's mean ± sd over seeds in both, and after − before with a paired 95% CI (Student t).
 */
import { parseArgs } from 'node:util';
import { readReport } from '../src/eval/merge.js';
import { meanAndStd } from '../src/eval/metrics.js';
import type { EvalReport } from '../src/eval/report.js';
import { pairedComparison } from '../src/eval/stats.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { subset: { type: 'string' } } });
const [beforeDir, afterDir] = positionals;
if (!beforeDir || !afterDir) throw new Error('usage: paired-reports.ts <before report dir> <after report dir> [--subset NAME]');
const [before, after] = await Promise.all([readReport(beforeDir), readReport(afterDir)]);

/** Flexible accuracy by arm, then by seed. */
function bySeed(r: EvalReport): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const run of r.runs) {
    const arms = values.subset ? run.subsets?.find((s) => s.name === values.subset)?.arms ?? [] : run.arms;
    for (const a of arms) out.set(a.name, (out.get(a.name) ?? new Map()).set(run.seed, a.flexible));
  }
  return out;
}

const pct = (x: number): string => (100 * x).toFixed(1);
const signed = (x: number): string => `${x >= 0 ? '+' : ''}${pct(x)}`;
const b = bySeed(before);
const a = bySeed(after);
console.log('| Student | seeds | before % (mean ± sd) | after % (mean ± sd) | sd after / before | after − before (points) | 95% CI | verdict |');
console.log('|---|---:|---:|---:|---:|---:|---|---|');
for (const [name, afterSeeds] of a) {
  const beforeSeeds = b.get(name);
  if (!beforeSeeds) continue;
  const c = pairedComparison({ name: `${name} after`, bySeed: afterSeeds }, { name: `${name} before`, bySeed: beforeSeeds });
  const x = meanAndStd(c.seeds.map((s) => beforeSeeds.get(s)!));
  const y = meanAndStd(c.seeds.map((s) => afterSeeds.get(s)!));
  const ci = c.ci ? `${signed(c.ci[0])} to ${signed(c.ci[1])}` : '–';
  console.log(`| ${name} | ${c.seeds.length} | ${pct(x.mean)} ± ${pct(x.std)} | ${pct(y.mean)} ± ${pct(y.std)} | ${(y.std / x.std).toFixed(2)} | ${signed(c.mean)} | ${ci} | ${c.verdict} |`);
}
