import { parseArgs } from 'node:util';
import type { Problem } from '../../data/schema.js';
import { CliUsageError } from '../../errors.js';
import { IterativeStudent } from '../../students/iterative.js';
import { loadStudent } from '../../students/load.js';
import type { CliCommand } from '../command.js';
import { joinNegativeValues } from './data-flags.js';
import { backendFlag } from './student-flags.js';

const HELP = `usage: socratic-distill solve --student <dir> [--max-steps 8] [--json] [--backend auto] "problem text"

Solves one problem with a saved student. An Iterative student streams each subquestion and solution as it
is generated. --json prints the full solution as one JSON object instead.`;

export const command: CliCommand = {
  name: 'solve',
  summary: 'solve one problem with a saved student, streaming its steps',
  async run(argv) {
    let parsed;
    try {
      const options = { student: { type: 'string' }, 'max-steps': { type: 'string' }, json: { type: 'boolean' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
      parsed = parseArgs({ args: joinNegativeValues(argv, options), allowPositionals: true, strict: true, options });
    } catch (err) {
      throw new CliUsageError((err as Error).message.split('\n')[0]!);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (!values.student) throw new CliUsageError('--student <dir> is required');
    const text = positionals.join(' ').trim();
    if (!text) throw new CliUsageError('give the problem text as the last argument');
    const maxSteps = values['max-steps'] === undefined ? undefined : Number(values['max-steps']);
    if (maxSteps !== undefined && !(Number.isInteger(maxSteps) && maxSteps > 0)) throw new CliUsageError('--max-steps must be a positive integer');
    const student = await loadStudent(values.student, backendFlag(values.backend));
    const problem: Problem = { id: 'cli', dataset: 'custom', question: text, answer: '' };
    try {
      if (student instanceof IterativeStudent) {
        const run = student.solve(problem, { maxSteps });
        let next = await run.next();
        while (!next.done) {
          if (!values.json) process.stdout.write(`Q: ${next.value.subquestion}\nA: ${next.value.solution}\n`);
          next = await run.next();
        }
        const s = next.value;
        process.stdout.write(values.json ? `${JSON.stringify(s)}\n` : `#### ${s.answer ?? '(no answer)'}\n`);
      } else {
        const s = await student.solve(problem);
        process.stdout.write(values.json ? `${JSON.stringify(s)}\n` : `${s.text.trim()}\n${s.text.includes('####') ? '' : `#### ${s.answer ?? '(no answer)'}\n`}`);
      }
    } finally {
      student.dispose();
    }
    return 0;
  },
};
