import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { htmlReport } from './html.js';
import { markdownReport, type EvalReport } from './report.js';

/** Write report.json, report.md and report.html into `dir`; returns their paths. */
export async function writeReport(dir: string, report: EvalReport): Promise<{ json: string; markdown: string; html: string }> {
  const paths = { json: join(dir, 'report.json'), markdown: join(dir, 'report.md'), html: join(dir, 'report.html') };
  await writeFileAtomic(paths.json, JSON.stringify(report, null, 2));
  await writeFileAtomic(paths.markdown, markdownReport(report));
  await writeFileAtomic(paths.html, await htmlReport(report));
  return paths;
}
