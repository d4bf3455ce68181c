import type { StudentKind } from '../students/common.js';
import type { ArmResult } from './evaluator.js';
import { meanAndStd } from './metrics.js';

/** One seed's results: every arm evaluated, plus its training curves. */
export interface RunResult {
  seed: number;
  arms: ArmResult[];
  /** Training loss per optimizer step, by arm name (Iterative: `name/qg`, `name/qa`). */
  losses: Record<string, number[]>;
}

export interface ArmSummary {
  name: string;
  kind: StudentKind;
  seeds: number;
  strict: { mean: number; std: number; values: number[] };
  flexible: { mean: number; std: number; values: number[] };
  meanSteps: number;
  capRate: number;
}

export interface Stage {
  name: string;
  seconds: number;
}

export interface EvalReport {
  title: string;
  createdAt: string;
  machine?: string;
  backend?: string;
  /** Free-form facts about the setup (data sizes, model size, budget, verifier stats). */
  setup: Record<string, unknown>;
  runs: RunResult[];
  summary: ArmSummary[];
  baselines: Array<{ name: string; dataset: string; accuracy: number }>;
  stages: Stage[];
  /** Plain-language findings, e.g. whether the paper's ordering held. */
  findings: string[];
}

/** Mean and sample standard deviation of every arm across seeds, in first-seen arm order. */
export function summarize(runs: readonly RunResult[]): ArmSummary[] {
  const names = [...new Set(runs.flatMap((r) => r.arms.map((a) => a.name)))];
  return names.map((name) => {
    const arms = runs.flatMap((r) => r.arms.filter((a) => a.name === name));
    const strict = arms.map((a) => a.strict);
    const flexible = arms.map((a) => a.flexible);
    const s = meanAndStd(strict);
    const f = meanAndStd(flexible);
    return {
      name,
      kind: arms[0]!.kind,
      seeds: arms.length,
      strict: { mean: s.mean, std: s.std, values: strict },
      flexible: { mean: f.mean, std: f.std, values: flexible },
      meanSteps: meanAndStd(arms.map((a) => a.steps.meanSteps)).mean,
      capRate: meanAndStd(arms.map((a) => a.steps.capRate)).mean,
    };
  });
}

const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}` : 'n/a');
const pm = (m: { mean: number; std: number }, seeds: number): string => (seeds > 1 ? `${pct(m.mean)} ± ${pct(m.std)}` : pct(m.mean));

export function markdownTable(report: Pick<EvalReport, 'summary' | 'baselines'>): string {
  const lines = [
    '| Student | Seeds | Accuracy % (strict) | Accuracy % (flexible) | Mean steps | Hit step cap % |',
    '|---|---:|---:|---:|---:|---:|',
    ...report.summary.map(
      (a) => `| ${a.name} | ${a.seeds} | ${pm(a.strict, a.seeds)} | ${pm(a.flexible, a.seeds)} | ${a.meanSteps.toFixed(2)} | ${a.kind === 'iterative' ? pct(a.capRate) : '–'} |`,
    ),
    ...report.baselines.map((b) => `| ${b.name} (${b.dataset}) | – | ${pct(b.accuracy)} | ${pct(b.accuracy)} | – | – |`),
  ];
  return lines.join('\n');
}

export function stagesTable(stages: readonly Stage[]): string {
  return ['| Stage | Wall time (s) |', '|---|---:|', ...stages.map((s) => `| ${s.name} | ${s.seconds.toFixed(1)} |`)].join('\n');
}

export function markdownReport(report: EvalReport): string {
  return [
    `# ${report.title}`,
    '',
    `Created ${report.createdAt}${report.machine ? ` on ${report.machine}` : ''}${report.backend ? `, backend ${report.backend}` : ''}.`,
    '',
    markdownTable(report),
    '',
    ...report.findings.map((f) => `- ${f}`),
    '',
    '## Stages',
    '',
    stagesTable(report.stages),
    '',
    '## Setup',
    '',
    '```json',
    JSON.stringify(report.setup, null, 2),
    '```',
    '',
  ].join('\n');
}

/**
 * Does the paper's ordering (Socratic > CoT > answer-only) hold on mean flexible accuracy?
 * Returns one plain sentence either way; the demo prints it and writes it into the report.
 */
export function orderingFinding(summary: readonly ArmSummary[]): string {
  const best = (kinds: StudentKind[]): ArmSummary | undefined =>
    summary.filter((a) => kinds.includes(a.kind)).sort((a, b) => b.flexible.mean - a.flexible.mean)[0];
  const socratic = best(['unified', 'iterative']);
  const cot = best(['cot']);
  const answerOnly = best(['answer-only']);
  if (!socratic || !cot || !answerOnly) return 'The ordering check needs a Socratic, a CoT and an answer-only student.';
  const a = `${socratic.name} ${pct(socratic.flexible.mean)}%, ${cot.name} ${pct(cot.flexible.mean)}%, ${answerOnly.name} ${pct(answerOnly.flexible.mean)}%`;
  const holds = socratic.flexible.mean > cot.flexible.mean && cot.flexible.mean > answerOnly.flexible.mean;
  return holds
    ? `The paper's ordering holds here (best Socratic > CoT > answer-only, mean flexible accuracy): ${a}.`
    : `The paper's ordering (Socratic > CoT > answer-only) does NOT hold here (mean flexible accuracy): ${a}.`;
}

/** One sentence per Socratic arm: its mean flexible accuracy against CoT and answer-only, in points. */
export function socraticComparisons(summary: readonly ArmSummary[]): string[] {
  const cot = summary.find((a) => a.kind === 'cot');
  const answerOnly = summary.find((a) => a.kind === 'answer-only');
  const points = (a: ArmSummary, b: ArmSummary | undefined): string => {
    if (!b) return '';
    const d = 100 * (a.flexible.mean - b.flexible.mean);
    return `${d >= 0 ? '+' : ''}${d.toFixed(1)} points vs ${b.name}`;
  };
  return summary
    .filter((a) => a.kind === 'unified' || a.kind === 'iterative')
    .map((a) => `${a.name}: ${[points(a, cot), points(a, answerOnly)].filter(Boolean).join(', ')}.`);
}
