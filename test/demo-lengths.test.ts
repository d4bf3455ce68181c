import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Problem } from '../src/data/schema.js';
import { DEMO_PRESETS, type DemoConfig } from '../src/demo/config.js';
import { ContextLengthError } from '../src/demo/lengths.js';
import { runDemo, syntheticSplit } from '../src/demo/pipeline.js';
import { SimulatedTeacher } from '../src/teacher/simulated.js';
import type { SampleRequest, TeacherClient, TeacherSample } from '../src/teacher/types.js';

/** A simulated teacher that counts its calls and can pad every solution (a verbose real teacher). */
class CountingTeacher implements TeacherClient {
  readonly id = 'counting';
  calls = 0;
  private readonly inner = new SimulatedTeacher({ errorRate: 0, seed: 0 });
  constructor(private readonly padWords = 0) {}
  async sample(problem: Problem, request: SampleRequest): Promise<TeacherSample> {
    this.calls++;
    const sample = await this.inner.sample(problem, { ...request, mode: 'socratic' });
    const pad = ' and that is checked again'.repeat(this.padWords);
    return { ...sample, steps: sample.steps.map((s) => ({ ...s, solution: s.solution + pad })) };
  }
}

const base: DemoConfig = { ...DEMO_PRESETS.quick, trainProblems: 24, testProblems: 6, steps: 2, seeds: [0], arms: ['answer-only', 'unified'], attribution: false };

async function run(config: DemoConfig, teacher: CountingTeacher): Promise<{ trained: number; log: string[] }> {
  const { train, test } = syntheticSplit(config);
  const log: string[] = [];
  let trained = 0;
  await runDemo({
    config, source: { train, test, teacher, description: 'test' }, outDir: await mkdtemp(join(tmpdir(), 'sd-len-')),
    log: (l) => log.push(l), onTrainProgress: () => trained++,
  });
  return { trained, log };
}

describe('demo context length checks', () => {
  it('refuses before the first teacher call when the problems alone do not fit, listing them', async () => {
    const teacher = new CountingTeacher();
    const err = await run({ ...base, size: { ...base.size, n_positions: 40 } }, teacher).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContextLengthError);
    expect((err as ContextLengthError).offenders.length).toBeGreaterThan(1);
    expect((err as Error).message).toMatch(/synthetic-0-\d+ \(\d+ tokens\).*at least \d+ positions/);
    expect(teacher.calls).toBe(0);
  });

  it('refuses after the teacher but before any training step when its chains are too long', async () => {
    const teacher = new CountingTeacher(12);
    const { train, test } = syntheticSplit(base);
    const err = await run(base, teacher).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContextLengthError);
    expect((err as Error).message).toContain("with the teacher's chains");
    expect(teacher.calls).toBe(train.length);
    expect(test.length).toBe(6);
  });

  it('sizes n_positions from the data when asked, and trains', async () => {
    const teacher = new CountingTeacher(12);
    const { trained, log } = await run({ ...base, autoPositions: true }, teacher);
    const line = log.find((l) => l.startsWith('context sized from the data'));
    expect(line).toMatch(/n_positions (\d+) \(longest example (\d+) tokens\)/);
    const [, n, longest] = /n_positions (\d+) \(longest example (\d+) tokens\)/.exec(line!)!;
    expect(Number(n)).toBeGreaterThanOrEqual(Number(longest));
    expect(Number(n)).toBeGreaterThan(256);
    expect(trained).toBeGreaterThan(0);
  });
});
