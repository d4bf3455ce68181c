/**
 * The README section "Distil into SmolLM2 / Qwen3" runs as written, with the random-weight fixture checkpoints standing
 * in for the downloaded directories: a bf16 copy of modern/llama for ./SmolLM2-135M (as SmolLM2 ships) and
 * modern/qwen3 for Qwen3. Only the budget is adapted (problems, steps, learning rate: the fixtures start from random
 * weights) and the fixtures' 128 positions are raised to 512 (RoPE has no position table: no weight changes). What is
 * checked is that the saved students load and solve, with steps and an answer; not accuracy.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import type { EvalReport } from '../src/eval/index.js';
import { copyModernFixture } from './helpers/llama-dirs.js';
import { hasModernFixtures } from './helpers/modern.js';

const ROOT = resolve(__dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'sd-readme-llama-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The README's "Distil into SmolLM2 / Qwen3" section: its sh block and its ts block. */
function section(): { sh: string; ts: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Distil into SmolLM2 / Qwen3\n');
  expect(start, 'README has the section').toBeGreaterThanOrEqual(0);
  const body = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const sh = /```sh\n([\s\S]*?)```/.exec(body)?.[1];
  const ts = /```ts\n([\s\S]*?)```/.exec(body)?.[1];
  expect(sh && ts, 'the section has an sh and a ts block').toBeTruthy();
  return { sh: sh!, ts: ts! };
}

/** Shell words of one command line: spaces split, double quotes group (all the README uses). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** The toy budget: 8 problems, 80 steps at batch 4 and lr 5e-3, 3 eval problems (was 200 / 300 / 8 / 1e-4 / 20). */
function adaptCommand(line: string, init: string): string[] {
  const adapted = line
    .replace('./SmolLM2-135M', init)
    .replace(/--count 200\b/g, '--count 8')
    .replace('--count 20 ', '--count 3 ')
    .replace('--steps 300', '--steps 80')
    .replace('--batch-size 8', '--batch-size 4')
    .replace('--lr 1e-4', '--lr 5e-3');
  return words(adapted);
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

describe.skipIf(!hasModernFixtures)('README: Distil into SmolLM2 / Qwen3', () => {
  for (const name of ['llama', 'qwen3'] as const) {
    it(`the CLI block, with the ${name} fixture as the downloaded directory`, async () => {
      const { sh } = section();
      const work = join(tmp, `cli-${name}`);
      mkdirSync(work, { recursive: true });
      const init = await copyModernFixture(name, join(work, 'downloaded'), { bf16: name === 'llama', positions: 512 });
      const lines = sh.split('\n').filter((l) => l.startsWith('npx socratic-distill '));
      expect(lines.map((l) => words(l)[2])).toEqual(['generate', 'verify', 'train', 'solve', 'eval']);
      expect(lines.find((l) => l.includes('--init ./SmolLM2-135M'))).toBeDefined();
      const cwd = process.cwd();
      process.chdir(work);
      try {
        for (const line of lines) {
          stdout = '';
          const argv = adaptCommand(line, init).slice(2);
          expect(await main(argv), `${argv.join(' ')}\n${stderr}`).toBe(0);
          if (argv[0] === 'solve') {
            // The streamed steps, then the answer line.
            expect(stdout, stdout).toMatch(/^Q: .+\nA: .*$/m);
            expect(stdout, stdout).toMatch(/^#### (?!\(no answer\)).+$/m);
          }
        }
      } finally {
        process.chdir(cwd);
      }
      const student = join(work, 'students/smol-iterative');
      for (const half of ['qg', 'qa']) {
        // Saved as an HF directory with the model's own tokenizer beside it, no trimmed vocabulary.
        expect(readFileSync(join(student, half, 'tokenizer.json'), 'utf8')).toBe(readFileSync(join(init, 'tokenizer.json'), 'utf8'));
        expect(JSON.parse(readFileSync(join(student, half, 'config.json'), 'utf8'))).toMatchObject({ model_type: name, torch_dtype: 'float32', vocab_size: 1000 });
        expect(existsSync(join(student, half, 'trimmed_vocab.json'))).toBe(false);
      }
      const report = JSON.parse(readFileSync(join(work, 'eval-smol', 'report.json'), 'utf8')) as EvalReport;
      expect(report.summary.map((a) => a.kind)).toEqual(['iterative']);
    }, 120_000);
  }

  it('the library block, with the bf16 llama fixture as ./SmolLM2-135M', async () => {
    const { ts } = section();
    const work = join(tmp, 'lib');
    const init = await copyModernFixture('llama', join(work, 'downloaded'), { bf16: true, positions: 512 });
    const saved = join(work, 'students/smol-iterative');
    const code = ts
      .replace("from 'socratic-distill'", `from ${JSON.stringify(join(ROOT, 'src/index.ts'))}`)
      .replace("'./SmolLM2-135M'", JSON.stringify(init))
      .replaceAll("'students/smol-iterative'", JSON.stringify(saved))
      .replace('count: 200', 'count: 8')
      .replace('{ batchSize: 8, maxSteps: 300, lr: 1e-4 }', '{ batchSize: 4, maxSteps: 80, lr: 5e-3 }');
    expect(code).not.toContain('SmolLM2-135M\'');
    expect(code).toContain('maxSteps: 80');
    // Run in this process (vitest transforms the TypeScript), so the test pays for no second Node start.
    // Inside the repository (ignored), so that its imports resolve as the README's would.
    const dir = mkdtempSync(join(ROOT, '.tmp-readme-'));
    const file = join(dir, 'snippet.mts');
    writeFileSync(file, code);
    const logged: unknown[][] = [];
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logged.push(args));
    try {
      await import(/* @vite-ignore */ file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const [steps, answer] = logged.at(-1) as [Array<{ subquestion: string; solution: string }>, unknown];
    expect(steps.length).toBeGreaterThanOrEqual(1);
    expect(steps.every((s) => typeof s.subquestion === 'string' && s.subquestion.length > 0)).toBe(true);
    expect(answer).not.toBeNull();
    expect(readdirNames(saved)).toEqual(['qa', 'qg', 'student.json']);
    expect(readdirNames(join(saved, 'qg'))).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  }, 120_000);
});

const readdirNames = (dir: string): string[] => readdirSync(dir).sort();
