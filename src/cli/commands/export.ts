import { SocraticChainSchema } from '../../data/schema.js';
import { CliUsageError } from '../usage-error.js';
import { buildPairs, FORMAT_MODES, type FormatMode } from '../../format/pairs.js';
import { writeTrlJsonl } from '../../format/trl.js';
import { readJsonl } from '../../io/jsonl.js';
import type { CliCommand } from '../command.js';
import { datasetFromArgs, intFlag, parseFlags, stringFlag } from './data-flags.js';

const HELP = `usage: socratic-distill export --format trl --mode answer-only|cot|unified|qg|qa --chains kept.jsonl --out train.jsonl
         --dataset gsm8k|svamp|strategyqa|synthetic|jsonl --data <path> [--split train] [--seed S] [--count N]
         [--task default|demo] [--keep-calculator-notes]

Writes the training pairs our trainer uses as TRL prompt/completion JSONL ({"prompt","completion"} per line),
so bigger students can be trained with TRL/accelerate and loaded back with GPT2.load. The problems file is
needed because chains refer to problems by id.`;

const FLAGS = {
  format: { type: 'string' }, mode: { type: 'string' }, chains: { type: 'string' }, out: { type: 'string' },
  dataset: { type: 'string' }, data: { type: 'string' }, split: { type: 'string' }, seed: { type: 'string' }, count: { type: 'string' },
  limit: { type: 'string' }, 'keep-calculator-notes': { type: 'boolean' }, task: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

export const command: CliCommand = {
  name: 'export',
  summary: 'write training pairs as TRL prompt/completion JSONL',
  async run(argv) {
    const v = parseFlags(argv, FLAGS);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const format = stringFlag(v, 'format') ?? 'trl';
    if (format !== 'trl') throw new CliUsageError(`--format must be trl, got '${format}'`);
    const mode = stringFlag(v, 'mode');
    if (!mode || !(FORMAT_MODES as readonly string[]).includes(mode)) throw new CliUsageError(`--mode must be one of ${FORMAT_MODES.join('|')}`);
    const chainsPath = stringFlag(v, 'chains');
    const out = stringFlag(v, 'out');
    if (!chainsPath) throw new CliUsageError('--chains <kept.jsonl> is required');
    if (!out) throw new CliUsageError('--out <train.jsonl> is required');
    const dataset = await datasetFromArgs({
      dataset: stringFlag(v, 'dataset'), data: stringFlag(v, 'data'), split: stringFlag(v, 'split'),
      seed: intFlag(v, 'seed') ?? 0, count: intFlag(v, 'count', 1), limit: intFlag(v, 'limit', 1), task: stringFlag(v, 'task'),
    });
    const chains = (await readJsonl(chainsPath, SocraticChainSchema)).records;
    const pairs = buildPairs(mode as FormatMode, dataset.problems, chains, { keepCalculatorNotes: v['keep-calculator-notes'] === true });
    await writeTrlJsonl(out, pairs);
    process.stdout.write(`wrote ${pairs.length} ${mode} pairs from ${chains.length} chains to ${out}\n`);
    return 0;
  },
};
