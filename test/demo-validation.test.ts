import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { command as demo } from '../src/cli/commands/demo.js';
import { CliUsageError } from '../src/cli/usage-error.js';
import { goldChain } from '../src/data/gold.js';
import { DEMO_PRESETS, type DemoConfig } from '../src/demo/config.js';
import { holdOut, runDemo, syntheticSplit } from '../src/demo/pipeline.js';
import { SimulatedTeacher } from '../src/teacher/simulated.js';

describe('held-out kept chains choose each model\'s checkpoint', () => {
  const { train } = syntheticSplit({ ...DEMO_PRESETS.full, trainProblems: 600 });
  const kept = { problems: train, chains: train.map((p) => goldChain(p)!) };

  it('holds out the same problems whatever the order of the chains, disjoint from training', () => {
    const a = holdOut(kept, 0.1);
    const b = holdOut({ problems: [...train].reverse(), chains: [...kept.chains].reverse() }, 0.1);
    expect(new Set(a.held.problems.map((p) => p.id))).toEqual(new Set(b.held.problems.map((p) => p.id)));
    expect(a.held.chains.map((c) => c.problemId)).toEqual(a.held.problems.map((p) => p.id));
    const fit = new Set(a.fit.problems.map((p) => p.id));
    for (const p of a.held.problems) expect(fit.has(p.id)).toBe(false);
    expect(a.fit.problems.length + a.held.problems.length).toBe(600);
    expect(a.held.problems.length).toBeGreaterThan(35);
    expect(a.held.problems.length).toBeLessThan(85);
    expect(() => holdOut(kept, 1)).toThrow(RangeError);
  });

  it('runDemo trains on the rest, evaluates every arm on the held-out chains and says so', async () => {
    const config: DemoConfig = { ...DEMO_PRESETS.quick, trainProblems: 40, testProblems: 6, steps: 4, seeds: [0], arms: ['cot', 'iterative'], attribution: false, validation: { share: 0.25, every: 2 }, weightDecay: 0.05 };
    const split = syntheticSplit(config);
    const evals: string[] = [];
    const log: string[] = [];
    const { report } = await runDemo({
      config, source: { ...split, teacher: new SimulatedTeacher({ seed: 0, errorRate: 0 }), description: 'test' }, outDir: await mkdtemp(join(tmpdir(), 'sd-val-')),
      log: (l) => log.push(l), onTrainProgress: (e) => { if (e.progress.type === 'eval') evals.push(e.arm); },
    });
    const line = log.find((l) => l.startsWith('held out'))!;
    const [, held] = /held out (\d+) of the 40 kept chains/.exec(line)!;
    expect(Number(held)).toBeGreaterThan(0);
    expect(report.setup.trainedOnChains).toBe(40 - Number(held));
    // Two evals (steps 2 and 4) for CoT, the QG model and the QA model.
    expect(evals).toEqual(['CoT', 'CoT', ...Array(4).fill('Iterative Socratic (QG+QA)')]);
    expect((report.setup.budget as Record<string, unknown>).weightDecay).toBe(0.05);
    expect(String((report.setup.budget as Record<string, unknown>).checkpoint)).toContain(`lowest loss on ${held} held-out kept chains, every 2 steps`);
    expect(report.findings.at(-1)).toContain('chose its checkpoint');
  }, 120_000);

  it('averageLast: every model ends with its averaged weights; not with validation', async () => {
    const config: DemoConfig = { ...DEMO_PRESETS.quick, trainProblems: 20, testProblems: 4, steps: 20, seeds: [0], arms: ['cot'], attribution: false, averageLast: 0.5 };
    const split = syntheticSplit(config);
    const source = { ...split, teacher: new SimulatedTeacher({ seed: 0, errorRate: 0 }), description: 'test' };
    const outDir = await mkdtemp(join(tmpdir(), 'sd-avg-demo-'));
    const { report } = await runDemo({ config, source, outDir });
    expect((report.setup.budget as Record<string, unknown>).weights).toBe('average over the last 50% of steps, every 10th step');
    await expect(runDemo({ config: { ...config, validation: { share: 0.2, every: 5 } }, source, outDir })).rejects.toThrow(/averageLast.*validation/);
    await expect(runDemo({ config: { ...config, averageLast: 0 }, source, outDir })).rejects.toThrow(/averageLast/);
  }, 120_000);

  it('the CLI takes --validation SHARE,EVERY and refuses a bad one', async () => {
    await expect(demo.run(['--validation', '1.5,100'])).rejects.toThrow(CliUsageError);
    await expect(demo.run(['--validation', '0.1'])).rejects.toThrow(/SHARE,EVERY/);
  });
});
