/** generateChainsBatch against a loopback Batch API (issue #20): resume by batch id, failures, billing once. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../src/data/index.js';
import { SocraticChainSchema, type SocraticChain } from '../src/data/schema.js';
import { BatchFailedError, CostLimitError, TeacherError } from '../src/errors.js';
import {
  BatchRequestLineSchema,
  BatchStateSchema,
  batchPricing,
  cancelChainsBatch,
  generateChains,
  generateChainsBatch,
  type GenerateBatchOptions,
} from '../src/generate/index.js';
import { buildMessages, OpenAICompatibleTeacher } from '../src/teacher/index.js';
import { ChainVerifier } from '../src/verify/index.js';
import { FakeOpenAI } from './fixtures-data/fake-openai.js';
import { FakeBatchServer, type FakeBatchOptions } from './fixtures-data/fake-openai-batch.js';

const dir = mkdtempSync(join(tmpdir(), 'sd-batch-'));
const SECRET = 'sk-batch-Zq81SECRETkey77';
let server: FakeBatchServer | undefined;
let live: FakeOpenAI | undefined;
afterEach(async () => {
  await server?.close();
  await live?.close();
  server = live = undefined;
});

const readChains = (p: string): SocraticChain[] => (existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => SocraticChainSchema.parse(JSON.parse(l))) : []);
const key = (c: SocraticChain) => `${c.problemId}#${c.teacher.sampleIndex}`;
const state = (out: string) => BatchStateSchema.parse(JSON.parse(readFileSync(`${out}.batch.json`, 'utf8')));

async function start(options: Omit<FakeBatchOptions, 'problems'>, problems = generateSynthetic({ count: 12, seed: 3 })) {
  server = await new FakeBatchServer({ problems, ...options }).start();
  const teacher = new OpenAICompatibleTeacher({ baseURL: server.baseURL, apiKey: SECRET, model: 'gpt-4o-mini', timeoutMs: 10_000 });
  const run = (out: string, extra: Partial<GenerateBatchOptions> = {}) =>
    generateChainsBatch({ teacher, problems, out, poll: { firstDelayMs: 5, maxDelayMs: 20 }, retry: { baseDelayMs: 5, maxDelayMs: 20 }, ...extra });
  return { problems, teacher, run };
}

/** No file the runs wrote, in the whole test directory, holds the key. */
function expectNoKeyInFiles(): void {
  for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f), 'utf8')).not.toContain(SECRET);
}

describe('generateChainsBatch', () => {
  it('writes the chains the live path writes, bills every reply at the batch price, and resumes nothing twice', async () => {
    const { problems, teacher, run } = await start({});
    const out = join(dir, 'happy.jsonl');
    const phases: string[] = [];
    const pricing = { ...batchPricing({ promptPerMillion: 0.15, completionPerMillion: 0.6 }), source: 'test: half of $0.15/$0.60' };
    const s = await run(out, { samplesPerProblem: 2, pricing, onProgress: (p) => phases.push(p.phase) });
    expect(s).toMatchObject({ status: 'completed', requests: 24, chainsWritten: 24, missing: 0, failed: [], resumed: false, aborted: false });
    expect(s.usage).toEqual({ promptTokens: 2400, completionTokens: 480 });
    expect(s.costUSD).toBeCloseTo((2400 * 0.075 + 480 * 0.3) / 1e6, 12);
    expect(s.pricing).toEqual({ promptPerMillion: 0.075, completionPerMillion: 0.3, source: 'test: half of $0.15/$0.60' });
    expect(new Set(phases)).toEqual(new Set(['planned', 'uploaded', 'submitted', 'waiting', 'downloading', 'ingested']));
    // The request lines the server received: one per (problem, sample), the live path's body.
    const [upload] = [...server!.files.values()];
    const lines = upload!.bytes.toString('utf8').trim().split('\n').map((l) => BatchRequestLineSchema.parse(JSON.parse(l)));
    expect(lines.map((l) => l.custom_id)).toEqual(problems.flatMap((p) => [`${p.id}#0`, `${p.id}#1`]));
    expect(lines[0]!.body).toEqual({ model: 'gpt-4o-mini', messages: buildMessages(problems[0]!, 'socratic'), temperature: 0.7, max_tokens: 512 });
    expect(upload!.purpose).toBe('batch');

    // The same problems through the live path, against a chat server that gives the same answers.
    live = await new FakeOpenAI({ problems }).start();
    const liveOut = join(dir, 'happy-live.jsonl');
    await generateChains({ teacher: new OpenAICompatibleTeacher({ baseURL: live.baseURL, apiKey: SECRET, model: 'gpt-4o-mini' }), problems, out: liveOut, samplesPerProblem: 2 });
    const byKey = (a: SocraticChain, b: SocraticChain) => key(a).localeCompare(key(b));
    expect(readChains(out).sort(byKey)).toEqual(readChains(liveOut).sort(byKey));
    expect(new ChainVerifier({ checkArithmetic: true }).verifyAll(readChains(out), problems).stats.kept).toBe(24);

    const st = state(out);
    expect(st.current).toBeNull();
    expect(st.history).toEqual([expect.objectContaining({ batchId: s.batchId, status: 'completed', chainsWritten: 24, usage: s.usage })]);
    expect(existsSync(`${out}.batch-requests.jsonl`)).toBe(false);
    // Done: a rerun sends nothing.
    const again = await run(out, { samplesPerProblem: 2 });
    expect([again.requests, again.chainsWritten, again.missing, server!.batches.size, server!.uploads]).toEqual([0, 0, 0, 1, 1]);
    expect(server!.calls.every((c) => c.authorization === `Bearer ${SECRET}`)).toBe(true);
    expectNoKeyInFiles();
  });

  it('lists failed lines with their error, bills off-format replies, and resubmits only those', async () => {
    const problems = generateSynthetic({ count: 10, seed: 4 });
    const faults = new Map<string, 'error-500' | 'off-format'>([[`${problems[1]!.id}#0`, 'error-500'], [`${problems[4]!.id}#0`, 'error-500'], [`${problems[6]!.id}#0`, 'off-format']]);
    const { run } = await start({ lineFault: (id, batch) => (batch === 0 ? faults.get(id) : undefined) }, problems);
    const out = join(dir, 'faults.jsonl');
    const first = await run(out);
    expect([first.chainsWritten, first.missing]).toEqual([7, 3]);
    expect(first.failed.map((f) => [f.customId, f.kind])).toEqual([[`${problems[1]!.id}#0`, 'server'], [`${problems[4]!.id}#0`, 'server'], [`${problems[6]!.id}#0`, 'off-format']]);
    expect(first.failed[0]!.reason).toContain('The server had an error');
    // Off-format replies are billed like any other; 500s carry no usage.
    expect(first.usage).toEqual({ promptTokens: 800, completionTokens: 160 });
    const listed = JSON.parse(readFileSync(first.failuresPath, 'utf8')) as { failures: { customId: string; reason: string }[] };
    expect(listed.failures.map((f) => f.customId)).toEqual(first.failed.map((f) => f.customId));

    const second = await run(out);
    expect(server!.submitted()[1]!.sort()).toEqual([...faults.keys()].sort());
    expect([second.chainsWritten, second.missing, second.failed.length]).toEqual([3, 0, 0]);
    expect(existsSync(first.failuresPath)).toBe(false);
    expect(readChains(out).map(key).sort()).toEqual(problems.map((p) => `${p.id}#0`).sort());
    expect(second.usageAllBatches).toEqual({ promptTokens: 1100, completionTokens: 220 });
    expect(second.usageAllBatches).toEqual({ promptTokens: server!.billed.prompt, completionTokens: server!.billed.completion });
  });

  it('keeps what an expired batch completed and resubmits the rest', async () => {
    const { problems, run } = await start({ expireAfter: (batch) => (batch === 0 ? 5 : undefined) });
    const out = join(dir, 'expired.jsonl');
    const first = await run(out);
    expect([first.status, first.chainsWritten, first.missing]).toEqual(['expired', 5, 7]);
    expect(first.failed.every((f) => f.kind === 'expired' && f.reason.startsWith('batch_expired'))).toBe(true);
    const second = await run(out);
    expect(server!.submitted()[1]).toEqual(problems.slice(5).map((p) => `${p.id}#0`));
    expect([second.status, second.chainsWritten, second.missing]).toEqual(['completed', 7, 0]);
    expect(readChains(out)).toHaveLength(12);
  });

  it('splits work beyond the per-batch limits over runs', async () => {
    const { problems, run } = await start({});
    const out = join(dir, 'split.jsonl');
    const first = await run(out, { maxRequestsPerBatch: 5 });
    expect([first.requests, first.chainsWritten, first.missing]).toEqual([5, 5, 7]);
    // A byte limit below one line still sends one line per batch.
    const second = await run(out, { maxBytesPerBatch: 1 });
    expect([second.requests, second.missing]).toEqual([1, 6]);
    const third = await run(out);
    expect([third.requests, third.missing]).toEqual([6, 0]);
    expect(server!.submitted().map((b) => b.length)).toEqual([5, 1, 6]);
    expect(server!.submitted().flat()).toEqual(problems.map((p) => `${p.id}#0`));
  });

  it('stops with the provider\'s message when the batch fails validation, then plans again', async () => {
    const { run } = await start({ validationFailure: (batch) => (batch === 0 ? 'The model `gpt-4o-mini` does not exist or you do not have access to it.' : undefined) });
    const out = join(dir, 'invalid.jsonl');
    const err = await run(out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchFailedError);
    expect((err as Error).message).toMatch(/^batch batch-\d+ failed: invalid_request: The model `gpt-4o-mini` does not exist .* \(request line 1\)$/);
    expect(readChains(out)).toEqual([]);
    expect(state(out)).toMatchObject({ current: null, history: [{ status: 'failed', usage: { promptTokens: 0, completionTokens: 0 } }] });
    const s = await run(out);
    expect([s.chainsWritten, server!.batches.size]).toEqual([12, 2]);
  });

  it('downloads a torn output file again; a persistently torn one stops the run and the next run reads it once', async () => {
    let tear = (n: number): boolean => n === 0;
    const { run } = await start({ tearDownload: (n) => tear(n) });
    const out = join(dir, 'torn.jsonl');
    const s = await run(out);
    expect([s.chainsWritten, s.duplicates]).toEqual([12, 0]);
    expect(readChains(out)).toHaveLength(12);

    const out2 = join(dir, 'torn2.jsonl');
    tear = () => true;
    const err = await run(out2, { retry: { maxAttempts: 2, baseDelayMs: 1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TeacherError);
    expect((err as Error).message).toMatch(/arrived incomplete 2 times \(file file-\d+ ends mid-line at line \d+\); nothing was written/);
    expect(readChains(out2)).toEqual([]);
    expect(state(out2).current?.batchId).toBeDefined();
    tear = () => false;
    const resumed = await run(out2);
    expect([resumed.resumed, resumed.chainsWritten, server!.batches.size]).toEqual([true, 12, 2]);
    expect(state(out2).history).toHaveLength(1);
  });

  it('after a crash between writing the chains and recording the batch, reads it again without writing or billing twice', async () => {
    const { run } = await start({});
    const out = join(dir, 'crash-ingest.jsonl');
    let snapshot = '';
    const s = await run(out, { onProgress: (p) => { if (p.phase === 'downloading') snapshot = readFileSync(`${out}.batch.json`, 'utf8'); } });
    expect(s.chainsWritten).toBe(12);
    // As if killed after the append: the state still names the batch, and the append tore its last line.
    writeFileSync(`${out}.batch.json`, snapshot);
    const full = readFileSync(out, 'utf8');
    writeFileSync(out, full.slice(0, full.length - 40));
    const again = await run(out);
    expect([again.resumed, again.chainsWritten, again.duplicates, server!.batches.size, server!.uploads]).toEqual([true, 1, 11, 1, 1]);
    expect(again.repairedTruncatedBytes).toBeGreaterThan(0);
    expect(new Set(readChains(out).map(key)).size).toBe(12);
    expect(readChains(out)).toHaveLength(12);
    // Billed once: one history entry for the batch, with every line's usage.
    expect(state(out).history).toEqual([expect.objectContaining({ batchId: s.batchId, usage: { promptTokens: 1200, completionTokens: 240 } })]);
  });

  it('Ctrl-C while waiting leaves the batch running; cancel, then the next runs keep what completed and resubmit the rest', async () => {
    const { problems, teacher, run } = await start({ checksPerStatus: (batch) => (batch === 0 ? 1_000_000 : 1) });
    const out = join(dir, 'cancel.jsonl');
    const controller = new AbortController();
    const stopped = await run(out, { signal: controller.signal, onProgress: (p) => p.phase === 'waiting' && controller.abort() });
    expect([stopped.aborted, stopped.status, stopped.chainsWritten]).toEqual([true, 'validating', 0]);
    // The submitted batch is resumed as it was sent: another model would put the wrong name on its chains.
    const other = new OpenAICompatibleTeacher({ baseURL: server!.baseURL, apiKey: SECRET, model: 'gpt-4o' });
    await expect(run(out, { teacher: other })).rejects.toThrow(/option 'teacher' must match the batch recorded in .*cancel\.jsonl\.batch\.json \(model 'gpt-4o-mini'/);
    expect(await cancelChainsBatch({ out, teacher })).toEqual({ batchId: stopped.batchId, status: 'cancelling' });
    const collected = await run(out);
    expect([collected.resumed, collected.status, collected.chainsWritten]).toEqual([true, 'cancelled', 6]);
    expect(collected.failed.every((f) => f.kind === 'cancelled')).toBe(true);
    expect(await cancelChainsBatch({ out, teacher })).toEqual({ batchId: undefined, status: 'none' });
    const last = await run(out);
    expect(server!.submitted()[1]).toEqual(problems.slice(6).map((p) => `${p.id}#0`));
    expect([last.chainsWritten, last.missing]).toEqual([6, 0]);
  });

  it('refuses work above the cost cap before uploading anything; redacts a key the provider echoes', async () => {
    const { run } = await start({ rejectFirst: '/files' });
    const out = join(dir, 'cap.jsonl');
    const pricing = { promptPerMillion: 100, completionPerMillion: 100 };
    const err = await run(out, { pricing, maxCostUSD: 0.01 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CostLimitError);
    expect((err as Error).message).toMatch(/could cost up to \$\d+\.\d{4}, above the cap of \$0\.0100 \(12 requests: \d+ prompt tokens \(o200k_base\) \+ at most 6144 completion tokens/);
    expect([server!.calls.length, existsSync(`${out}.batch.json`)]).toEqual([0, false]);
    // The first call (the upload) gets a 401 that echoes the key: the run stops, and the key is masked.
    const rejected = await run(out).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(TeacherError);
    expect((rejected as Error).message).toContain('Incorrect API key provided: ***');
    expect((rejected as Error).message).not.toContain(SECRET);
    expectNoKeyInFiles();
  });
});
