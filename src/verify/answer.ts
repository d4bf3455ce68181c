import { parseNumber } from '../data/numbers.js';
import type { Answer, DatasetName } from '../data/schema.js';

export { parseNumber };

/**
 * Answer normalisation shared by the verifier, the students' decoders and the
 * evaluator, so that "1,000", "$1000.00" and "1000." all mean the same number.
 */
export type ExtractMode = 'strict' | 'flexible';

/** Numeric tolerance for answer matching (absolute, or relative for |gold| > 1). */
export const ANSWER_TOLERANCE = 1e-6;

const NUMBER_RE = /-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?%?/g;

/** Parse yes/no/true/false (any case, surrounding punctuation ignored). */
export function parseBoolean(text: string): boolean | null {
  const s = text.trim().toLowerCase().replace(/^[^a-z]+|[^a-z]+$/g, '');
  if (s === 'yes' || s === 'true') return true;
  if (s === 'no' || s === 'false') return false;
  return null;
}

function isBooleanDataset(dataset: DatasetName | undefined): boolean {
  return dataset === 'strategyqa';
}

/** All numbers in a text, in order (commas, `$`, `%` and trailing periods handled). */
export function findNumbers(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(NUMBER_RE)) {
    if (!/\d/.test(m[0])) continue;
    const n = parseNumber(m[0]);
    if (n !== null) out.push(n);
  }
  return out;
}

function lastBoolean(text: string): boolean | null {
  const matches = [...text.toLowerCase().matchAll(/\b(yes|no|true|false)\b/g)];
  const last = matches.at(-1);
  return last ? parseBoolean(last[1]!) : null;
}

/**
 * Pull the final answer out of generated text.
 * - `strict`: only a GSM8K-style `#### N` line (or `#### yes` for StrategyQA) counts.
 * - `flexible`: the `####` line if present, else `answer is X` / `Final answer: X`, else the last number (or yes/no).
 */
export function extractAnswer(text: string, dataset?: DatasetName, mode: ExtractMode = 'flexible'): Answer | null {
  const boolean = isBooleanDataset(dataset);
  const marked = /####\s*([^\n]*)/.exec(text);
  if (marked) {
    const v = boolean ? parseBoolean(marked[1]!) : parseNumber(marked[1]!.split(/\s+(?=[a-zA-Z])/)[0]!);
    if (v !== null || mode === 'strict') return v;
  } else if (mode === 'strict') {
    return null;
  }
  const stated = [...text.matchAll(/(?:final answer|answer is|answer:)\s*:?\s*([^\n]*)/gi)].at(-1);
  if (stated) {
    const v = boolean ? lastBoolean(stated[1]!) : (findNumbers(stated[1]!)[0] ?? null);
    if (v !== null) return v;
  }
  if (boolean) return lastBoolean(text);
  return findNumbers(text).at(-1) ?? null;
}

/** Coerce a stored answer (number, boolean or string) to the dataset's answer type. */
export function normalizeAnswer(value: Answer | null | undefined, dataset?: DatasetName): Answer | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean' || typeof value === 'number') return value;
  if (isBooleanDataset(dataset)) return parseBoolean(value);
  const n = parseNumber(value);
  if (n !== null) return n;
  const trimmed = value.trim();
  return trimmed.length > 0 ? trimmed.toLowerCase() : null;
}

/** True when two answers agree after normalisation (numbers within ANSWER_TOLERANCE). */
export function answersMatch(pred: Answer | null | undefined, gold: Answer | null | undefined, dataset?: DatasetName): boolean {
  const p = normalizeAnswer(pred, dataset);
  const g = normalizeAnswer(gold, dataset);
  if (p === null || g === null) return false;
  if (typeof p === 'number' && typeof g === 'number') {
    return Math.abs(p - g) <= ANSWER_TOLERANCE * Math.max(1, Math.abs(g));
  }
  if (typeof p === 'boolean' || typeof g === 'boolean') {
    const pb = typeof p === 'boolean' ? p : parseBoolean(String(p));
    const gb = typeof g === 'boolean' ? g : parseBoolean(String(g));
    return pb !== null && pb === gb;
  }
  return String(p) === String(g);
}
