import type { Problem } from '../data/schema.js';
import type { StudentKind } from '../students/common.js';
import type { ArmResult } from './evaluator.js';
import { FIRST_ERRORS, type Attribution } from './attribution.js';
import { meanAndStd } from './metrics.js';
import { describeComparison, pairedComparison, type PairedComparison } from './stats.js';

/** One seed's results: every arm evaluated, plus its training curves. */
export interface RunResult {
  seed: number;
  arms: ArmResult[];
  /** Training loss per optimizer step, by arm name (Iterative: `name/qg`, `name/qa`). */
  losses: Record<string, number[]>;
  /**
   * Results per named test subset when there are several (e.g. in distribution and deeper): every
   * subset, the main test set first (its `arms` are this run's `arms`).
   */
  subsets?: SubsetRun[];
}

/** A named held-out set, e.g. problems with more operations than any the students trained on. */
export interface TestSubset {
  name: string;
  problems: readonly Problem[];
}

/** One seed's results on one test subset. */
export interface SubsetRun {
  name: string;
  problems: number;
  arms: ArmResult[];
}

/** Every arm over seeds on one test subset, with the same paired comparisons as the whole report. */
export interface SubsetSummary {
  name: string;
  problems: number;
  summary: ArmSummary[];
  comparisons: PairedComparison[];
  /** Each arm here minus the same arm on the first subset, paired by seed; empty for the first subset. */
  shift: PairedComparison[];
  findings: string[];
}

export interface ArmSummary {
  name: string;
  kind: StudentKind;
  /** Rows decoded with the calculator. */
  calculator?: boolean;
  seeds: number;
  strict: { mean: number; std: number; values: number[] };
  flexible: { mean: number; std: number; values: number[] };
  meanSteps: number;
  capRate: number;
  /** Mean over seeds of each arm's error attribution (Socratic arms on problems with gold steps). */
  attribution?: Attribution;
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
  /** Paired per-seed differences with 95% CIs (see armComparisons). */
  comparisons: PairedComparison[];
  /** Plain-language findings, e.g. whether the paper's ordering held. */
  findings: string[];
  /** Per test subset (when the runs have several): the main test set first, then e.g. deeper problems. */
  subsets?: SubsetSummary[];
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
      ...(arms[0]!.calculator ? { calculator: true } : {}),
      seeds: arms.length,
      strict: { mean: s.mean, std: s.std, values: strict },
      flexible: { mean: f.mean, std: f.std, values: flexible },
      meanSteps: meanAndStd(arms.map((a) => a.steps.meanSteps)).mean,
      capRate: meanAndStd(arms.map((a) => a.steps.capRate)).mean,
      ...meanAttribution(arms.flatMap((a) => (a.attribution ? [a.attribution] : []))),
    };
  });
}

function meanAttribution(list: readonly Attribution[]): { attribution?: Attribution } {
  if (list.length === 0) return {};
  const mean = (f: (a: Attribution) => number) => list.reduce((acc, a) => acc + f(a), 0) / list.length;
  const firstSteps = list.flatMap((a) => (a.meanFirstWrongStep === null ? [] : [a.meanFirstWrongStep]));
  return {
    attribution: {
      problems: mean((a) => a.problems),
      qgAccuracy: mean((a) => a.qgAccuracy),
      stopAccuracy: mean((a) => a.stopAccuracy),
      qaAccuracy: mean((a) => a.qaAccuracy),
      firstError: Object.fromEntries(FIRST_ERRORS.map((k) => [k, mean((a) => a.firstError[k])])) as Attribution['firstError'],
      meanFirstWrongStep: firstSteps.length ? firstSteps.reduce((a, b) => a + b, 0) / firstSteps.length : null,
    },
  };
}

/** Teacher-forced turn accuracies and free-running first errors of every attributed arm (means over seeds). */
export function attributionTable(summary: readonly ArmSummary[]): string | null {
  const rows = summary.filter((a) => a.attribution);
  if (rows.length === 0) return null;
  return [
    '| Student | QG right % (gold history) | Stops right % | QA right % (gold history + subquestion) | Free-running: no error % | first error planning % | arithmetic % | stopped early % | ran over % | final answer % | mean first wrong step |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((a) => {
      const t = a.attribution!;
      const f = t.firstError;
      return `| ${a.name} | ${pct(t.qgAccuracy)} | ${pct(t.stopAccuracy)} | ${pct(t.qaAccuracy)} | ${pct(f.none)} | ${pct(f.planning)} | ${pct(f.arithmetic)} | ${pct(f['stopped-early'])} | ${pct(f['ran-over'])} | ${pct(f['final-answer'])} | ${t.meanFirstWrongStep === null ? '–' : (t.meanFirstWrongStep + 1).toFixed(2)} |`;
    }),
  ].join('\n');
}

const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}` : 'n/a');
const pm = (m: { mean: number; std: number }, seeds: number): string => (seeds > 1 ? `${pct(m.mean)} ± ${pct(m.std)}` : pct(m.mean));

/** Students that write (subquestion, solution) steps; the others' mean steps would always read 0. */
const writesSteps = (kind: StudentKind): boolean => kind === 'unified' || kind === 'iterative';

/** The footnotes a summary table needs (after the table; tableHtml leaves them out of the HTML table). */
export function summaryNotes(summary: readonly ArmSummary[]): string[] {
  return summary.some((a) => !writesSteps(a.kind))
    ? ['Mean steps counts (subquestion, solution) steps. CoT and answer-only students write none (CoT writes a free-text rationale), so theirs is shown as –.']
    : [];
}

export function markdownTable(report: Pick<EvalReport, 'summary' | 'baselines'>): string {
  const lines = [
    '| Student | Seeds | Accuracy % (strict) | Accuracy % (flexible) | Mean steps | Hit step cap % |',
    '|---|---:|---:|---:|---:|---:|',
    ...report.summary.map(
      (a) =>
        `| ${a.name} | ${a.seeds} | ${pm(a.strict, a.seeds)} | ${pm(a.flexible, a.seeds)} | ${writesSteps(a.kind) ? a.meanSteps.toFixed(2) : '–'} | ${a.kind === 'iterative' ? pct(a.capRate) : '–'} |`,
    ),
    ...report.baselines.map((b) => `| ${b.name} (${b.dataset}) | – | ${pct(b.accuracy)} | ${pct(b.accuracy)} | – | – |`),
  ];
  const notes = summaryNotes(report.summary);
  return [...lines, ...(notes.length ? ['', ...notes.map((n) => `Note: ${n}`)] : [])].join('\n');
}

function attributionSection(summary: readonly ArmSummary[]): string[] {
  const table = attributionTable(summary);
  if (!table) return [];
  return [
    '## Where the Socratic students go wrong',
    '',
    'Teacher-forced: the gold history goes in and one turn comes out. QG is right when the subquestion asks for the gold step\'s quantity (normalised match with the gold subquestion; exact on the synthetic task); QA is right when the step\'s answer is the gold value. Free-running: each solution\'s first step whose number differs from the gold step\'s, classed as planning (the subquestion asked for another quantity) or arithmetic (right subquestion, wrong number). Steps are counted from 1.',
    '',
    table,
    '',
  ];
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
    ...attributionSection(report.summary),
    '## Paired comparisons',
    '',
    'Differences in flexible accuracy, paired by seed; the verdict comes from the 95% CI (Student t), never from the sign of the mean.',
    '',
    comparisonsTable(report.comparisons),
    '',
    ...subsetsSection(report.subsets),
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

/** In an arm's name, marks a negative control: compared like any arm, never counted for the paper's ordering. */
export const CONTROL_MARK = '(control)';

/** Appended to an arm's name for its calculator row. */
export const CALCULATOR_SUFFIX = ' + calculator';

/** Each arm's flexible accuracy by seed, for pairing. */
function bySeed(runs: readonly RunResult[], name: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of runs) {
    const arm = r.arms.find((a) => a.name === name);
    if (arm) out.set(r.seed, arm.flexible);
  }
  return out;
}

/**
 * The paired comparisons a reader needs: every Socratic arm against CoT and answer-only,
 * every other Socratic arm against the Unified student, each further Iterative variant against the
 * first Iterative arm, and CoT against answer-only. A calculator
 * row is compared with the same student decoded without it (its kind, next to it in `summary`).
 */
export function armComparisons(runs: readonly RunResult[], allArms: readonly ArmSummary[]): PairedComparison[] {
  const arm = (a: ArmSummary) => ({ name: a.name, bySeed: bySeed(runs, a.name) });
  const summary = allArms.filter((a) => !a.calculator);
  const ofKind = (kind: StudentKind) => summary.filter((a) => a.kind === kind);
  const cot = ofKind('cot')[0];
  const answerOnly = ofKind('answer-only')[0];
  const unified = ofKind('unified')[0];
  const iterative = ofKind('iterative')[0];
  const out: PairedComparison[] = [];
  for (const a of summary.filter((x) => x.kind === 'unified' || x.kind === 'iterative')) {
    if (unified && a !== unified) out.push(pairedComparison(arm(a), arm(unified)));
    // A variant of the Iterative student against the first (main) one.
    if (iterative && a.kind === 'iterative' && a !== iterative) out.push(pairedComparison(arm(a), arm(iterative)));
    if (cot) out.push(pairedComparison(arm(a), arm(cot)));
    if (answerOnly) out.push(pairedComparison(arm(a), arm(answerOnly)));
  }
  if (cot && answerOnly) out.push(pairedComparison(arm(cot), arm(answerOnly)));
  for (const calc of allArms.filter((a) => a.calculator)) {
    const plain = summary.find((a) => calc.name === `${a.name}${CALCULATOR_SUFFIX}`);
    if (plain) out.push(pairedComparison(arm(calc), arm(plain)));
  }
  return out;
}

/**
 * Does the paper's ordering (Socratic > CoT > answer-only) hold? Judged only from paired 95% CIs:
 * it holds when some Socratic arm is ahead of CoT and CoT is ahead of answer-only.
 */
export function orderingFinding(summary: readonly ArmSummary[], comparisons: readonly PairedComparison[]): string {
  // A negative control (e.g. the wrong-locality arm) is not a candidate for the paper's ordering.
  const kindOf = new Map(summary.filter((a) => !a.name.includes(CONTROL_MARK)).map((a) => [a.name, a.kind]));
  const find = (a: StudentKind[], b: StudentKind) => comparisons.filter((c) => a.includes(kindOf.get(c.a)!) && kindOf.get(c.b) === b);
  const socraticVsCot = find(['unified', 'iterative'], 'cot');
  const cotVsAnswer = find(['cot'], 'answer-only')[0];
  if (socraticVsCot.length === 0 || !cotVsAnswer) return 'The ordering check needs a Socratic, a CoT and an answer-only student.';
  if (!cotVsAnswer.ci) return `The paper's ordering cannot be judged from ${cotVsAnswer.seeds.length} seed: a paired 95% CI needs at least 2 seeds.`;
  const ahead = socraticVsCot.filter((c) => c.verdict === 'ahead');
  const n = cotVsAnswer.seeds.length;
  // A partial merge can pair an arm on fewer seeds than the others: say so beside that comparison.
  const detail = [...socraticVsCot, cotVsAnswer].map((c) => `${c.a} vs ${c.b}: ${c.verdict}${c.seeds.length === n ? '' : ` (${c.seeds.length} seeds)`}`).join('; ');
  return ahead.length > 0 && cotVsAnswer.verdict === 'ahead'
    ? `The paper's ordering (Socratic > CoT > answer-only) holds here by paired 95% CIs over ${n} seeds (${detail}).`
    : `The paper's ordering (Socratic > CoT > answer-only) does NOT hold here by paired 95% CIs over ${n} seeds (${detail}).`;
}

export function comparisonsTable(comparisons: readonly PairedComparison[]): string {
  const ci = (c: PairedComparison) => (c.ci ? `${signed(c.ci[0])} to ${signed(c.ci[1])}` : '–');
  return [
    '| A | B | Seeds | Mean A − B (points) | 95% CI | A won / lost | Verdict for A |',
    '|---|---|---:|---:|---|---:|---|',
    ...comparisons.map((c) => `| ${c.a} | ${c.b} | ${c.seeds.length} | ${signed(c.mean)} | ${ci(c)} | ${c.wins} / ${c.losses} | ${c.verdict} |`),
  ].join('\n');
}

const signed = (x: number): string => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}` : 'n/a');

/**
 * Summary, paired comparisons and their sentences for runs over seeds: what a report says about them.
 * `findings` is [the paper's ordering, one per comparison], in that order (mergeReports relies on it).
 * When the runs carry test subsets, `subsets` holds the same per subset.
 */
export function compareRuns(runs: readonly RunResult[]): { summary: ArmSummary[]; comparisons: PairedComparison[]; findings: string[]; subsets?: SubsetSummary[] } {
  const summary = summarize(runs);
  const comparisons = armComparisons(runs, summary);
  const subsets = compareSubsets(runs);
  return { summary, comparisons, findings: [orderingFinding(summary, comparisons), ...comparisons.map(describeComparison)], ...(subsets.length > 0 ? { subsets } : {}) };
}

/** Per test subset, in first-seen order: summary and comparisons, and each arm's shift from the first subset. */
export function compareSubsets(runs: readonly RunResult[]): SubsetSummary[] {
  const names = [...new Set(runs.flatMap((r) => (r.subsets ?? []).map((s) => s.name)))];
  const runsOf = (name: string): RunResult[] =>
    runs.flatMap((r) => {
      const s = r.subsets?.find((x) => x.name === name);
      return s ? [{ seed: r.seed, arms: s.arms, losses: {} }] : [];
    });
  const first = names[0] === undefined ? [] : runsOf(names[0]);
  return names.map((name, i) => {
    const sub = runsOf(name);
    const summary = summarize(sub);
    const comparisons = armComparisons(sub, summary);
    const shift = i === 0 ? [] : summary.map((a) => pairedComparison({ name: `${a.name} on ${name}`, bySeed: bySeed(sub, a.name) }, { name: `${a.name} on ${names[0]}`, bySeed: bySeed(first, a.name) }));
    const problems = Math.max(0, ...runs.flatMap((r) => r.subsets?.filter((x) => x.name === name).map((x) => x.problems) ?? []));
    return { name, problems, summary, comparisons, shift, findings: [orderingFinding(summary, comparisons), ...comparisons.map(describeComparison)] };
  });
}

/** Flexible accuracy of every arm on every subset, with each later subset's shift from the first (paired CI). */
export function subsetAccuracyTable(subsets: readonly SubsetSummary[]): string {
  const [first, ...rest] = subsets;
  if (!first) return '';
  const cell = (s: SubsetSummary, name: string): string => {
    const a = s.summary.find((x) => x.name === name);
    return a ? pm(a.flexible, a.seeds) : '–';
  };
  const shiftCell = (s: SubsetSummary, name: string): string[] => {
    const c = s.shift.find((x) => x.a === `${name} on ${s.name}`);
    return c ? [`${signed(c.mean)}${c.ci ? ` (${signed(c.ci[0])} to ${signed(c.ci[1])})` : ''}`, c.verdict] : ['–', '–'];
  };
  return [
    `| Student | ${subsets.map((s) => `${s.name} (${s.problems} problems) %`).join(' | ')} | ${rest.map((s) => `${s.name} − ${first.name} (points, 95% CI) | verdict`).join(' | ')} |`,
    `|---|${subsets.map(() => '---:').join('|')}|${rest.map(() => '---:|---').join('|')}|`,
    ...first.summary.map((a) => `| ${a.name} | ${subsets.map((s) => cell(s, a.name)).join(' | ')} | ${rest.flatMap((s) => shiftCell(s, a.name)).join(' | ')} |`),
  ].join('\n');
}

/** The markdown of the per-subset section: the accuracy table, then each subset's comparisons and attribution. */
export function subsetsSection(subsets: readonly SubsetSummary[] | undefined): string[] {
  if (!subsets || subsets.length === 0) return [];
  const out = [
    '## By test subset',
    '',
    'Flexible accuracy on each test subset (mean ± sd over seeds). The shift columns pair each arm with itself on the first subset, seed by seed; the verdict comes from the 95% CI.',
    '',
    subsetAccuracyTable(subsets),
    '',
  ];
  for (const s of subsets) {
    out.push(`### ${s.name}`, '', ...s.findings.slice(0, 1).map((f) => `- ${f}`), '', comparisonsTable(s.comparisons), '');
    const attribution = attributionTable(s.summary);
    if (attribution) out.push(`Where the Socratic students go wrong on ${s.name}:`, '', attribution, '');
  }
  return out;
}
