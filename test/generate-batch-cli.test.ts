/** `generate --batch` in a real child process: SIGKILL at every stage, Ctrl-C, cancel, validation failure, cost cap (issue #20). */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { generateSynthetic } from '../src/data/index.js';
import { SocraticChainSchema } from '../src/data/schema.js';
import { BatchStateSchema } from '../src/generate/index.js';
import { FakeBatchServer, type FakeBatchOptions, type Stage } from './fixtures-data/fake-openai-batch.js';

const ROOT = resolve(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'sd-batch-cli-'));
const SECRET = 'sk-proj-BATCHcli-SECRET-8d21';
const logs: string[] = [];

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function cli(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/bin.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, OPENAI_API_KEY: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Awaited<Run['done']>>((r) => child.on('close', (code, signal) => (logs.push(stdout, stderr), r({ code, signal, stdout, stderr }))));
  return { child, done };
}

/** The CLI in this process (no child to start): for runs that need no signal. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const saved = process.env.OPENAI_API_KEY;
  process.env.OPENAI_API_KEY = SECRET;
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
    if (saved === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = saved;
    logs.push(stdout, stderr);
  }
}

let server: FakeBatchServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const chainKeys = (out: string) => readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => SocraticChainSchema.parse(JSON.parse(l))).map((c) => `${c.problemId}#${c.teacher.sampleIndex}`);

function batchArgs(out: string, extra: string[] = []): string[] {
  return ['generate', '--batch', '--dataset', 'synthetic', '--count', '20', '--seed', '0', '--base-url', server!.baseURL, '--model', 'gpt-4o-mini',
    '--out', out, '--poll-ms', '20', '--price-prompt', '0.15', '--price-completion', '0.6', '--json', ...extra];
}

async function startServer(options: Omit<FakeBatchOptions, 'problems'> = {}) {
  const problems = generateSynthetic({ count: 20, seed: 0 });
  server = await new FakeBatchServer({ problems, ...options }).start();
  return problems;
}

describe('generate --batch survives SIGKILL at every stage', () => {
  it('killed before the upload, after it, after the submit, while waiting and mid-download: every chain once, one batch, billed once', async () => {
    let killAt: Stage | undefined;
    let current: ChildProcess | undefined;
    const problems = await startServer({
      onStage: (stage) => {
        if (stage !== killAt) return false;
        killAt = undefined;
        current!.kill('SIGKILL');
        return true;
      },
    });
    const out = join(dir, 'killed.jsonl');
    const args = batchArgs(out, ['--samples', '2']);
    const seen: [number, number][] = [];
    for (const stage of ['upload:received', 'upload:stored', 'batch:created', 'batch:retrieve', 'content:partial'] as const) {
      killAt = stage;
      const run = cli(args);
      current = run.child;
      const r = await run.done;
      expect(r.signal, `${stage}: ${r.stderr}`).toBe('SIGKILL');
      expect(killAt).toBeUndefined();
      seen.push([server!.uploads, server!.batches.size]);
    }
    // Uploads the server kept and batches it made after each kill: the one upload and the one batch, never a second.
    expect(seen).toEqual([[0, 0], [1, 0], [1, 1], [1, 1], [1, 1]]);
    expect(existsSync(out) ? readFileSync(out, 'utf8') : '').toBe('');

    const final = await cli(args).done;
    expect(final.code, final.stderr).toBe(0);
    const summary = JSON.parse(final.stdout) as { resumed: boolean; chainsWritten: number; usage: unknown; costUSD: number; pricing: { source: string } };
    expect([summary.resumed, summary.chainsWritten]).toEqual([true, 40]);
    expect(summary.usage).toEqual({ promptTokens: 4000, completionTokens: 800 });
    expect(summary.pricing.source).toMatch(/0\.5 x the live price: the OpenAI Batch API's 50% discount/);
    expect(summary.costUSD).toBeCloseTo((4000 * 0.075 + 800 * 0.3) / 1e6, 12);
    const keys = chainKeys(out);
    expect(keys.sort()).toEqual(problems.flatMap((p) => [`${p.id}#0`, `${p.id}#1`]).sort());
    expect([server!.uploads, server!.batches.size, server!.submitted()[0]!.length]).toEqual([1, 1, 40]);
    const state = BatchStateSchema.parse(JSON.parse(readFileSync(`${out}.batch.json`, 'utf8')));
    expect(state.current).toBeNull();
    expect(state.history).toEqual([expect.objectContaining({ usage: { promptTokens: server!.billed.prompt, completionTokens: server!.billed.completion } })]);
    // The key reached the server on every call, and no file or log.
    expect(server!.calls.every((c) => c.authorization === `Bearer ${SECRET}`)).toBe(true);
    for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f), 'utf8')).not.toContain(SECRET);
    for (const text of logs) expect(text).not.toContain(SECRET);
  });
});

describe('generate --batch on the command line', () => {
  it('stops on a validation failure with the provider\'s message; Ctrl-C, --cancel, then the rest is resubmitted', async () => {
    const problems = await startServer({
      validationFailure: (b) => (b === 0 ? 'The model `gpt-4o-mini` does not exist or you do not have access to it.' : undefined),
      checksPerStatus: (b) => (b === 1 ? 1_000_000 : 1),
    });
    const out = join(dir, 'cancel.jsonl');
    const invalid = await inProcess(batchArgs(out));
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/generate: batch batch-\d+ failed: invalid_request: The model `gpt-4o-mini` does not exist or you do not have access to it\. \(request line 1\) \[BATCH_FAILED\]/);

    // The second batch stays in validation: interrupt the wait like Ctrl-C.
    const waiting = cli(batchArgs(out));
    let err = '';
    waiting.child.stderr!.on('data', (d) => {
      err += d;
      // Once: a second Ctrl-C quits at once, without the summary.
      if (/batch batch-\d+: validating/.test(err) && !waiting.child.killed) waiting.child.kill('SIGINT');
    });
    const stopped = await waiting.done;
    expect(stopped.code).toBe(130);
    expect(JSON.parse(stopped.stdout)).toMatchObject({ aborted: true, status: 'validating', chainsWritten: 0 });

    const cancel = await inProcess(batchArgs(out, ['--cancel']));
    expect(cancel.code).toBe(0);
    expect(JSON.parse(cancel.stdout)).toMatchObject({ status: 'cancelling' });
    const collected = await inProcess(batchArgs(out));
    expect(collected.code).toBe(1); // 10 samples still missing
    expect(JSON.parse(collected.stdout)).toMatchObject({ status: 'cancelled', chainsWritten: 10, missing: 10 });
    const rest = await inProcess(batchArgs(out).filter((a) => a !== '--json'));
    expect(rest.code, rest.stderr).toBe(0);
    expect(rest.stdout).toMatch(/^batch batch-\d+ completed: 10 chains written to .*cancel\.jsonl\n/);
    expect(rest.stdout).toContain('tokens billed: 1,000 prompt + 200 completion, from every response body; cost $0.0001 at the batch price ' +
      "$0.075/$0.3 per million prompt/completion tokens (0.5 x the live price: the OpenAI Batch API's 50% discount, --batch-discount to change); all batches of this file: $0.0003");
    expect(server!.submitted()[2]).toEqual(problems.slice(10).map((p) => `${p.id}#0`));
    expect(chainKeys(out).sort()).toEqual(problems.map((p) => `${p.id}#0`).sort());
    for (const text of logs) expect(text).not.toContain(SECRET);
  });

  it('--estimate counts without sending; --max-cost refuses live and batch work above the cap; --help states the pricing', async () => {
    await startServer();
    const help = await inProcess(['generate', '--help']);
    expect(help.stdout).toContain('[--batch [--cancel] | --write-requests FILE | --ingest FILE | --estimate] [--max-cost USD]');
    expect(help.stdout).toMatch(/The batch price is --batch-discount \(default 0\.5, the OpenAI Batch API's 50% discount\) times the live price/);
    const est = await inProcess(['generate', '--estimate', '--dataset', 'synthetic', '--count', '20', '--model', 'gpt-4o-mini', '--samples', '3', '--max-tokens', '256', '--price-prompt', '0.15', '--price-completion', '0.6']);
    expect(est.code, est.stderr).toBe(0);
    expect(est.stdout).toContain('estimate, nothing sent: 60 requests (20 problems x 3 samples), model gpt-4o-mini, max_tokens 256');
    expect(est.stdout).toMatch(/prompt tokens: [\d,]+ \(counted with o200k_base, gpt-4o-mini's tokenizer/);
    expect(est.stdout).toContain('completion tokens: at most 15,360 (60 requests x max_tokens 256)');
    expect(est.stdout).toMatch(/live: \$[\d.]+ prompt \+ at most \$0\.0092 completion = at most \$[\d.]+, at \$0\.15\/\$0\.6 per million prompt\/completion tokens \(--price-prompt\/--price-completion\)/);
    expect(est.stdout).toMatch(/batch: \$[\d.]+ prompt \+ at most \$0\.0046 completion/);
    const approx = await inProcess(['generate', '--estimate', '--dataset', 'synthetic', '--count', '2', '--model', 'Qwen/Qwen2.5-7B-Instruct', '--json']);
    expect(JSON.parse(approx.stdout)).toMatchObject({ requests: 2, counting: { exact: false, encoding: 'o200k_base' }, live: null, batch: null });

    const out = join(dir, 'capped.jsonl');
    const batch = await inProcess(batchArgs(out, ['--max-cost', '0.001']));
    expect(batch.code).toBe(1);
    expect(batch.stderr).toMatch(/could cost up to \$0\.\d{4}, above the cap of \$0\.0010 .*nothing was sent \[COST_LIMIT\]/);
    const liveRun = await inProcess(['generate', '--teacher', 'openai', '--dataset', 'synthetic', '--count', '20', '--base-url', server!.baseURL, '--out', out,
      '--price-prompt', '0.15', '--price-completion', '0.6', '--max-cost', '0.001']);
    expect(liveRun.code).toBe(1);
    expect(liveRun.stderr).toMatch(/above the cap of \$0\.0010 \(20 requests: .*nothing was sent \[COST_LIMIT\]/);
    expect(server!.calls).toEqual([]);
    expect(existsSync(`${out}.batch.json`) || existsSync(out)).toBe(false);
  });
});
