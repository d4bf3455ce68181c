import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Problem } from '../src/data/schema.js';
import {
  armComparisons, evaluateStudents, majorityClassBaseline, markdownTable, orderingFinding, summarize, writeReport, type EvalReport, type Solver,
} from '../src/eval/index.js';
import type { StudentSolution } from '../src/students/index.js';

const problems: Problem[] = [1, 2, 3, 4].map((n) => ({ id: `p${n}`, dataset: 'synthetic', question: `q${n}`, answer: n }));

/** Answers right for the first `right` problems; strict only when `marked`. */
function solver(kind: Solver['kind'], right: number, marked: boolean, capped = false): Solver {
  return {
    kind,
    async solveMany(ps) {
      return ps.map((p, i): StudentSolution => {
        const answer = i < right ? (p.answer as number) : -1;
        return { answer, strictAnswer: marked ? answer : null, steps: [{ subquestion: 's', solution: 'x' }], text: `#### ${answer}`, stoppedBy: capped ? 'max-steps' : 'eos' };
      });
    },
  };
}

describe('evaluator', () => {
  it('scores strict and flexible accuracy and step statistics on the same problems', async () => {
    const arms = await evaluateStudents(
      [
        { name: 'A', solver: solver('answer-only', 1, true) },
        { name: 'I', solver: solver('iterative', 3, false, true) },
      ],
      problems,
    );
    expect(arms[0]!.flexible).toBe(0.25);
    expect(arms[0]!.strict).toBe(0.25);
    expect(arms[1]!.flexible).toBe(0.75);
    expect(arms[1]!.strict).toBe(0);
    expect(arms[1]!.steps).toEqual({ meanSteps: 1, capRate: 1 });
    expect(arms[0]!.scores).toEqual([{ dataset: 'synthetic', n: 4, strict: 0.25, flexible: 0.25 }]);
  });

  it('majority-class baseline for yes/no data', () => {
    const sq = (id: string, answer: boolean): Problem => ({ id, dataset: 'strategyqa', question: id, answer });
    const r = majorityClassBaseline([sq('a', true), sq('b', true), sq('c', false)], [sq('d', true), sq('e', false)]);
    expect(r.answer).toBe(true);
    expect(r.accuracy).toBe(0.5);
  });

  it('summarises seeds, states the ordering honestly, and writes JSON, Markdown and HTML with SVG plots', async () => {
    const run = async (seed: number, socraticRight: number) => ({
      seed,
      arms: await evaluateStudents(
        [
          { name: 'Answer-only', solver: solver('answer-only', 2, true) },
          { name: 'CoT', solver: solver('cot', 3, true) },
          { name: 'Unified', solver: solver('unified', socraticRight, true) },
        ],
        problems,
      ),
      losses: { CoT: [2, 1.5, 1], Unified: [2.5, 1, 0.5] },
    });
    const runs = [await run(0, 4), await run(1, 2)];
    const summary = summarize(runs);
    expect(summary.find((a) => a.name === 'Unified')!.flexible.mean).toBe(0.75);
    expect(summary.find((a) => a.name === 'Unified')!.flexible.std).toBeCloseTo(Math.SQRT1_2 * 0.5);
    // Unified mean 0.75 equals CoT 0.75: a tie, so the ordering must be reported as not holding.
    const comparisons = armComparisons(runs, summary);
    expect(orderingFinding(summary, comparisons)).toMatch(/does NOT hold/);
    const unifiedVsCot = comparisons.find((c) => c.a === 'Unified' && c.b === 'CoT')!;
    expect(unifiedVsCot.diffs).toEqual([0.25, -0.25]);
    expect(unifiedVsCot.verdict).toBe('tie within noise');
    const table = markdownTable({ summary, baselines: [] });
    expect(table).toContain('| Unified | 2 | 75.0 ± 35.4 |');

    const report: EvalReport = {
      title: 'test', createdAt: '2026-01-01T00:00:00Z', setup: { n: 4 }, runs, summary, baselines: [], stages: [{ name: 'evaluate', seconds: 1.5 }],
      comparisons,
      findings: [orderingFinding(summary, comparisons)],
    };
    const dir = await mkdtemp(join(tmpdir(), 'sd-report-'));
    const paths = await writeReport(dir, report);
    expect(JSON.parse(await readFile(paths.json, 'utf8'))).toEqual(report);
    expect(await readFile(paths.markdown, 'utf8')).toContain(table);
    const html = await readFile(paths.html, 'utf8');
    // Accuracy, the paired comparisons' forest plot, training loss.
    expect(html.match(/<svg/g)?.length).toBe(3);
    expect(html).toContain('Paired comparisons: mean A − B with its 95% CI');
    expect(html).toContain('Training loss');
    expect(html).toContain('does NOT hold');
  });
});
