import { SocraticChainSchema } from '../../data/schema.js';
import { DatasetFormatError } from '../../errors.js';
import { CliUsageError } from '../usage-error.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { readJsonl } from '../../io/jsonl.js';
import { ChainVerifier } from '../../verify/index.js';
import type { CliCommand } from '../command.js';
import { datasetFromArgs, intFlag, parseFlags, stringFlag } from './data-flags.js';

const HELP = `usage: socratic-distill verify --dataset gsm8k|svamp|strategyqa|synthetic|jsonl --data <path> --split train|test|all
         --chains chains.jsonl --out kept.jsonl [--rejected rejected.jsonl] [--check-arithmetic]
         [--mode flexible|strict] [--seed S] [--count N] [--task default|demo] [--json]

Keeps the chains whose final answer matches the dataset's gold answer (matched on problemId),
optionally also checking <<expr=value>> and "a op b = c" arithmetic. With --json prints
{ "total": n, "kept": n, "rejected": n, "reasons": { ... } } on stdout.`;

const FLAGS = {
  dataset: { type: 'string' }, data: { type: 'string' }, split: { type: 'string' }, chains: { type: 'string' },
  out: { type: 'string' }, rejected: { type: 'string' }, 'check-arithmetic': { type: 'boolean' }, mode: { type: 'string' },
  seed: { type: 'string' }, count: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, task: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

export const command: CliCommand = {
  name: 'verify',
  summary: 'keep teacher chains whose final answer matches the ground truth',
  async run(argv) {
    const v = parseFlags(argv, FLAGS);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const chainsPath = stringFlag(v, 'chains');
    const out = stringFlag(v, 'out');
    if (!chainsPath) throw new CliUsageError('--chains <chains.jsonl> is required');
    if (!out) throw new CliUsageError('--out <kept.jsonl> is required');
    const mode = stringFlag(v, 'mode') ?? 'flexible';
    if (mode !== 'flexible' && mode !== 'strict') throw new CliUsageError(`--mode must be flexible|strict, got '${mode}'`);
    const dataset = await datasetFromArgs({
      dataset: stringFlag(v, 'dataset'), data: stringFlag(v, 'data'), split: stringFlag(v, 'split'),
      seed: intFlag(v, 'seed') ?? 0, limit: intFlag(v, 'limit', 1), count: intFlag(v, 'count', 1), task: stringFlag(v, 'task'),
    });
    const read = await readJsonl(chainsPath, SocraticChainSchema);
    if (read.records.length === 0 && !read.truncatedTail) {
      throw new DatasetFormatError(chainsPath, undefined, 'no chains found (missing or empty file)');
    }
    const verifier = new ChainVerifier({ checkArithmetic: v['check-arithmetic'] === true, mode });
    const result = verifier.verifyAll(read.records, new Map(dataset.problems.map((p) => [p.id, p])));
    const lines = (cs: readonly unknown[]) => cs.map((c) => JSON.stringify(c)).join('\n') + (cs.length ? '\n' : '');
    await writeFileAtomic(out, lines(result.kept));
    const rejectedPath = stringFlag(v, 'rejected');
    if (rejectedPath) await writeFileAtomic(rejectedPath, lines(result.judged.filter((c) => !c.verdict!.kept)));
    const s = result.stats;
    if (v.json) {
      process.stdout.write(JSON.stringify({ total: s.total, kept: s.kept, rejected: s.rejected, reasons: s.reasons }) + '\n');
    } else {
      const reasons = Object.entries(s.reasons).sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r} ${n}`).join(', ');
      process.stdout.write(`kept ${s.kept}/${s.total} chains (${reasons}); wrote ${out}\n`);
      if (read.truncatedTail) process.stdout.write(`ignored a torn last line (line ${read.truncatedTail.line}) in ${chainsPath}\n`);
    }
    return 0;
  },
};
