/** `--task demo` (issue 21, item 2): the README walkthrough's synthetic task is the demo's, on every command. */
import { describe, expect, it } from 'vitest';
import { loadDatasetSelection, SYNTHETIC_TASKS } from '../src/data/load.js';
import { InvalidOptionError } from '../src/errors.js';
import { DEMO_PRESETS } from '../src/demo/config.js';
import { syntheticSplit } from '../src/demo/pipeline.js';

const select = (o: { task?: string; dataset?: string; count?: number; seed?: number; limit?: number }) =>
  loadDatasetSelection({ dataset: o.dataset ?? 'synthetic', data: undefined, split: undefined, seed: o.seed ?? 0, limit: o.limit, count: o.count ?? 50, task: o.task });

describe('synthetic tasks', () => {
  it("`demo` is the demo's task: same settings, same problems as runDemo's training split, its own ids", async () => {
    const full = DEMO_PRESETS.full;
    expect(SYNTHETIC_TASKS.demo).toEqual({ minSteps: full.minOps, maxSteps: full.maxOps, maxOperand: full.maxOperand, maxFactor: full.maxFactor, maxResult: full.maxResult });
    const d = await select({ task: 'demo', count: full.trainProblems });
    const { train } = syntheticSplit(full);
    expect(d.problems.map((p) => p.question)).toEqual(train.map((p) => p.question));
    expect(d.problems.every((p, i) => p.id === `synthetic-demo-0-${i}`)).toBe(true);
    expect((await select({ task: 'demo', limit: 3 })).problems.map((p) => p.id)).toEqual(['synthetic-demo-0-0', 'synthetic-demo-0-1', 'synthetic-demo-0-2']);
    // The default task is unchanged.
    expect((await select({})).problems[0]!.id).toBe('synthetic-0-0');
    expect((await select({ task: 'default' })).problems.map((p) => p.question)).toEqual((await select({})).problems.map((p) => p.question));
  });

  it('refuses an unknown task, and a task on another dataset', async () => {
    await expect(select({ task: 'hard' })).rejects.toThrow(new InvalidOptionError('task', "must be default|demo, got 'hard'"));
    await expect(select({ task: 'demo', dataset: 'gsm8k' })).rejects.toThrow("option 'task' applies to dataset 'synthetic' only, not 'gsm8k'");
  });
});
