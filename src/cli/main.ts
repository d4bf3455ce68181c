import { DatasetFormatError, SocraticDistillError } from '../errors.js';
import type { CliCommand } from './command.js';

/**
 * Subcommands are loaded lazily so that `socratic-distill verify` never pays
 * for loading tfjs or the native addon. Each lives in ./commands/<name>.ts.
 */
const COMMANDS: Record<string, () => Promise<{ command: CliCommand }>> = {
  // Registered by each feature area; keep alphabetical.
  'build-cuda': () => import('./commands/build-cuda.js'),
  demo: () => import('./commands/demo.js'),
  eval: () => import('./commands/eval.js'),
  export: () => import('./commands/export.js'),
  generate: () => import('./commands/generate.js'),
  report: () => import('./commands/report.js'),
  reproduce: () => import('./commands/reproduce.js'),
  solve: () => import('./commands/solve.js'),
  train: () => import('./commands/train.js'),
  verify: () => import('./commands/verify.js'),
};

function usage(): string {
  const names = Object.keys(COMMANDS).sort();
  return [
    'usage: socratic-distill <command> [options]',
    '',
    'commands:',
    ...names.map((n) => `  ${n}`),
    '',
    'Run `socratic-distill <command> --help` for the options of one command. Add --debug for stack traces.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 1;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`socratic-distill: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  const debug = rest.includes('--debug');
  try {
    const { command } = await load();
    return await command.run(rest.filter((a) => a !== '--debug'));
  } catch (err) {
    if (debug) {
      process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    } else {
      const msg = err instanceof Error ? err.message : String(err);
      const tag = err instanceof SocraticDistillError ? ` [${err.code}]` : '';
      const [first, ...rest] = msg.split('\n');
      // A data file's bad rows are listed one per line below the summary, so all of them can be fixed at once.
      const listed = err instanceof DatasetFormatError && err.badRows > 1 ? rest.map((l) => `${l}\n`).join('') : '';
      process.stderr.write(`socratic-distill ${name}: ${first}${tag}\n${listed}`);
    }
    return 1;
  }
}
