/**
 * Where a merged report's seed variance comes from (issue #23, item 4): per arm and seed, the final training loss
 * (mean of the last `--last` logged steps, default 100) beside the flexible accuracy on the first test subset, and
 * their Pearson correlation over seeds. Every seed of a demo shares the data and the held-out split, so what differs
 * between seeds is the initialisation and the batch order; a negative correlation means the weak seeds are the ones
 * that fit their training chains worst (under-fitting), a positive one that they fit them best (over-fitting).
 *
 *   npx tsx scripts/loss-vs-accuracy.ts runs/depth-merged [--last 100]
 */
import { parseArgs } from 'node:util';
import { readReport } from '../src/eval/merge.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { last: { type: 'string', default: '100' } } });
if (!positionals[0]) throw new Error('usage: loss-vs-accuracy.ts <merged report dir> [--last N]');
const report = await readReport(positionals[0]);
const last = Number(values.last);
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function pearson(x: readonly number[], y: readonly number[]): number {
  const [mx, my] = [mean(x), mean(y)];
  let [sxy, sxx, syy] = [0, 0, 0];
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

const runs = [...report.runs].sort((a, b) => a.seed - b.seed);
const arms = [...new Set(runs.flatMap((r) => Object.keys(r.losses)))];
console.log(`| Student | seed: accuracy % / final training loss (mean of the last ${last} steps) | Pearson r (loss, accuracy) |`);
console.log('|---|---|---:|');
for (const arm of arms) {
  const rows = runs.flatMap((r) => {
    const losses = r.losses[arm];
    const acc = r.arms.find((a) => a.name === arm)?.flexible;
    return losses && acc !== undefined ? [{ seed: r.seed, acc: 100 * acc, loss: mean(losses.slice(-last)) }] : [];
  });
  if (rows.length < 3) continue;
  const cells = rows.map((r) => `${r.seed}: ${r.acc.toFixed(1)} / ${r.loss.toFixed(4)}`).join(', ');
  console.log(`| ${arm} | ${cells} | ${pearson(rows.map((r) => r.loss), rows.map((r) => r.acc)).toFixed(2)} |`);
}
