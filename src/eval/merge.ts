import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { DatasetFormatError } from '../errors.js';
import { compareRuns, type EvalReport } from './report.js';

/** Enough of report.json to merge it; the rest is carried as written. */
const ReportFileSchema = z
  .object({
    title: z.string(),
    setup: z.record(z.unknown()),
    runs: z.array(z.object({ seed: z.number().int(), arms: z.array(z.object({ name: z.string() }).passthrough()) }).passthrough()).min(1),
    comparisons: z.array(z.unknown()),
    findings: z.array(z.string()),
    stages: z.array(z.object({ name: z.string(), seconds: z.number() })),
  })
  .passthrough();

export async function readReport(dir: string): Promise<EvalReport> {
  const file = join(dir, 'report.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new DatasetFormatError(file, undefined, `not a readable report.json (${(err as Error).message})`, undefined, { cause: err });
  }
  const r = ReportFileSchema.safeParse(json);
  if (!r.success) throw new DatasetFormatError(file, undefined, `not a report written by writeReport: ${r.error.issues[0]?.message}`, r.error.issues[0]?.path.join('.'));
  return r.data as unknown as EvalReport;
}

/**
 * One report from runs made apart (one process or machine per seed): the runs are joined and the
 * summary, paired comparisons and findings recomputed over all seeds. The reports must describe the
 * same setup apart from their seeds, and no seed may appear twice.
 */
export function mergeReports(reports: readonly EvalReport[]): EvalReport {
  if (reports.length === 0) throw new RangeError('mergeReports needs at least one report');
  const [first] = reports as [EvalReport, ...EvalReport[]];
  const setupKey = (r: EvalReport) => JSON.stringify({ ...r.setup, seeds: undefined });
  const mismatch = reports.findIndex((r) => setupKey(r) !== setupKey(first));
  if (mismatch >= 0) throw new RangeError(`report ${mismatch} has another setup than report 0 (data, model, budget or arms differ); only seeds may differ`);
  const runs = reports.flatMap((r) => r.runs).sort((a, b) => a.seed - b.seed);
  const seeds = runs.map((r) => r.seed);
  const twice = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (twice !== undefined) throw new RangeError(`seed ${twice} appears in more than one report`);
  const { summary, comparisons, findings, subsets } = compareRuns(runs);
  // A demo report's findings are [ordering, ...one per comparison, ...facts about the data]; keep the facts.
  const facts = first.findings.slice(1 + first.comparisons.length);
  return {
    ...first,
    createdAt: new Date().toISOString(),
    setup: { ...first.setup, seeds },
    runs,
    summary,
    comparisons,
    stages: reports.flatMap((r) => r.stages),
    findings: [...findings, ...facts],
    subsets,
  };
}
