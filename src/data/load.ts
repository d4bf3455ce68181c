import { DatasetFormatError, InvalidOptionError } from '../errors.js';
import { SocraticDataset, type Split } from './dataset.js';
import type { SyntheticOptions } from './synthetic.js';

export const DATASET_CHOICES = ['gsm8k', 'svamp', 'strategyqa', 'synthetic', 'jsonl', 'json'] as const;

/**
 * Named settings of the synthetic task. `default` is generateSynthetic's (2-4 operations, operands up to 20,
 * results up to 100); `demo` is the smaller task `runDemo` and the README's walkthrough train on (2-3 operations,
 * operands up to 9, factors up to 3, results up to 30), on which a small student learns most problems in
 * minutes. `demo` problems are numbered `synthetic-demo-<seed>-<i>`, so chains of one task never match the other's.
 */
export const SYNTHETIC_TASKS = {
  default: {},
  demo: { minSteps: 2, maxSteps: 3, maxOperand: 9, maxFactor: 3, maxResult: 30 },
} as const satisfies Record<string, Partial<SyntheticOptions>>;
export type SyntheticTask = keyof typeof SYNTHETIC_TASKS;
export type DatasetChoice = (typeof DATASET_CHOICES)[number];

/** A dataset named by plain values (as a command line or a config file gives them), checked here. */
export interface DatasetSelection {
  dataset: string | undefined;
  /** Path of the dataset's files; needed by every dataset but `synthetic`. */
  data: string | undefined;
  split: string | undefined;
  seed: number;
  limit: number | undefined;
  /** Synthetic only: how many problems (default: limit, else 1000). */
  count: number | undefined;
  /** Synthetic only: which task (SYNTHETIC_TASKS); default `default`. */
  task?: string | undefined;
}

/**
 * Load the dataset a selection names. Bad values and combinations throw InvalidOptionError naming the
 * option (`dataset`, `split`, `limit`, `count`, `data`); an empty split throws DatasetFormatError.
 */
export async function loadDatasetSelection(a: DatasetSelection): Promise<SocraticDataset> {
  if (!a.dataset || !(DATASET_CHOICES as readonly string[]).includes(a.dataset)) {
    throw new InvalidOptionError('dataset', `must be one of ${DATASET_CHOICES.join('|')}${a.dataset ? `, got '${a.dataset}'` : ''}`);
  }
  const split = (a.split ?? 'train') as Split;
  if (!['train', 'test', 'all'].includes(split)) throw new InvalidOptionError('split', `must be train|test|all, got '${a.split}'`);
  if (a.limit !== undefined && a.limit < 1) throw new InvalidOptionError('limit', `must be at least 1, got ${a.limit}`);
  if (a.dataset === 'synthetic') {
    const count = a.count ?? a.limit ?? 1000;
    if (count < 1) throw new InvalidOptionError('count', `must be at least 1, got ${count}`);
    const task = a.task ?? 'default';
    if (!(task in SYNTHETIC_TASKS)) throw new InvalidOptionError('task', `must be ${Object.keys(SYNTHETIC_TASKS).join('|')}, got '${task}'`);
    const d = SocraticDataset.synthetic({ ...SYNTHETIC_TASKS[task as SyntheticTask], count, seed: a.seed });
    const problems = task === 'default' ? d.problems : d.problems.map((p) => ({ ...p, id: p.id.replace(/^synthetic-/, `synthetic-${task}-`) }));
    const limited = a.limit !== undefined && a.limit < problems.length ? problems.slice(0, a.limit) : problems;
    return limited === d.problems ? d : SocraticDataset.fromProblems('synthetic', limited);
  }
  if (a.task !== undefined) throw new InvalidOptionError('task', `applies to dataset 'synthetic' only, not '${a.dataset}'`);
  if (!a.data) throw new InvalidOptionError('data', `(the path of the dataset's files) is required for dataset '${a.dataset}'`);
  const loaded = await SocraticDataset.load({
    dataset: a.dataset as Exclude<DatasetChoice, 'synthetic'>,
    path: a.data,
    split,
    seed: a.seed,
    ...(a.limit === undefined ? {} : { limit: a.limit }),
  });
  // Every command needs problems; going on with none would write empty files and look like success.
  if (loaded.size === 0) throw new DatasetFormatError(a.data, undefined, `no problems in the ${split} split (empty file, or no rows for this split)`);
  return loaded;
}
