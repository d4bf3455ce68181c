import { describe, expect, it } from 'vitest';
import { generateSynthetic, SocraticDataset } from '../src/data/index.js';
import type { Problem } from '../src/data/schema.js';
import { TeacherError } from '../src/errors.js';
import { AnnotationTeacher, buildMessages, parseDecomposition, promptVersion, retryAfterMs } from '../src/teacher/index.js';
import { ChainVerifier } from '../src/verify/index.js';
import { SHARED_DATA, hasSharedData } from './fixtures-data/shared.js';

describe('tolerant parsing of teacher answers', () => {
  it('reads Q/A pairs in several dialects and the final answer', () => {
    const plain = parseDecomposition('Q1: How many in May?\nA1: 48/2 = <<48/2=24>>24 clips.\nQ2: How many in total?\nA2: 48+24 = <<48+24=72>>72.\nFinal answer: 72', 'gsm8k')!;
    expect(plain.steps.map((s) => [s.subquestion, s.answer])).toEqual([['How many in May?', 24], ['How many in total?', 72]]);
    expect(plain.finalAnswer).toBe(72);
    const bold = parseDecomposition('Sure!\n**Sub-question 1:** How much per hour?\n**Answer:** $12 per hour,\nso 12 x 2 = 24.\n\n**Final Answer:** $1,024.', 'gsm8k')!;
    expect(bold.steps).toHaveLength(1);
    expect(bold.steps[0]!.solution).toBe('$12 per hour, so 12 x 2 = 24.');
    expect(bold.finalAnswer).toBe(1024);
    const gsm = parseDecomposition('How many eggs? ** 16 - 3 = <<16-3=13>>13 eggs.\n#### 13', 'gsm8k')!;
    expect([gsm.steps[0]!.subquestion, gsm.finalAnswer]).toEqual(['How many eggs?', 13]);
    const noFinal = parseDecomposition('Q: How many?\nA: 3 + 4 = 7 apples.', 'gsm8k')!;
    expect(noFinal.finalAnswer).toBe(7);
    const sqa = parseDecomposition('Q1: How tall is it?\nA1: 3,776 m.\nQ2: Is #1 greater than 3,742?\nA2: Yes.\nFinal answer: Yes', 'strategyqa')!;
    expect([sqa.steps[1]!.answer, sqa.finalAnswer]).toEqual([true, true]);
    expect(parseDecomposition('I cannot help with that.', 'gsm8k')).toBeUndefined();
    expect(parseDecomposition('Q1: What?\n', 'gsm8k')).toBeUndefined();
  });

  it('parses Retry-After in seconds, milliseconds and HTTP dates', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '150', 'retry-after': '9' }))).toBe(150);
    const inFiveSeconds = new Date(Date.now() + 5000).toUTCString();
    expect(retryAfterMs(new Headers({ 'retry-after': inFiveSeconds }))).toBeGreaterThan(3000);
    expect(retryAfterMs(new Headers())).toBeUndefined();
  });
});

describe('prompts', () => {
  it('are versioned per dataset, few-shot from annotations, and end with the problem', () => {
    const p: Problem = { id: 'x', dataset: 'strategyqa', question: 'Can a cat fly?', context: 'Cats have no wings.', answer: false };
    const msgs = buildMessages(p, 'socratic');
    expect(msgs[0]!.role).toBe('system');
    expect(msgs[0]!.content).toMatch(/yes or no/);
    expect(msgs.filter((m) => m.role === 'assistant').every((m) => /^Q1: .*\nA1: /.test(m.content) && /Final answer: /.test(m.content))).toBe(true);
    expect(msgs.some((m) => m.content.includes('How many kids did Julius Caesar have?'))).toBe(true);
    expect(msgs.at(-1)).toEqual({ role: 'user', content: 'Facts: Cats have no wings.\nQuestion: Can a cat fly?' });
    expect(promptVersion('gsm8k', 'cot')).toBe('cot-gsm8k-v1');
    expect(buildMessages({ ...p, dataset: 'gsm8k' }, 'cot').filter((m) => m.role === 'assistant').every((m) => /\n#### \d+$/.test(m.content))).toBe(true);
  });
});

describe('AnnotationTeacher', () => {
  const teacher = new AnnotationTeacher();

  it('turns synthetic gold steps into chains the verifier keeps, with numbered samples', async () => {
    const problems = generateSynthetic({ count: 20, seed: 3 });
    const chains = (await Promise.all(problems.map((p) => teacher.decompose(p, { samples: 2 })))).flat();
    expect(chains.map((c) => c.teacher.sampleIndex).slice(0, 4)).toEqual([0, 1, 0, 1]);
    expect(new ChainVerifier({ checkArithmetic: true }).verifyAll(chains, problems).stats.kept).toBe(40);
    const [cot] = await teacher.chainOfThought(problems[0]!);
    expect([cot!.steps, cot!.rationale]).toEqual([[], problems[0]!.meta!.rationale]);
    await expect(teacher.decompose({ id: 'q', dataset: 'custom', question: 'q', answer: 1 })).rejects.toBeInstanceOf(TeacherError);
  });

  it.skipIf(!hasSharedData)('covers GSM8K socratic and StrategyQA decompositions + facts', async () => {
    const gsm = await SocraticDataset.load({ dataset: 'gsm8k', path: `${SHARED_DATA}/gsm8k`, split: 'test', limit: 50 });
    const sqa = await SocraticDataset.load({ dataset: 'strategyqa', path: `${SHARED_DATA}/strategyqa`, split: 'test', limit: 50 });
    for (const ds of [gsm, sqa]) {
      const chains = (await Promise.all(ds.problems.map((p) => teacher.decompose(p)))).flat();
      expect(new ChainVerifier().verifyAll(chains, ds.problems).stats.kept).toBe(50);
    }
    const [s] = await teacher.decompose(sqa.problems[0]!);
    expect(s!.steps.map((x) => x.subquestion)).toEqual(sqa.problems[0]!.meta!.decomposition);
    expect(s!.steps.at(-1)!.solution).toMatch(/So the answer is (yes|no)\.$/);
    const [g] = await teacher.decompose(gsm.problems[0]!);
    expect(g!.steps).toEqual(gsm.problems[0]!.meta!.goldSteps);
  });
});
