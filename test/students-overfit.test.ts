import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select.js';
import { generateSynthetic, goldChain } from '../src/data/index.js';
import {
  AnswerOnlyStudent, CoTStudent, finalSolution, IterativeStudent, loadStudent, StudentLM, tokenizerForTexts, trainingTexts, UnifiedStudent, type StudentData,
} from '../src/students/index.js';
import { FIXTURE_DIR, hasFixtures } from './helpers/fixtures.js';

const problems = generateSynthetic({ count: 4, seed: 11, minSteps: 2, maxSteps: 2, maxOperand: 9, maxResult: 30, maxFactor: 3 });
const data: StudentData = { problems, chains: problems.map((p) => goldChain(p)!) };
const size = { n_embd: 48, n_layer: 2, n_head: 2, n_positions: 160 };
const budget = { batchSize: 4, maxSteps: 120, lr: 5e-3, warmupSteps: 10, seed: 0 };
const gold = problems.map((p) => p.answer);

describe('tiny students overfit a handful of chains', () => {
  it('Unified: solves its training problems, with steps, and survives save/load', async () => {
    const backend = await selectBackend('auto');
    const student = await UnifiedStudent.create({ size, data, backend, seed: 1 });
    const r = await student.train(data, budget);
    expect(r.losses.at(-1)!).toBeLessThan(0.2 * r.losses[0]!);
    const solved = await student.solveMany(problems);
    expect(solved.map((s) => s.answer)).toEqual(gold);
    expect(solved.map((s) => s.strictAnswer)).toEqual(gold);
    expect(solved.every((s) => s.steps.length === 2)).toBe(true);
    const voted = await student.solveMany(problems, { selfConsistency: { k: 3, temperature: 0.5, seed: 1 } });
    expect(voted.every((s) => s.samples?.length === 3)).toBe(true);
    expect(voted.map((s) => s.answer)).toEqual(gold);

    const dir = await mkdtemp(join(tmpdir(), 'sd-unified-'));
    await student.save(dir);
    const loaded = await loadStudent(dir, backend);
    expect(loaded).toBeInstanceOf(UnifiedStudent);
    expect((await loaded.solveMany(problems)).map((s) => s.text)).toEqual(solved.map((s) => s.text));
  });

  it('Iterative: QG and QA learn the decomposition and stop on the end marker', async () => {
    const backend = await selectBackend('auto');
    const student = await IterativeStudent.create({ qgSize: size, qaSize: { ...size, n_embd: 64 }, data, backend, seed: 2 });
    await student.train(data, budget);
    const solved = await student.solveMany(problems);
    expect(solved.map((s) => s.answer)).toEqual(gold);
    expect(solved.map((s) => s.stoppedBy)).toEqual(problems.map(() => 'end-marker'));
    expect(solved.map((s) => s.steps.map((x) => x.subquestion))).toEqual(data.chains.map((c) => c.steps.map((x) => x.subquestion)));

    const dir = await mkdtemp(join(tmpdir(), 'sd-iterative-'));
    await student.save(dir);
    const loaded = await loadStudent(dir, backend);
    expect(loaded).toBeInstanceOf(IterativeStudent);
    expect((await loaded.solveMany(problems)).map((s) => s.answer)).toEqual(gold);
  });

  it('Iterative with one shared model: learns both turns, stops on the final answer, saves one model', async () => {
    const backend = await selectBackend('auto');
    const student = await IterativeStudent.createShared({ size, data, backend, seed: 2 });
    expect(student.shared).toBe(true);
    const r = await student.train(data, budget);
    expect(r.qg).toBe(r.qa);
    const solved = await student.solveMany(problems);
    expect(solved.map((s) => s.answer)).toEqual(gold);
    expect(solved.map((s) => s.stoppedBy)).toEqual(problems.map(() => 'final-marker'));
    expect(solved.map((s) => s.steps.map((x) => x.subquestion))).toEqual(data.chains.map((c) => c.steps.map((x) => x.subquestion)));

    const dir = await mkdtemp(join(tmpdir(), 'sd-shared-'));
    await student.save(dir);
    expect((await readdir(dir)).sort()).toEqual(['model', 'student.json']);
    const loaded = await loadStudent(dir, backend);
    expect(loaded).toBeInstanceOf(IterativeStudent);
    expect((loaded as IterativeStudent).shared).toBe(true);
    expect((await loaded.solveMany(problems)).map((s) => s.answer)).toEqual(gold);
    loaded.dispose();
    student.dispose();
  });

  it('answer-only and CoT baselines train on the same trainer and shared vocabulary', async () => {
    const backend = await selectBackend('auto');
    const tokenizer = tokenizerForTexts(trainingTexts(data, ['answer-only', 'cot']));
    for (const make of [AnswerOnlyStudent.create, CoTStudent.create]) {
      const student = await make({ size, tokenizer, backend, seed: 3 });
      expect(student.lm.config.vocab_size).toBe(tokenizer.vocabSize);
      await student.train(data, budget);
      expect((await student.solveMany(problems)).map((s) => s.answer)).toEqual(gold);
    }
  });
});

describe('students from an HF GPT-2 checkpoint directory', () => {
  it.skipIf(!hasFixtures)('loads the full-vocabulary fixture checkpoint, fine-tunes it, and saves it back in HF layout', async () => {
    const backend = await selectBackend('auto');
    const lm = await StudentLM.load(FIXTURE_DIR, { backend });
    expect(lm.config.vocab_size).toBe(50257);
    const student = new UnifiedStudent(lm);
    const problem = { id: 'hf-1', dataset: 'custom' as const, question: 'Ann has 2 cats and gets 3 more. How many?', answer: 5 };
    const chain = { problemId: 'hf-1', steps: [{ subquestion: 'How many cats now?', solution: '2 + 3 = 5', answer: 5 }], finalAnswer: 5, teacher: { adapter: 'test', sampleIndex: 0 } };
    const r = await student.train({ problems: [problem], chains: [chain] }, { batchSize: 1, maxSteps: 30, lr: 1e-2, warmupSteps: 0 });
    expect(r.losses.at(-1)!).toBeLessThan(r.losses[0]! / 4);
    expect((await finalSolution(student.solve(problem, { maxNewTokens: 40 }))).answer).toBe(5);
    const dir = await mkdtemp(join(tmpdir(), 'sd-hf-'));
    await student.save(dir);
    const again = await loadStudent(dir, backend);
    expect(again).toBeInstanceOf(UnifiedStudent);
    expect((await finalSolution(again.solve(problem, { maxNewTokens: 40 }))).answer).toBe(5);
  });
});
