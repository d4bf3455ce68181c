import { parseArgs } from 'node:util';
import { CliUsageError } from '../usage-error.js';
import { loadStudent } from '../../students/load.js';
import { solveStreaming, userProblem } from '../../students/stream.js';
import type { CliCommand } from '../command.js';
import { joinNegativeValues } from './data-flags.js';
import { backendFlag, baseFlagHint } from './student-flags.js';

const HELP = `usage: socratic-distill solve --student <dir> [--max-steps 8] [--calculator] [--json] [--base <dir>] [--backend auto] "problem text"

Solves one problem with a saved student. Iterative and Unified students stream each subquestion and solution
as it is generated. --json prints the full solution as one JSON object instead. --calculator writes the result
of every "a op b =" the student writes (the safe parser, never eval). A student that starts looping (a step
again word for word, or one word over and over) is stopped there, and solve says so. A LoRA student (train --lora)
loads its base from where its student.json says (or its copy in <student>/base); --base <dir> points at a base that moved.`;

export const command: CliCommand = {
  name: 'solve',
  summary: 'solve one problem with a saved student, streaming its steps',
  async run(argv) {
    let parsed;
    try {
      const options = { student: { type: 'string' }, 'max-steps': { type: 'string' }, json: { type: 'boolean' }, calculator: { type: 'boolean' }, backend: { type: 'string' }, base: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
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
    const student = await loadStudent(values.student, backendFlag(values.backend), values.base !== undefined ? { base: values.base } : {}).catch((err: unknown) => {
      throw baseFlagHint(err, values.base);
    });
    const problem = userProblem(text, { id: 'cli', dataset: 'custom' });
    try {
      let streamed = false;
      for await (const event of solveStreaming(student, problem, { maxSteps, calculator: values.calculator === true })) {
        if (values.json) {
          if (event.type === 'done') process.stdout.write(`${JSON.stringify(event.solution)}\n`);
        } else if (event.type === 'step') {
          streamed = true;
          process.stdout.write(`Q: ${event.step.subquestion}\nA: ${event.step.solution}\n`);
        } else {
          // Students that write no steps (CoT, answer-only) show their whole text instead.
          const s = event.solution;
          const body = streamed || !s.text.trim() ? '' : `${s.text.trim()}\n`;
          process.stdout.write(`${body}${!streamed && s.text.includes('####') ? '' : `#### ${s.answer ?? '(no answer)'}\n`}`);
          if (s.stoppedBy === 'repetition') {
            process.stdout.write('(stopped: the student began repeating itself, so the rest was not generated; an undertrained student does this: train it longer, see the README)\n');
          }
        }
      }
    } finally {
      student.dispose();
    }
    return 0;
  },
};
