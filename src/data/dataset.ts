import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DatasetFormatError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { gsm8kProblem, Gsm8kRowSchema } from './gsm8k.js';
import { parseJsonArray, parseJsonLines, readTextFile, type SourceRow } from './read.js';
import { RowPolicy, type OnInvalid } from './rows.js';
import { ProblemSchema, type DatasetName, type Problem } from './schema.js';
import { strategyQaProblem, StrategyQaRowSchema } from './strategyqa.js';
import { svampProblem, SvampRowSchema } from './svamp.js';
import { generateSynthetic, type SyntheticOptions } from './synthetic.js';

export type Split = 'train' | 'test' | 'all';
/** `jsonl`/`json` load a user's own problems (ProblemSchema rows; `dataset` defaults to `custom`). */
export type DatasetFormat = Exclude<DatasetName, 'synthetic' | 'custom'> | 'jsonl' | 'json';

export interface LoadDatasetOptions {
  dataset: DatasetFormat;
  /** A dataset directory (as in shared/data/<name>) or one file. Always given by the caller. */
  path: string;
  /** Default `train`. GSM8K uses its given files; others a seeded 70/30 split (SVAMP 700/300, StrategyQA 1603/687). */
  split?: Split;
  /** Seed of the 70/30 split. Default 0. */
  seed?: number;
  /** GSM8K only: `socratic` (default, gold steps) or `main`. */
  variant?: 'socratic' | 'main';
  onInvalid?: OnInvalid;
  /** Keep only the first N problems of the split. */
  limit?: number;
}

/** Share of the labelled pool that goes to train in the seeded splits. */
export const TRAIN_FRACTION = 0.7;

function isDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/** First existing file among candidates in dir (plain or .gz). */
function findFile(dir: string, names: readonly string[]): string {
  for (const n of names) for (const f of [n, `${n}.gz`]) if (existsSync(join(dir, f))) return join(dir, f);
  throw new DatasetFormatError(dir, undefined, `none of ${names.join(', ')} (or .gz) found in this directory`);
}

async function rowsOf(file: string, policy: RowPolicy): Promise<SourceRow[]> {
  const text = await readTextFile(file);
  return text.trimStart().startsWith('[') ? parseJsonArray(text, file) : parseJsonLines(text, file, policy.badLines);
}

/** Deterministic 70/30 split: order by id, shuffle with the seed, cut. */
export function seededSplit<T extends { id: string }>(items: readonly T[], split: Split, seed: number): T[] {
  if (split === 'all') return [...items];
  const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  new Rng(seed).shuffle(sorted);
  const cut = Math.round(sorted.length * TRAIN_FRACTION);
  return split === 'train' ? sorted.slice(0, cut) : sorted.slice(cut);
}

function checkUnique(problems: readonly Problem[], where: string): void {
  const seen = new Set<string>();
  for (const p of problems) {
    if (seen.has(p.id)) throw new DatasetFormatError(where, undefined, `duplicate problem id '${p.id}'`, 'id');
    seen.add(p.id);
  }
}

async function loadGsm8k(o: LoadDatasetOptions, policy: RowPolicy): Promise<Problem[]> {
  const variant = o.variant ?? 'socratic';
  const splits: ('train' | 'test')[] = o.split === 'all' ? ['train', 'test'] : [o.split === 'test' ? 'test' : 'train'];
  const out: Problem[] = [];
  for (const split of splits) {
    const file = isDir(o.path)
      ? findFile(o.path, variant === 'socratic' ? [`${split}_socratic.jsonl`, `${split}.jsonl`] : [`${split}.jsonl`])
      : o.path;
    const label = isDir(o.path) ? split : basename(file).startsWith('test') ? 'test' : 'train';
    const rows = await rowsOf(file, policy);
    out.push(...policy.convert(file, rows, Gsm8kRowSchema, (raw, row) => gsm8kProblem(raw, `gsm8k-${label}-${rows.indexOf(row)}`, file, row.line)));
  }
  return out;
}

async function loadOthers(o: LoadDatasetOptions, policy: RowPolicy): Promise<Problem[]> {
  const files = !isDir(o.path)
    ? [o.path]
    : o.dataset === 'svamp'
      ? [findFile(o.path, ['SVAMP.json', 'svamp.json'])]
      : o.dataset === 'strategyqa'
        ? [findFile(o.path, ['train.json']), findFile(o.path, ['dev.json'])]
        : [findFile(o.path, ['problems.jsonl', 'problems.json'])];
  const all: Problem[] = [];
  for (const file of files) {
    const rows = await rowsOf(file, policy);
    if (o.dataset === 'svamp') all.push(...policy.convert(file, rows, SvampRowSchema, (raw, row) => svampProblem(raw, file, row.line)));
    else if (o.dataset === 'strategyqa') all.push(...policy.convert(file, rows, StrategyQaRowSchema, (raw) => strategyQaProblem(raw)));
    else {
      const schema = ProblemSchema.extend({ dataset: ProblemSchema.shape.dataset.default('custom') });
      all.push(...policy.convert(file, rows, schema, (raw) => raw as Problem));
    }
  }
  checkUnique(all, files.join(' + '));
  return all;
}

/**
 * A loaded, validated and split dataset. Bad rows either throw a
 * DatasetFormatError (file:line: field: why) or, with `onInvalid: 'skip'`,
 * are counted in `skipped` with their errors in `invalid` — never dropped silently.
 */
export class SocraticDataset implements Iterable<Problem> {
  private readonly byId: Map<string, Problem>;

  private constructor(
    readonly name: DatasetName,
    readonly split: Split,
    readonly problems: readonly Problem[],
    readonly invalid: readonly DatasetFormatError[] = [],
  ) {
    this.byId = new Map(problems.map((p) => [p.id, p]));
  }

  static async load(options: LoadDatasetOptions): Promise<SocraticDataset> {
    const policy = new RowPolicy(options.onInvalid ?? 'error');
    const split = options.split ?? 'train';
    let problems: Problem[];
    if (options.dataset === 'gsm8k') {
      problems = await loadGsm8k({ ...options, split }, policy);
    } else {
      const all = await loadOthers(options, policy);
      const custom = options.dataset === 'jsonl' || options.dataset === 'json';
      problems = seededSplit(all, options.split ?? (custom ? 'all' : 'train'), options.seed ?? 0);
    }
    if (options.limit !== undefined) problems = problems.slice(0, options.limit);
    const name: DatasetName = options.dataset === 'jsonl' || options.dataset === 'json' ? 'custom' : options.dataset;
    return new SocraticDataset(name, split, problems, policy.skipped);
  }

  /** The embedded synthetic task (no files needed). */
  static synthetic(options: SyntheticOptions): SocraticDataset {
    return new SocraticDataset('synthetic', 'all', generateSynthetic(options));
  }

  /** Wrap problems you already have (ids must be unique). */
  static fromProblems(name: DatasetName, problems: readonly Problem[]): SocraticDataset {
    checkUnique(problems, `${name} problems`);
    return new SocraticDataset(name, 'all', problems.map((p) => ProblemSchema.parse(p)));
  }

  get size(): number {
    return this.problems.length;
  }
  /** Number of rows skipped under `onInvalid: 'skip'`. */
  get skipped(): number {
    return this.invalid.length;
  }
  get(id: string): Problem | undefined {
    return this.byId.get(id);
  }
  [Symbol.iterator](): Iterator<Problem> {
    return this.problems[Symbol.iterator]();
  }
}
