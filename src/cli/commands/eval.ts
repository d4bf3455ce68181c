import { basename, isAbsolute, relative, resolve } from 'node:path';
import { CliUsageError } from '../usage-error.js';
import { evaluateStudents } from '../../eval/evaluator.js';
import { majorityClassBaseline } from '../../eval/metrics.js';
import { armComparisons, markdownTable, orderingFinding, summarize, type EvalReport } from '../../eval/report.js';
import { writeReport } from '../../eval/write.js';
import { loadStudent, type Student } from '../../students/load.js';
import type { CliCommand } from '../command.js';
import { datasetFromArgs, intFlag, parseFlags, stringFlag } from './data-flags.js';
import { backendFlag, baseFlagHint, listFlag } from './student-flags.js';

const HELP = `usage: socratic-distill eval --student <dir> [--student <dir> ...] --dataset gsm8k|svamp|strategyqa|synthetic|jsonl
         [--data <path>] [--split test] [--limit N] [--count N] [--seed S] [--task default|demo] [--max-steps 8] [--self-consistency K]
         [--calculator] [--out ./eval-output] [--base <dir>] [--backend auto]

Evaluates every student on the same problems: strict and flexible accuracy per dataset, mean steps and how
often the Iterative QG hit --max-steps. Prints a Markdown table and writes report.json/.md/.html to --out.
--calculator decodes with the safe calculator writing every "a op b =" result (arithmetic slips removed).
LoRA students (train --lora) load their base from where their student.json says; --base <dir> points every LoRA
student at a base that moved.`;

const FLAGS = {
  student: { type: 'string', multiple: true }, dataset: { type: 'string' }, data: { type: 'string' }, split: { type: 'string' },
  limit: { type: 'string' }, count: { type: 'string' }, seed: { type: 'string' }, 'max-steps': { type: 'string' },
  'self-consistency': { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' }, base: { type: 'string' }, task: { type: 'string' }, calculator: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

/** Reports get shared: name a student by its path from the working directory, never by the machine's absolute path. */
function shownPath(dir: string): string {
  const rel = relative(process.cwd(), resolve(dir));
  return rel === '' ? basename(resolve(dir)) : rel.startsWith('..') || isAbsolute(rel) ? basename(resolve(dir)) : rel;
}

export const command: CliCommand = {
  name: 'eval',
  summary: 'evaluate saved students on the same problems and write a report',
  async run(argv) {
    const v = parseFlags(argv, FLAGS);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const dirs = listFlag(v, 'student');
    if (dirs.length === 0) throw new CliUsageError('at least one --student <dir> is required');
    const started = performance.now();
    const dataset = await datasetFromArgs({
      dataset: stringFlag(v, 'dataset'), data: stringFlag(v, 'data'), split: stringFlag(v, 'split') ?? 'test',
      seed: intFlag(v, 'seed') ?? 0, limit: intFlag(v, 'limit', 1), count: intFlag(v, 'count', 1), task: stringFlag(v, 'task'),
    });
    const backend = backendFlag(stringFlag(v, 'backend'));
    const arms: Array<{ name: string; solver: Student }> = [];
    const base = stringFlag(v, 'base');
    for (const dir of dirs) {
      const solver = await loadStudent(dir, backend, base !== undefined ? { base } : {}).catch((err: unknown) => {
        for (const a of arms) a.solver.dispose();
        throw baseFlagHint(err, base);
      });
      arms.push({ name: shownPath(dir), solver });
    }
    const k = intFlag(v, 'self-consistency', 1) ?? 1;
    const problems = [...dataset.problems];
    const calculator = v.calculator === true;
    const results = await evaluateStudents(arms, problems, { maxSteps: intFlag(v, 'max-steps', 1), selfConsistency: k > 1 ? { k } : undefined, ...(calculator ? { calculator } : {}) });
    const runs = [{ seed: intFlag(v, 'seed') ?? 0, arms: results, losses: {} }];
    const summary = summarize(runs);
    const comparisons = armComparisons(runs, summary);
    const report: EvalReport = {
      title: 'socratic-distill evaluation',
      createdAt: new Date().toISOString(),
      setup: { dataset: dataset.name, problems: problems.length, students: dirs.map(shownPath), selfConsistency: k, calculator },
      runs, summary, comparisons,
      baselines: problems.some((p) => p.dataset === 'strategyqa') ? [{ name: 'Majority class (test split)', dataset: 'strategyqa', accuracy: majorityClassBaseline(problems, problems, 'strategyqa').accuracy }] : [],
      stages: [{ name: 'evaluate', seconds: (performance.now() - started) / 1000 }],
      findings: summary.length >= 3 ? [orderingFinding(summary, comparisons)] : [],
    };
    const paths = await writeReport(resolve(stringFlag(v, 'out') ?? './eval-output'), report);
    process.stdout.write(`${markdownTable(report)}\n\nreports: ${paths.html}, ${paths.json}\n`);
    for (const a of arms) a.solver.dispose();
    return 0;
  },
};
