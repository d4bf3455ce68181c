import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../src/data/index.js';
import { SocraticChainSchema } from '../src/data/schema.js';
import { FakeOpenAI } from './fixtures-data/fake-openai.js';
import { SHARED_DATA, hasSharedData } from './fixtures-data/shared.js';

const ROOT = resolve(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'sd-cli-'));
const SECRET = 'sk-cli-SECRET-4f9a77';

/** Run the CLI in a real child process (node --import tsx, no npx wrapper, so signals reach it). */
function cli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/bin.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((r) =>
    child.on('close', (code, signal) => r({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

function lines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  } catch {
    return [];
  }
}

async function waitFor(cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

let server: FakeOpenAI | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('generate CLI survives SIGKILL and resumes', () => {
  it('every problem is present exactly once after a kill mid-run, a torn line and a resume', async () => {
    const problems = generateSynthetic({ count: 150, seed: 0 });
    server = await new FakeOpenAI({ problems, delayMs: 30 }).start();
    const out = join(dir, 'killed.jsonl');
    const args = ['generate', '--teacher', 'openai', '--dataset', 'synthetic', '--count', '150', '--seed', '0',
      '--base-url', server.baseURL, '--model', 'fake', '--concurrency', '4', '--out', out, '--json'];
    const env = { OPENAI_API_KEY: SECRET };
    const first = cli(args, env);
    await waitFor(() => lines(out).length >= 40);
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    const before = lines(out).length;
    expect(before).toBeLessThan(150);
    // What a crash in the middle of an append leaves behind.
    appendFileSync(out, '{"problemId":"synthetic-0-149","steps":[{"subq');

    const second = await cli(args, env).done;
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    const summary = JSON.parse(second.stdout);
    expect(summary.alreadyDone).toBe(before);
    expect(summary.completed).toBe(150 - before);
    expect(summary.repairedTruncatedBytes).toBeGreaterThan(0);
    const ids = lines(out).map((l) => SocraticChainSchema.parse(JSON.parse(l)).problemId);
    expect(ids.length).toBe(150);
    expect(new Set(ids)).toEqual(new Set(problems.map((p) => p.id)));
    expect(readFileSync(out, 'utf8')).not.toContain(SECRET);
    // The key came from OPENAI_API_KEY and went only to the server.
    expect(server.log.every((l) => l.authorization === `Bearer ${SECRET}`)).toBe(true);
    // Each problem was requested once, except the few in flight at the kill.
    expect(server.log.length - 150).toBeLessThanOrEqual(4);
  });

  it('Ctrl-C (SIGINT) stops cleanly with exit code 130 and a consistent file', async () => {
    const problems = generateSynthetic({ count: 100, seed: 1 });
    server = await new FakeOpenAI({ problems, delayMs: 30 }).start();
    const out = join(dir, 'interrupted.jsonl');
    const run = cli(['generate', '--teacher', 'openai', '--dataset', 'synthetic', '--count', '100', '--seed', '1',
      '--base-url', server.baseURL, '--concurrency', '2', '--out', out], { OPENAI_API_KEY: SECRET });
    await waitFor(() => lines(out).length >= 10);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/^stopped: \d+\/100 problems done/m);
    const chains = lines(out).map((l) => SocraticChainSchema.parse(JSON.parse(l)));
    expect(new Set(chains.map((c) => c.problemId)).size).toBe(chains.length);
    expect(chains.length).toBeLessThan(100);
  });
});

describe('verify CLI', () => {
  it('prints the JSON summary and writes the kept chains', async () => {
    const chains = join(dir, 'sim.jsonl');
    const gen = await cli(['generate', '--teacher', 'simulated', '--dataset', 'synthetic', '--count', '80', '--error-rate', '0.25', '--out', chains, '--json']).done;
    expect(gen.code).toBe(0);
    const kept = join(dir, 'kept.jsonl');
    const r = await cli(['verify', '--dataset', 'synthetic', '--count', '80', '--chains', chains, '--out', kept, '--check-arithmetic', '--json']).done;
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(Object.keys(s)).toEqual(['total', 'kept', 'rejected', 'reasons']);
    expect(s.total).toBe(80);
    expect(s.kept + s.rejected).toBe(80);
    expect(s.rejected).toBeGreaterThan(0);
    expect(s.reasons.ok).toBe(s.kept);
    expect(lines(kept).length).toBe(s.kept);
    expect(lines(kept).every((l) => JSON.parse(l).verdict.kept === true)).toBe(true);
  });

  it.skipIf(!hasSharedData)('verifies annotation chains for SVAMP against the dataset (the one bad equation is rejected)', async () => {
    const chains = join(dir, 'svamp.jsonl');
    const data = join(SHARED_DATA, 'svamp');
    const gen = await cli(['generate', '--teacher', 'annotation', '--dataset', 'svamp', '--data', data, '--split', 'all', '--out', chains, '--json']).done;
    expect(JSON.parse(gen.stdout).completed).toBe(1000);
    const r = await cli(['verify', '--dataset', 'svamp', '--data', data, '--split', 'all', '--chains', chains, '--out', join(dir, 'svk.jsonl'), '--json']).done;
    expect(JSON.parse(r.stdout)).toEqual({ total: 1000, kept: 999, rejected: 1, reasons: { ok: 999, 'final-answer-mismatch': 1 } });
  });

  it('bad flags and files give one line on stderr and a non-zero exit', async () => {
    const cases: [string[], RegExp][] = [
      [['verify', '--dataset', 'gsm8k', '--chains', 'x.jsonl', '--out', 'y'], /--data <path> is required/],
      [['verify', '--dataset', 'synthetic', '--chains', join(dir, 'nope.jsonl'), '--out', join(dir, 'y.jsonl')], /nope\.jsonl: no chains found/],
      [['generate', '--teacher', 'simulated', '--dataset', 'synthetic', '--out', join(dir, 'z.jsonl'), '--samples', 'two'], /--samples must be an integer/],
      [['generate', '--frobnicate'], /Unknown option '--frobnicate'/],
    ];
    const bad = join(dir, 'bad-chains.jsonl');
    writeFileSync(bad, '{"problemId":"a","steps":[],"finalAnswer":1,"teacher":{"adapter":"x"}}\n{"problemId":""}\n{}\n');
    for (const [args, pattern] of cases) {
      const r = await cli(args).done;
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
    // A file with several bad lines: one error, the summary line, then every bad line with its number.
    const r = await cli(['verify', '--dataset', 'synthetic', '--chains', bad, '--out', join(dir, 'y.jsonl')]).done;
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe(`socratic-distill verify: ${bad}: 2 bad rows; fix them all, then run again: [DATASET_FORMAT]`);
    expect(lines.slice(1)).toHaveLength(2);
    expect(lines[1]).toMatch(/^ {2}.*bad-chains\.jsonl:2: problemId: /);
    expect(lines[2]).toMatch(/^ {2}.*bad-chains\.jsonl:3: problemId: Required$/);
  });
});
