import { DatasetFormatError, InvalidOptionError } from '../errors.js';
import { SocraticDataset, type Split } from './dataset.js';

export const DATASET_CHOICES = ['gsm8k', 'svamp', 'strategyqa', 'synthetic', 'jsonl', 'json'] as const;
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
    const d = SocraticDataset.synthetic({ count, seed: a.seed });
    return a.limit !== undefined && a.limit < d.size ? SocraticDataset.fromProblems('synthetic', d.problems.slice(0, a.limit)) : d;
  }
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
