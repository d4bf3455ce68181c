import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { ContextLengthError } from '../src/demo/lengths.js';
import type { EvalReport } from '../src/eval/index.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { loadGsm8kSplits, reproducePaper } from '../src/reproduce/index.js';
import { AnnotationTeacher } from '../src/teacher/index.js';
import { hasSharedData, SHARED_DATA } from './fixtures-data/shared.js';
import { FIXTURE_DIR, fixtureWeights, hasFixtures, maxAbsDiff } from './helpers/fixtures.js';
import { copyModernFixture } from './helpers/llama-dirs.js';
import { hasModernFixtures } from './helpers/modern.js';

// The fixture checkpoint holds only 128 positions, so CI uses GSM8K problems whose every formatted
// example fits (the shortest ones, found by their token counts), plus one long problem for the error path.
const SHORT_TRAIN = [1061, 535, 1198, 826, 605, 661, 576, 1000];
const SHORT_TEST = [117, 305, 1104, 1162];
const LONG_TRAIN = 9; // 445 tokens as a Unified example

const gsm8kLines = (file: string): string[] => {
  const path = join(SHARED_DATA, 'gsm8k', file);
  const text = path.endsWith('.gz') ? gunzipSync(readFileSync(path)).toString('utf8') : readFileSync(path, 'utf8');
  return text.split('\n').filter((l) => l.trim());
};

async function dataDir(train: number[], test: number[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sd-repro-data-'));
  const trainLines = gsm8kLines('train_socratic.jsonl.gz');
  const testLines = gsm8kLines('test_socratic.jsonl');
  await writeFile(join(dir, 'train_socratic.jsonl'), train.map((i) => trainLines[i]).join('\n') + '\n');
  await writeFile(join(dir, 'test_socratic.jsonl'), test.map((i) => testLines[i]).join('\n') + '\n');
  return dir;
}

let stdout = '';
let stderr = '';
beforeEach(() => {
  stdout = '';
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
});
afterEach(() => vi.restoreAllMocks());

describe.skipIf(!hasFixtures || !hasSharedData)('socratic-distill reproduce (tiny fixture checkpoint, 8 GSM8K problems)', () => {
  let shortData = '';
  beforeAll(async () => {
    shortData = await dataDir(SHORT_TRAIN, SHORT_TEST);
  });

  it('trains all four arms from the checkpoint, prints a measured time estimate, and writes the reports', async () => {
    const out = await mkdtemp(join(tmpdir(), 'sd-repro-out-'));
    const lr = 1e-4;
    const steps = 3;
    const code = await main([
      'reproduce', '--init', FIXTURE_DIR, '--data', shortData, '--out', out, '--backend', 'cpu',
      '--steps', String(steps), '--batch', '4', '--lr', String(lr), '--max-steps', '2', '--measure-steps', '2',
    ]);
    expect(code, stderr).toBe(0);

    for (const f of ['report.json', 'report.md', 'report.html', 'timing.json']) expect(existsSync(join(out, f))).toBe(true);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as EvalReport;
    expect(report.setup.testProblems).toBe(4);
    expect(report.summary.map((a) => a.kind)).toEqual(['answer-only', 'cot', 'unified', 'iterative']);
    for (const arm of report.summary) {
      expect(arm.flexible.mean).toBeGreaterThanOrEqual(0);
      expect(arm.flexible.mean).toBeLessThanOrEqual(1);
    }

    const line = /time estimate: (\d+) training tokens .* at (\d+) tok\/s measured on (\S+)/.exec(stderr);
    expect(line, stderr).not.toBeNull();
    expect(Number(line![1])).toBeGreaterThan(0);
    expect(Number(line![2])).toBeGreaterThan(0);
    expect(stderr).toMatch(/actual training time: /);
    const timing = JSON.parse(await readFile(join(out, 'timing.json'), 'utf8')) as { estimate: { tokensPerSecond: number; plannedTokens: number }; actual: { trainSeconds: number } };
    expect(timing.estimate.tokensPerSecond).toBeGreaterThan(0);
    expect(timing.estimate.plannedTokens).toBe(Number(line![1]));
    expect(timing.actual.trainSeconds).toBeGreaterThan(0);

    // Every model started from the checkpoint: after 3 AdamW steps at lr 1e-4 each weight is within
    // a few lr of the fixture's (a fresh init would differ by ~0.1), but it did move.
    const fixture = await fixtureWeights();
    for (const dir of ['answer-only', 'cot', 'unified', 'iterative/qg', 'iterative/qa']) {
      const saved = (await readSafetensors(join(out, 'students', dir, 'model.safetensors'))).tensors;
      expect([...saved.keys()].sort()).toEqual([...fixture.keys()].sort());
      let moved = 0;
      for (const [name, w] of fixture) {
        const diff = maxAbsDiff(saved.get(name)!.data as Float32Array, w.data);
        expect(diff, `${dir} ${name}`).toBeLessThan(10 * steps * lr);
        moved = Math.max(moved, diff);
      }
      expect(moved).toBeGreaterThan(0);
    }
  }, 120_000);

  it.skipIf(!hasModernFixtures)('--init a Llama-family directory (Qwen3-style fixture): every model starts from it and keeps its tokenizer', async () => {
    // The fixture's 128 positions hold fewer GSM8K problems in this tokenizer (digits one by one); RoPE lets the copy hold 512.
    const init = await copyModernFixture('qwen3', join(await mkdtemp(join(tmpdir(), 'sd-repro-qwen3-')), 'qwen3'), { positions: 512 });
    const out = await mkdtemp(join(tmpdir(), 'sd-repro-llama-out-'));
    const code = await main(['reproduce', '--init', init, '--data', shortData, '--out', out, '--backend', 'cpu', '--steps', '2', '--batch', '4', '--max-steps', '1', '--measure-steps', '1']);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as EvalReport;
    expect(report.setup).toMatchObject({ architecture: 'qwen3', model: { n_embd: 64, n_positions: 512, vocab_size: 1000 } });
    expect(report.summary.map((a) => a.kind)).toEqual(['answer-only', 'cot', 'unified', 'iterative']);
    expect(stderr).toMatch(/time estimate: \d+ training tokens .* at \d+ tok\/s/);
    for (const dir of ['answer-only', 'cot', 'unified', 'iterative/qg', 'iterative/qa']) {
      expect(readFileSync(join(out, 'students', dir, 'tokenizer.json'), 'utf8'), dir).toBe(readFileSync(join(init, 'tokenizer.json'), 'utf8'));
      expect(JSON.parse(readFileSync(join(out, 'students', dir, 'config.json'), 'utf8')).model_type).toBe('qwen3');
    }
  }, 120_000);

  it('fails before training with one ContextLengthError listing every problem longer than n_positions', async () => {
    const { train, test } = await loadGsm8kSplits(await dataDir([...SHORT_TRAIN.slice(0, 2), LONG_TRAIN], SHORT_TEST.slice(0, 1)));
    const out = await mkdtemp(join(tmpdir(), 'sd-repro-long-'));
    const run = reproducePaper({
      init: FIXTURE_DIR, train, test, teacher: new AnnotationTeacher(), description: 'too long', outDir: out,
      steps: 1, batchSize: 2, lr: 1e-4, backend: 'cpu',
    });
    const err = await run.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ContextLengthError);
    const e = err as ContextLengthError;
    expect(e.nPositions).toBe(128);
    expect(e.offenders.map((o) => o.problemId)).toEqual(['gsm8k-train-2']);
    expect(e.offenders[0]!.tokens).toBeGreaterThan(128);
    expect(existsSync(join(out, 'students'))).toBe(false);

    await mkdir(join(out, 'cli'), { recursive: true });
    const dir = await dataDir([SHORT_TRAIN[0]!, LONG_TRAIN], SHORT_TEST.slice(0, 1));
    expect(await main(['reproduce', '--init', FIXTURE_DIR, '--data', dir, '--out', join(out, 'cli'), '--backend', 'cpu', '--steps', '1'])).toBe(1);
    expect(stderr).toMatch(/1 GSM8K problem does not fit the checkpoint's n_positions \(128\)/);
    expect(stderr).toMatch(/gsm8k-train-1\t\d+ tokens/);
  }, 60_000);
});
