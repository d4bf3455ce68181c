import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { generateSynthetic, goldChain } from '../src/data/index.js';

let stdout = '';
let stderr = '';
beforeEach(() => {
  stdout = '';
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
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

  it('trains a from-scratch Llama (--arch llama) and a shared Iterative student, which solve loads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sd-cli-llama-'));
    const problems = generateSynthetic({ count: 8, seed: 0 });
    const chains = join(dir, 'kept.jsonl');
    await writeFile(chains, problems.map((p) => JSON.stringify(goldChain(p))).join('\n') + '\n');
    const common = ['--chains', chains, '--dataset', 'synthetic', '--count', '8', '--n-embd', '32', '--n-layer', '1', '--n-head', '2', '--n-positions', '320', '--steps', '4', '--batch-size', '4'];
    expect(await main(['train', '--student', 'iterative', '--arch', 'llama', '--shared', '--out', join(dir, 'shared'), ...common]), stderr).toBe(0);
    expect(stdout).toMatch(/trained iterative student \(one shared model, 4 steps/);
    const config = JSON.parse(await readFile(join(dir, 'shared', 'model', 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ model_type: 'llama', hidden_size: 32, num_key_value_heads: 1, max_position_embeddings: 320 });
    stdout = '';
    expect(await main(['solve', '--student', join(dir, 'shared'), '--max-steps', '1', '--json', problems[0]!.question])).toBe(0);
    expect(JSON.parse(stdout)).toHaveProperty('stoppedBy');
    expect(await main(['train', '--student', 'unified', '--shared', '--out', join(dir, 'x'), ...common])).toBe(1);
    expect(stderr).toMatch(/--shared is for --student iterative/);
  });

  it('an --init directory of an unsupported architecture is refused in one line that lists the supported ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sd-cli-mistral-'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'mistral', vocab_size: 10 }));
    const problems = generateSynthetic({ count: 2, seed: 0 });
    const chains = join(dir, 'kept.jsonl');
    await writeFile(chains, problems.map((p) => JSON.stringify(goldChain(p))).join('\n') + '\n');
    expect(await main(['train', '--student', 'unified', '--init', dir, '--chains', chains, '--dataset', 'synthetic', '--count', '2', '--steps', '1', '--out', join(dir, 'out')])).toBe(1);
    expect(stderr).toBe(`socratic-distill train: ${join(dir, 'config.json')}: model_type "mistral" is not supported; supported: gpt2, llama, qwen2, qwen3 [MODEL_CONFIG_INVALID]\n`);
    stderr = '';
    expect(await main(['train', '--student', 'unified', '--init', dir, '--arch', 'llama', '--chains', chains, '--dataset', 'synthetic', '--count', '2', '--out', join(dir, 'out')])).toBe(1);
    expect(stderr).toMatch(/--arch is for students from scratch/);
  });
});
