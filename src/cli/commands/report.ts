import { resolve } from 'node:path';
import { CliUsageError } from '../usage-error.js';
import { mergeReports, readReport } from '../../eval/merge.js';
import { attributionTable, comparisonsTable, markdownTable, subsetsSection } from '../../eval/report.js';
import { writeReport } from '../../eval/write.js';
import type { CliCommand } from '../command.js';
import { parseFlags, stringFlag } from './data-flags.js';
import { listFlag } from './student-flags.js';

const HELP = `usage: socratic-distill report --merge <dir> --merge <dir> [...] --out <dir>

Joins demo or eval reports that ran apart (one process or machine per seed) into one report over all
their seeds: the summary, the paired per-seed comparisons (95% CIs) and the findings are recomputed.
The reports must share their setup apart from the seeds, and no seed may appear twice.`;

const FLAGS = { merge: { type: 'string', multiple: true }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

export const command: CliCommand = {
  name: 'report',
  summary: 'merge reports of runs made apart (one per seed) into one',
  async run(argv) {
    const v = parseFlags(argv, FLAGS);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const dirs = listFlag(v, 'merge');
    const out = stringFlag(v, 'out');
    if (dirs.length === 0 || !out) throw new CliUsageError('report needs --merge <dir> (one or more) and --out <dir>');
    const merged = mergeReports(await Promise.all(dirs.map((d) => readReport(resolve(d)))));
    const paths = await writeReport(resolve(out), merged);
    const attribution = attributionTable(merged.summary);
    process.stdout.write(`${markdownTable(merged)}\n\n${merged.findings.join('\n')}\n`);
    if (attribution) process.stdout.write(`\n${attribution}\n`);
    process.stdout.write(`\n${comparisonsTable(merged.comparisons)}\n`);
    if (merged.subsets) process.stdout.write(`\n${subsetsSection(merged.subsets).join('\n')}`);
    process.stdout.write(`\nreports: ${paths.html}, ${paths.json}, ${paths.markdown}\n`);
    return 0;
  },
};
