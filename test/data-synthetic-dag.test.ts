import { describe, expect, it } from 'vitest';
import { command as demo } from '../src/cli/commands/demo.js';
import { main } from '../src/cli/main.js';
import { dagMeta, generateSynthetic, goldChain, solvePlan, syntheticPlan, wrongLocalityChain, type SyntheticPlan } from '../src/data/index.js';
import type { Problem } from '../src/data/schema.js';
import { ARMS } from '../src/demo/arms.js';
import { SimulatedTeacher } from '../src/teacher/index.js';
import { ChainVerifier } from '../src/verify/index.js';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DEMO = { family: 'dag' as const, minSteps: 2, maxSteps: 3, maxOperand: 9, maxFactor: 3, maxResult: 30 };
const problems = generateSynthetic({ count: 400, seed: 4, ...DEMO });
/** The person a `How many <objects> does <name> have?` subquestion asks about. */
const askedAbout = (subquestion: string): string => /does (\w+) have\?$/.exec(subquestion)![1]!;
const reads = (plan: SyntheticPlan, target: string): string[] => {
  const s = [...plan.steps].find((x) => x.target === target)!;
  return [s.left, s.right].flatMap((x) => ('ref' in x ? [x.ref] : []));
};

describe('synthetic dag family', () => {
  it('is deterministic by seed and its gold chains verify', () => {
    expect(generateSynthetic({ count: 400, seed: 4, ...DEMO })).toEqual(problems);
    expect(generateSynthetic({ count: 50, seed: 5, ...DEMO })).not.toEqual(problems.slice(0, 50));
    const kept = new ChainVerifier({ checkArithmetic: true }).verifyAll(problems.map((p) => goldChain(p)!), problems).stats.kept;
    expect(kept).toBe(problems.length);
  });

  it('asks only about the needed quantities, each after the ones it reads, and the question about the last', () => {
    for (const p of problems) {
      const dag = dagMeta(p)!;
      const plan = syntheticPlan(p)!;
      const asked = goldChain(p)!.steps.map((s) => askedAbout(s.subquestion));
      expect(asked).toEqual(dag.needed);
      expect(p.question.endsWith(`does ${asked.at(-1)} have?`)).toBe(true);
      // Distractors are never asked about in the gold chain.
      for (const name of dag.irrelevant) expect(asked).not.toContain(name);
      // A topological order: every quantity a step reads is a leaf of the story or computed before.
      asked.forEach((name, i) => {
        for (const r of reads(plan, name)) expect(Object.keys(plan.initial).includes(r) || asked.slice(0, i).includes(r), `${p.id} ${name} reads ${r}`).toBe(true);
      });
      // Every needed quantity is read by a later one (nothing needless in the gold chain).
      for (const name of asked.slice(0, -1)) expect(asked.some((later) => reads(plan, later).includes(name))).toBe(true);
    }
  });

  it('has irrelevant quantities the answer does not depend on, several valid orders, and facts out of order', () => {
    let severalOrders = 0;
    let outOfOrder = 0;
    for (const p of problems) {
      const dag = dagMeta(p)!;
      const plan = syntheticPlan(p)!;
      expect(dag.distractorSteps).toHaveLength(2);
      for (const name of dag.irrelevant) expect(p.question).toContain(`${name} has `);
      // The plan holds no irrelevant fact and still gives the answer: the answer does not depend on them.
      for (const name of dag.irrelevant) expect(JSON.stringify(plan)).not.toContain(`"${name}"`);
      expect(solvePlan(plan).answer).toBe(p.answer);
      // Two needed steps whose order could swap: neither reads the other, directly or not.
      const depends = (a: string, b: string): boolean => reads(plan, a).some((r) => r === b || (dag.needed.includes(r) && depends(r, b)));
      if (dag.needed.some((a, i) => dag.needed.slice(i + 1, -1).some((b) => !depends(b, a)))) severalOrders++;
      // A relation stated before the fact it reads.
      const sentences = p.question.split('. ');
      if (sentences.some((s, i) => / than (\w+)$| as (\w+)$/.test(s) && sentences.slice(i + 1).some((t) => t.startsWith(`${/(\w+)$/.exec(s)![1]} has`)))) outOfOrder++;
    }
    expect(severalOrders).toBeGreaterThan(problems.length / 10);
    expect(outOfOrder).toBeGreaterThan(problems.length / 4);
  });

  it('sets depth by minSteps/maxSteps and irrelevant quantities by distractors', () => {
    const deep = generateSynthetic({ count: 200, seed: 1, ...DEMO, minSteps: 4, maxSteps: 5, distractors: 3 });
    expect([...new Set(deep.map((p) => goldChain(p)!.steps.length))].sort()).toEqual([4, 5]);
    for (const p of deep) expect(dagMeta(p)!.distractorSteps).toHaveLength(3);
    for (const p of deep) for (const s of goldChain(p)!.steps) expect(s.answer as number).toBeLessThanOrEqual(30);
  });

  it('the simulated teacher slips on it as on the other families (a skipped definition too), and the verifier catches them', async () => {
    const noisy = new SimulatedTeacher({ errorRate: 1, seed: 2 });
    const chains = (await Promise.all(problems.map((p) => noisy.decompose(p)))).flat();
    const kinds = problems.map((p) => noisy.plannedError(p, 0));
    expect(new Set(kinds)).toEqual(new Set(['wrong-step-result', 'skipped-step', 'wrong-final-answer']));
    const judged = new ChainVerifier().verifyAll(chains, problems).judged;
    // A slip in a needed quantity reaches the answer, except by coincidence (a skipped "times 1" cannot occur).
    const rejected = judged.filter((c) => !c.verdict!.kept).length;
    expect(rejected / problems.length).toBeGreaterThan(0.9);
    judged.forEach((c, i) => {
      if (kinds[i] === 'skipped-step') expect(c.steps).toHaveLength(goldChain(problems[i]!)!.steps.length - 1);
    });
  });
});

describe('the wrong-locality control', () => {
  it('adds a subquestion about every irrelevant quantity, after what it reads and before the last step, keeping the answer', () => {
    let before = 0;
    for (const p of problems) {
      const gold = goldChain(p)!;
      const dag = dagMeta(p)!;
      const control = wrongLocalityChain(p, gold)!;
      const asked = control.steps.map((s) => askedAbout(s.subquestion));
      const extra = asked.filter((n) => !dag.needed.includes(n));
      // Its extra questions are about irrelevant quantities, each once; the needed steps are kept in order.
      expect(extra.sort()).toEqual(dag.distractorSteps.map((s) => s.target).sort());
      for (const n of extra) expect(dag.irrelevant).toContain(n);
      expect(control.steps.filter((s) => dag.needed.includes(askedAbout(s.subquestion)))).toEqual(gold.steps);
      expect(control.steps.at(-1)).toEqual(gold.steps.at(-1));
      expect(control.finalAnswer).toBe(p.answer);
      // Each extra step's arithmetic is right, and every step reads only what is known by then.
      const verified = new ChainVerifier({ checkArithmetic: true }).verifyAll([control], [p]);
      expect(verified.stats.kept).toBe(1);
      const plan = syntheticPlan(p)!;
      const all = [...plan.steps, ...dag.distractorSteps];
      const known = new Set([...Object.keys(plan.initial), ...Object.keys(dag.irrelevantInitial)]);
      for (const name of asked) {
        const step = all.find((x) => x.target === name)!;
        for (const x of [step.left, step.right]) if ('ref' in x) expect(known.has(x.ref), `${p.id}: ${name} reads ${x.ref}`).toBe(true);
        known.add(name);
      }
      if (askedAbout(control.steps[0]!.subquestion) !== dag.needed[0]) before++;
    }
    // Interleaved, not all at the end: some chains start with an irrelevant quantity.
    expect(before).toBeGreaterThan(problems.length / 10);
    // Deterministic per problem.
    expect(wrongLocalityChain(problems[3]!, goldChain(problems[3]!)!)).toEqual(wrongLocalityChain(problems[3]!, goldChain(problems[3]!)!));
    // Not a dag problem: no control chain, and the arm refuses such data before the teacher runs.
    const chain: Problem = generateSynthetic({ count: 1, seed: 0 })[0]!;
    expect(wrongLocalityChain(chain, goldChain(chain)!)).toBeUndefined();
    expect(() => ARMS['wrong-locality'].check!([chain])).toThrow(/needs problems with irrelevant computed quantities/);
  });

  it('is a demo arm, and generate takes --family dag', async () => {
    await expect(demo.run(['--arms', 'unified,nope'])).rejects.toThrow(/wrong-locality/);
    const out = join(await mkdtemp(join(tmpdir(), 'sd-dag-gen-')), 'chains.jsonl');
    expect(await main(['generate', '--teacher', 'simulated', '--error-rate', '0', '--dataset', 'synthetic', '--family', 'dag', '--min-steps', '4', '--max-steps', '4', '--distractors', '3', '--count', '5', '--out', out])).toBe(0);
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { problemId: string; steps: unknown[] });
    expect(lines.map((l) => l.steps.length)).toEqual([4, 4, 4, 4, 4]);
    expect(lines[0]!.problemId).toMatch(/^synthetic-dag-0-/);
  });
});
