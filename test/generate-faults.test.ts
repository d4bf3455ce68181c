import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../src/data/index.js';
import { SocraticChainSchema, type Problem } from '../src/data/schema.js';
import { generateChains } from '../src/generate/index.js';
import { OpenAICompatibleTeacher } from '../src/teacher/index.js';
import { ChainVerifier } from '../src/verify/index.js';
import { FakeOpenAI, type Fault } from './fixtures-data/fake-openai.js';

const dir = mkdtempSync(join(tmpdir(), 'sd-gen-'));
const SECRET = 'sk-test-Q7hVx2SECRETkey9';
let server: FakeOpenAI | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function readChains(path: string) {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => SocraticChainSchema.parse(JSON.parse(l)));
}

const FAULTS: (Fault | undefined)[] = [undefined, '429', '500', '503', 'hang', 'reset', 'truncated', 'off-format', undefined, undefined];

describe('generateChains against a faulty OpenAI-compatible server', () => {
  it('completes 200 problems, each exactly once, through 429/5xx/hang/reset/torn JSON/off-format', async () => {
    const problems = generateSynthetic({ count: 200, seed: 21 });
    const index = new Map(problems.map((p, i) => [p.id, i]));
    server = await new FakeOpenAI({ problems, retryAfterSeconds: 1, faultsFor: (p, attempt) => (attempt === 0 ? FAULTS[index.get(p.id)! % 10] : undefined) }).start();
    // The timeout must comfortably exceed a loaded CI machine's response time, or a slow 429 turns into a timeout
    // (1.5 s flaked on the 2-core VM under a full suite; each 'hang' problem waits for it once).
    const teacher = new OpenAICompatibleTeacher({ baseURL: server.baseURL, apiKey: SECRET, model: 'fake-model', timeoutMs: 4000 });
    const out = join(dir, 'faults.jsonl');
    const progress: number[] = [];
    const summary = await generateChains({
      teacher, problems, out, concurrency: 16,
      retry: { baseDelayMs: 20, maxDelayMs: 100 },
      pricing: { promptPerMillion: 1, completionPerMillion: 2 },
      onProgress: (p) => progress.push(p.done),
    });
    expect(summary.failed).toEqual([]);
    expect([summary.completed, summary.chainsWritten, summary.alreadyDone]).toEqual([200, 200, 0]);
    const chains = readChains(out);
    expect(chains.map((c) => c.problemId).sort()).toEqual(problems.map((p) => p.id).sort());
    // Every fault kind was actually hit and then answered.
    const hit = new Set(server.log.filter((l) => l.fault).map((l) => l.fault));
    expect([...hit].sort()).toEqual(['429', '500', '503', 'hang', 'off-format', 'reset', 'truncated']);
    // Retry-After: 1 was honoured before the second request of each rate-limited problem.
    for (const p of problems.filter((_, i) => FAULTS[i % 10] === '429')) {
      const times = server.log.filter((l) => l.problemId === p.id).map((l) => l.at);
      expect(times.length).toBe(2);
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(900);
    }
    // Usage counts every billed reply: the 200 answers plus the 20 off-format ones (torn bodies carry none).
    expect(summary.usage).toEqual({ promptTokens: 220 * 100, completionTokens: 220 * 20 });
    expect(summary.costUSD).toBeCloseTo((22000 * 1 + 4400 * 2) / 1e6, 12);
    expect(progress.at(-1)).toBe(200);
    // The parsed chains are the gold ones, so the verifier keeps them all.
    const kept = new ChainVerifier({ checkArithmetic: true }).verifyAll(chains, problems);
    expect(kept.stats.kept).toBe(200);
    expect(chains[0]!.teacher).toMatchObject({ adapter: 'openai', model: 'fake-model', promptVersion: 'socratic-synthetic-v1' });
    // The key went to the server, and nowhere else.
    expect(server.log[0]!.authorization).toBe(`Bearer ${SECRET}`);
    expect(readFileSync(out, 'utf8')).not.toContain(SECRET);
  });

  it('lists persistent failures with their reason, never leaks the key, and retries them next run', async () => {
    const problems: Problem[] = generateSynthetic({ count: 30, seed: 4 });
    let healthy = false;
    const bad = new Map<string, Fault>([[problems[3]!.id, 'off-format'], [problems[7]!.id, '401-echo'], [problems[9]!.id, '503']]);
    server = await new FakeOpenAI({ problems, faultsFor: (p) => (healthy ? undefined : bad.get(p.id)) }).start();
    const teacher = new OpenAICompatibleTeacher({ baseURL: server.baseURL, apiKey: SECRET, timeoutMs: 10_000 });
    const out = join(dir, 'failures.jsonl');
    const first = await generateChains({ teacher, problems, out, concurrency: 4, retry: { maxAttempts: 3, baseDelayMs: 5 } });
    expect(first.completed).toBe(27);
    const byId = Object.fromEntries(first.failed.map((f) => [f.problemId, f]));
    expect(byId[problems[3]!.id]).toMatchObject({ kind: 'off-format', attempts: 2 });
    expect(byId[problems[7]!.id]).toMatchObject({ kind: 'client', attempts: 1 });
    expect(byId[problems[9]!.id]).toMatchObject({ kind: 'server', attempts: 3 });
    expect(byId[problems[7]!.id]!.reason).toContain('Incorrect API key provided: ***');
    const listed = readFileSync(first.failuresPath, 'utf8');
    expect(JSON.parse(listed).failures).toHaveLength(3);
    for (const text of [listed, readFileSync(out, 'utf8'), JSON.stringify(first)]) expect(text).not.toContain(SECRET);

    healthy = true;
    const second = await generateChains({ teacher, problems, out, concurrency: 4 });
    expect([second.alreadyDone, second.completed, second.failed.length]).toEqual([27, 3, 0]);
    expect(existsSync(first.failuresPath)).toBe(false);
    const ids = readChains(out).map((c) => c.problemId);
    expect(ids.length).toBe(30);
    expect(new Set(ids).size).toBe(30);
    expect(second.usageTotal.promptTokens).toBe(30 * 100);
  });

  it('stops cleanly on abort: nothing half-written, the rest done on resume', async () => {
    const problems = generateSynthetic({ count: 60, seed: 5 });
    const controller = new AbortController();
    server = await new FakeOpenAI({ problems, faultsFor: (p) => (!controller.signal.aborted && p.id.endsWith('7') ? 'hang' : undefined) }).start();
    // Requests that hang for longer than the whole test must be cancelled by the abort, not waited out.
    const teacher = new OpenAICompatibleTeacher({ baseURL: server.baseURL, apiKey: SECRET, timeoutMs: 60_000 });
    const started = Date.now();
    const out = join(dir, 'abort.jsonl');
    const summary = await generateChains({
      teacher, problems, out, concurrency: 4, signal: controller.signal,
      onProgress: (p) => p.done >= 20 && controller.abort(),
    });
    expect(summary.aborted).toBe(true);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(summary.failed).toEqual([]);
    const firstIds = readChains(out).map((c) => c.problemId);
    expect(firstIds.length).toBe(summary.completed);
    expect(summary.completed).toBeLessThan(60);
    const resumed = await generateChains({ teacher, problems, out, concurrency: 4 });
    expect(resumed.alreadyDone).toBe(firstIds.length);
    const ids = readChains(out).map((c) => c.problemId);
    expect(ids.sort()).toEqual(problems.map((p) => p.id).sort());
  });

  it('runs the CoT baseline mode through the same server, reading base URL and key from the environment', async () => {
    const problems = generateSynthetic({ count: 10, seed: 6 });
    server = await new FakeOpenAI({ problems }).start();
    const saved = { url: process.env.OPENAI_BASE_URL, key: process.env.OPENAI_API_KEY };
    process.env.OPENAI_BASE_URL = server.baseURL;
    process.env.OPENAI_API_KEY = SECRET;
    try {
      const out = join(dir, 'cot.jsonl');
      const summary = await generateChains({ teacher: new OpenAICompatibleTeacher({ timeoutMs: 10_000 }), problems, out, mode: 'cot' });
      expect(summary.completed).toBe(10);
      const chains = readChains(out);
      expect(chains.every((c) => c.steps.length === 0 && (c.rationale ?? '').includes('Final answer:'))).toBe(true);
      expect(chains[0]!.teacher.promptVersion).toBe('cot-synthetic-v1');
      expect(new ChainVerifier().verifyAll(chains, problems).stats.kept).toBe(10);
      expect(server.log.every((l) => l.authorization === `Bearer ${SECRET}`)).toBe(true);
    } finally {
      for (const [k, v] of [['OPENAI_BASE_URL', saved.url], ['OPENAI_API_KEY', saved.key]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
