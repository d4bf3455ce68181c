/**
 * Issue 21, item 4: damaged inputs said clearly. A data file with several bad lines reports them all (up to a
 * limit) in one error, each with its line number; a truncated model.safetensors gets one code and one hint
 * (the browser side of the same check is in browser-e2e.test.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SocraticDataset } from '../src/data/dataset.js';
import { SocraticChainSchema } from '../src/data/schema.js';
import { generateSynthetic } from '../src/data/synthetic.js';
import { DatasetFormatError, MAX_LISTED_ISSUES, SAFETENSORS_HINT, SafetensorsError } from '../src/errors.js';
import { readJsonl } from '../src/io/jsonl.js';
import { parseCheckpoint } from '../src/model/checkpoint.js';
import { loadStudent } from '../src/students/load.js';
import { UnifiedStudent } from '../src/students/single.js';

const ROOT = resolve(__dirname, '..');
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const dir = mkdtempSync(join(tmpdir(), 'sd-damaged-'));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/bin.ts'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((r) => child.on('close', (code) => r({ code, stdout, stderr })));
}

const good = (i: number) => JSON.stringify({ id: `p${i}`, question: `What is ${i} + 1?`, answer: i + 1 });

describe('a data file with several bad lines', () => {
  it('reports every bad line in one DatasetFormatError, each with its line number and field', async () => {
    const file = join(dir, 'problems.jsonl');
    writeFileSync(file, [good(1), '{"id":"p2","question":"Q?"', good(3), '{"id":"p4","question":"","answer":1}', '', '{"id":"p6","question":"Q?","answer":[1]}', good(7)].join('\n') + '\n');
    const err = await SocraticDataset.load({ dataset: 'jsonl', path: file, split: 'all' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetFormatError);
    const e = err as DatasetFormatError;
    expect(e.badRows).toBe(3);
    expect(e.issues.map((i) => [i.line, i.path])).toEqual([[2, undefined], [4, 'question'], [6, 'answer']]);
    expect(e.line).toBe(2);
    const lines = e.message.split('\n');
    expect(lines[0]).toBe(`${file}: 3 bad rows; fix them all, then run again:`);
    expect(lines[1]).toMatch(new RegExp(`^  ${file}:2: invalid JSON`));
    expect(lines[2]).toMatch(new RegExp(`^  ${file}:4: question: `));
    expect(lines[3]).toMatch(new RegExp(`^  ${file}:6: answer: `));
    // With onInvalid: 'skip' the same rows are left out and kept as errors, one per row.
    const skipped = await SocraticDataset.load({ dataset: 'jsonl', path: file, split: 'all', onInvalid: 'skip' });
    expect(skipped.problems.map((p) => p.id)).toEqual(['p1', 'p3', 'p7']);
    expect(skipped.invalid.map((x) => x.line)).toEqual([2, 4, 6]);
  });

  it(`lists at most ${MAX_LISTED_ISSUES} and counts the rest; one bad line reads as before`, async () => {
    const file = join(dir, 'many.jsonl');
    writeFileSync(file, Array.from({ length: 25 }, (_, i) => (i % 2 ? '{"id":"x"}' : good(i))).join('\n') + '\n');
    const e = (await SocraticDataset.load({ dataset: 'jsonl', path: file, split: 'all' }).catch((x: unknown) => x)) as DatasetFormatError;
    expect(e.badRows).toBe(12);
    expect(e.issues).toHaveLength(MAX_LISTED_ISSUES);
    expect(e.message.split('\n')[0]).toBe(`${file}: 12 bad rows (the first ${MAX_LISTED_ISSUES} listed); fix them all, then run again:`);
    expect(e.issues.map((i) => i.line)).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    const one = join(dir, 'one.jsonl');
    writeFileSync(one, `${good(1)}\n{"id":"x"}\n`);
    const single = (await SocraticDataset.load({ dataset: 'jsonl', path: one, split: 'all' }).catch((x: unknown) => x)) as DatasetFormatError;
    expect(single.message).toMatch(new RegExp(`^${one}:2: question: Required$`));
  });

  it('a chains file with several bad lines (not a torn tail) lists them all; the CLI prints each on its own line', async () => {
    const file = join(dir, 'chains.jsonl');
    const chain = (id: string) => JSON.stringify({ problemId: id, steps: [], finalAnswer: 1, teacher: { adapter: 'x' } });
    writeFileSync(file, [chain('a'), '{"problemId":""}', chain('b'), 'not json', chain('c'), '{"problemId":"d","steps":[],"final'].join('\n'));
    const e = (await readJsonl(file, SocraticChainSchema).catch((x: unknown) => x)) as DatasetFormatError;
    expect(e).toBeInstanceOf(DatasetFormatError);
    // The torn last line (a crash mid-append) is not corruption; lines 2 and 4 are.
    expect(e.issues.map((i) => i.line)).toEqual([2, 4]);
    const r = await cli(['verify', '--dataset', 'synthetic', '--count', '3', '--chains', file, '--out', 'k.jsonl']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `socratic-distill verify: ${file}: 2 bad rows; fix them all, then run again: [DATASET_FORMAT]`,
      expect.stringMatching(new RegExp(`^  ${file}:2: problemId: `)),
      expect.stringMatching(new RegExp(`^  ${file}:4: invalid JSON`)),
    ]);
  }, 60_000);
});

describe('a truncated model.safetensors', () => {
  it('is a SafetensorsError with one code and one hint, from the Node loader, the in-memory loader and the CLI', async () => {
    const problems = generateSynthetic({ count: 4, seed: 1 });
    const chains = problems.map((p) => ({ problemId: p.id, steps: p.meta!.goldSteps as never, finalAnswer: p.answer, teacher: { adapter: 'gold', sampleIndex: 0 } }));
    const student = await UnifiedStudent.create({ size: { n_embd: 16, n_layer: 1, n_head: 2, n_positions: 128 }, data: { problems, chains }, backend: 'tfjs-cpu' });
    const saved = join(dir, 'student');
    await student.save(saved);
    student.dispose();
    const weights = join(saved, 'model.safetensors');
    const bytes = readFileSync(weights);
    truncateSync(weights, Math.floor(bytes.byteLength / 2));

    const fromDisk = (await loadStudent(saved, 'tfjs-cpu').catch((x: unknown) => x)) as SafetensorsError;
    expect(fromDisk).toBeInstanceOf(SafetensorsError);
    expect(fromDisk.code).toBe('SAFETENSORS_INVALID');
    expect(fromDisk.hint).toBe(SAFETENSORS_HINT);
    expect(fromDisk.message.startsWith(`${weights}: `)).toBe(true);
    expect(fromDisk.message.endsWith(`; ${SAFETENSORS_HINT}`)).toBe(true);

    // The browser loader parses fetched bytes with the same check: same class, code and hint.
    const inMemory = (() => {
      try {
        parseCheckpoint({ config: JSON.parse(readFileSync(join(saved, 'config.json'), 'utf8')), safetensors: new Uint8Array(bytes.subarray(0, bytes.byteLength / 2)) }, 'http://host/student');
      } catch (x) {
        return x as SafetensorsError;
      }
    })();
    expect(inMemory).toBeInstanceOf(SafetensorsError);
    expect([inMemory!.code, inMemory!.hint]).toEqual(['SAFETENSORS_INVALID', SAFETENSORS_HINT]);

    const r = await cli(['solve', '--student', saved, '--backend', 'tfjs-cpu', 'What is 1 + 1?']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`socratic-distill solve: ${fromDisk.message} [SAFETENSORS_INVALID]\n`);
  }, 60_000);
});
