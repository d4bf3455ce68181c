/** Bad input must be refused or counted, never turned into a quiet success (issue #12, item 4). */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { SocraticDataset } from '../src/data/index.js';
import type { Problem, SocraticChain } from '../src/data/schema.js';
import { DatasetFormatError } from '../src/errors.js';
import { parseDecomposition } from '../src/teacher/index.js';
import { ChainVerifier } from '../src/verify/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'sd-integrity-'));

/** Run the CLI in-process and capture what it prints. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
afterEach(() => vi.restoreAllMocks());

describe("onInvalid: 'skip'", () => {
  it('skips a line of broken JSON too, counting it with its line number, and keeps later ids stable', async () => {
    const f = join(tmp, 'mixed.jsonl');
    writeFileSync(f, [
      JSON.stringify({ id: 'a', question: 'q?', answer: 1 }),
      '{"id": "b", "question": "torn',
      JSON.stringify({ id: 'c', question: '', answer: 1 }),
      JSON.stringify({ id: 'd', question: 'q?', answer: 2 }),
    ].join('\n'));
    await expect(SocraticDataset.load({ dataset: 'jsonl', path: f })).rejects.toThrow(/mixed\.jsonl:2: invalid JSON/);
    const d = await SocraticDataset.load({ dataset: 'jsonl', path: f, onInvalid: 'skip' });
    expect(d.problems.map((p) => p.id)).toEqual(['a', 'd']);
    expect(d.skipped).toBe(2);
    expect(d.invalid.map((e) => e.line)).toEqual([2, 3]);
    expect(d.invalid[0]).toBeInstanceOf(DatasetFormatError);
    expect(d.invalid[0]!.message).toMatch(/mixed\.jsonl:2: invalid JSON/);

    // GSM8K ids come from row positions: a skipped broken line must not shift the ids after it.
    const gsm = join(tmp, 'test.jsonl');
    const row = (n: number) => JSON.stringify({ question: `q${n}?`, answer: `x ** y\n#### ${n}` });
    writeFileSync(gsm, [row(0), '{not json', row(2)].join('\n') + '\n');
    const g = await SocraticDataset.load({ dataset: 'gsm8k', path: gsm, onInvalid: 'skip' });
    expect(g.problems.map((p) => [p.id, p.answer])).toEqual([['gsm8k-test-0', 0], ['gsm8k-test-2', 2]]);
    expect(g.invalid.map((e) => e.line)).toEqual([2]);
  });
});

describe('a final answer the parser cannot read', () => {
  const problem: Problem = { id: 'p1', dataset: 'gsm8k', question: 'Clips in April and May?', answer: 72 };
  const text = 'Q1: How many in May?\nA1: 48/2 = 24.\nQ2: How many in total?\nA2: 48 + 24 = 72.\nFinal answer: seventy-two';

  it('is kept verbatim by the parser instead of being replaced by the last step', () => {
    const parsed = parseDecomposition(text, 'gsm8k')!;
    expect(parsed.steps.at(-1)!.answer).toBe(72);
    expect(parsed.finalAnswer).toBe('seventy-two');
    // Readable answers and chains without a stated answer behave as before.
    expect(parseDecomposition(text.replace('seventy-two', '$72.'), 'gsm8k')!.finalAnswer).toBe(72);
    expect(parseDecomposition(text.replace('\nFinal answer: seventy-two', ''), 'gsm8k')!.finalAnswer).toBe(72);
  });

  it('makes the verifier reject the chain as unparseable-final-answer, even though the last step is right', () => {
    const parsed = parseDecomposition(text, 'gsm8k')!;
    const chain: SocraticChain = { problemId: 'p1', steps: parsed.steps, finalAnswer: parsed.finalAnswer, teacher: { adapter: 'test', sampleIndex: 0 } };
    const verdict = new ChainVerifier({ checkArithmetic: true }).verify(chain, problem);
    expect(verdict).toEqual({ kept: false, reason: 'unparseable-final-answer', detail: "final answer 'seventy-two' is not a number" });
    const yesNo: Problem = { id: 'p2', dataset: 'strategyqa', question: 'Is it?', answer: true };
    const maybe: SocraticChain = { problemId: 'p2', steps: [{ subquestion: 'Is it?', solution: 'Yes.', answer: true }], finalAnswer: 'perhaps', teacher: { adapter: 'test', sampleIndex: 0 } };
    expect(new ChainVerifier().verify(maybe, yesNo).reason).toBe('unparseable-final-answer');
    expect(new ChainVerifier().verify({ ...chain, finalAnswer: '72' }, problem)).toEqual({ kept: true, reason: 'ok' });
  });
});

describe('the command line refuses to do nothing', () => {
  it('exits non-zero on --limit 0 and writes no file', async () => {
    const out = join(tmp, 'limit0.jsonl');
    const r = await cli(['generate', '--teacher', 'simulated', '--dataset', 'synthetic', '--limit', '0', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("socratic-distill generate: --limit must be an integer >= 1, got '0' [CLI_USAGE]\n");
    expect(existsSync(out)).toBe(false);
  });

  it('exits non-zero on an empty dataset file, naming it', async () => {
    const empty = join(tmp, 'empty.jsonl');
    writeFileSync(empty, '\n');
    const out = join(tmp, 'empty-out.jsonl');
    const r = await cli(['generate', '--teacher', 'simulated', '--dataset', 'jsonl', '--data', empty, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${empty}: no problems in the train split`);
    expect(r.stderr).toContain('[DATASET_FORMAT]');
    expect(existsSync(out)).toBe(false);
  });

  it('reports the real validation error for a negative number, not "argument is ambiguous"', async () => {
    const r = await cli(['generate', '--teacher', 'simulated', '--dataset', 'synthetic', '--count', '-5', '--out', join(tmp, 'neg.jsonl')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("socratic-distill generate: --count must be an integer >= 1, got '-5' [CLI_USAGE]\n");
    const temp = await cli(['generate', '--teacher', 'simulated', '--dataset', 'synthetic', '--temperature', '-0.5', '--out', join(tmp, 'neg.jsonl')]);
    expect(temp.stderr).toBe("socratic-distill generate: --temperature must be a number in [0, 2], got '-0.5' [CLI_USAGE]\n");
    const solve = await cli(['solve', '--student', tmp, '--max-steps', '-1', 'What is 2 + 2?']);
    expect(solve.stderr).toBe('socratic-distill solve: --max-steps must be a positive integer [CLI_USAGE]\n');
  });
});
