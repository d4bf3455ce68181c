/** Token accounting and the one retry policy, counted on a real loopback server (issue #12, item 3). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { generateSynthetic } from '../src/data/index.js';
import { generateChains } from '../src/generate/index.js';
import { OpenAICompatibleTeacher } from '../src/teacher/index.js';
import { FakeOpenAI } from './fixtures-data/fake-openai.js';

const dir = mkdtempSync(join(tmpdir(), 'sd-accounting-'));
let server: FakeOpenAI | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await server?.close();
  server = undefined;
});

describe('one retry policy with a bounded number of requests', () => {
  it('a persistent HTTP 500 costs exactly maxAttempts requests per problem (the SDK does not retry on top)', async () => {
    const problems = generateSynthetic({ count: 4, seed: 8 });
    const broken = problems[1]!.id;
    server = await new FakeOpenAI({ problems, faultsFor: (p) => (p.id === broken ? '500' : undefined) }).start();
    const teacher = new OpenAICompatibleTeacher({ baseURL: server.baseURL, apiKey: 'k', timeoutMs: 10_000 });
    const summary = await generateChains({ teacher, problems, out: join(dir, '500.jsonl'), retry: { baseDelayMs: 1, maxDelayMs: 5 } });
    const requests = server.log.filter((l) => l.problemId === broken).length;
    expect(requests).toBe(5);
    expect(summary.retry.maxAttempts).toBe(5);
    expect(summary.failed).toEqual([expect.objectContaining({ problemId: broken, kind: 'server', attempts: 5 })]);
    // 3 healthy problems in one attempt each, plus the 5 attempts at the broken one.
    expect(summary.attempts).toBe(8);
    expect(server.log.length).toBe(8);
    // A 500 carries no usage; only the three answers were billed.
    expect(summary.usage).toEqual({ promptTokens: 300, completionTokens: 60 });
  });

  it('counts the tokens of off-format replies, which the API bills like any other', async () => {
    const problems = generateSynthetic({ count: 3, seed: 9 });
    const offFormat = problems[0]!.id;
    server = await new FakeOpenAI({ problems, faultsFor: (p) => (p.id === offFormat ? 'off-format' : undefined) }).start();
    const teacher = new OpenAICompatibleTeacher({ baseURL: server.baseURL, apiKey: 'k', timeoutMs: 10_000 });
    const summary = await generateChains({
      teacher, problems, out: join(dir, 'off.jsonl'), retry: { baseDelayMs: 1 },
      pricing: { promptPerMillion: 1_000_000, completionPerMillion: 1_000_000 },
    });
    expect(server.log.filter((l) => l.problemId === offFormat).length).toBe(2);
    expect(summary.failed).toEqual([expect.objectContaining({ problemId: offFormat, kind: 'off-format', attempts: 2 })]);
    // 4 replies came back (2 good, 2 off-format): all 4 are billed at 100 + 20 tokens.
    expect(summary.usage).toEqual({ promptTokens: 400, completionTokens: 80 });
    expect(summary.costUSD).toBe(480);
  });
});

describe('generate on the command line', () => {
  async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
    const code = await main(args);
    vi.restoreAllMocks();
    return { code, stdout, stderr };
  }

  it('states the retry policy in --help', async () => {
    const { stdout } = await cli(['generate', '--help']);
    expect(stdout).toContain('[--max-attempts N]');
    expect(stdout).toMatch(/tried at most --max-attempts times \(default 5\)/);
    expect(stdout).toMatch(/at most\n?\s*--max-attempts requests per problem and sample/);
    expect(stdout).not.toContain('--max-retries');
  });

  it('reports every billed reply and the attempts made in the run summary', async () => {
    const problems = generateSynthetic({ count: 3, seed: 0 });
    server = await new FakeOpenAI({ problems, faultsFor: (p) => (p.id === problems[2]!.id ? 'off-format' : undefined) }).start();
    const saved = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = 'k';
    try {
      const r = await cli(['generate', '--teacher', 'openai', '--base-url', server.baseURL, '--dataset', 'synthetic', '--count', '3',
        '--out', join(dir, 'cli.jsonl'), '--max-attempts', '3', '--price-prompt', '1', '--price-completion', '1']);
      expect(r.code).toBe(1); // one problem failed
      expect(r.stdout).toContain('tokens this run: 400 prompt + 80 completion, every reply counted, cost $0.0005');
      expect(r.stdout).toContain('teacher attempts this run: 4 (retry policy: at most 3 per problem on 429/5xx/timeouts, 2 on off-format replies)');
    } finally {
      if (saved === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved;
    }
  });
});
