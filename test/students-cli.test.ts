import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { generateSynthetic, goldChain } from '../src/data/index.js';

let stdout = '';
beforeEach(() => {
  stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => vi.restoreAllMocks());

describe('CLI train / solve / eval', () => {
  it('trains students from a chains file, solves one problem with streamed steps, and evaluates them together', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sd-cli-'));
    const problems = generateSynthetic({ count: 12, seed: 0 });
    const chains = join(dir, 'kept.jsonl');
    await writeFile(chains, problems.map((p) => JSON.stringify(goldChain(p))).join('\n') + '\n');
    const common = ['--chains', chains, '--dataset', 'synthetic', '--count', '12', '--n-embd', '32', '--n-layer', '1', '--n-head', '2', '--n-positions', '320', '--steps', '6', '--batch-size', '4'];
    expect(await main(['train', '--student', 'unified', '--out', join(dir, 'unified'), ...common])).toBe(0);
    expect(stdout).toMatch(/trained unified student: 6 steps/);
    expect(await main(['train', '--student', 'iterative', '--out', join(dir, 'iterative'), ...common])).toBe(0);
    expect(stdout).toMatch(/trained iterative student \(QG 6 steps/);

    stdout = '';
    expect(await main(['solve', '--student', join(dir, 'iterative'), '--max-steps', '2', '--json', problems[0]!.question])).toBe(0);
    const solved = JSON.parse(stdout) as { steps: unknown[]; stoppedBy: string };
    expect(solved.steps.length).toBeLessThanOrEqual(2);

    stdout = '';
    const out = join(dir, 'eval');
    expect(await main(['eval', '--student', join(dir, 'unified'), '--student', join(dir, 'iterative'), '--dataset', 'synthetic', '--count', '3', '--max-steps', '2', '--out', out])).toBe(0);
    expect(stdout).toContain('| Student |');
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as { summary: Array<{ kind: string }> };
    expect(report.summary.map((a) => a.kind)).toEqual(['unified', 'iterative']);
  });

  it('reports usage mistakes as errors, not crashes', async () => {
    expect(await main(['train', '--student', 'nope'])).toBe(1);
    expect(await main(['solve', '--student', '/nonexistent'])).toBe(1);
    expect(await main(['export', '--mode', 'qa'])).toBe(1);
  });
});
