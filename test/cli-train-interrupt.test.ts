/**
 * Issue 21, item 4: Ctrl-C during `train` says where the last checkpoint is and how to resume, and exits 130;
 * without --checkpoint-dir the checkpoint goes into <out>/checkpoint, so the same command resumes; a toy run
 * (loss still high) is called a toy.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateSynthetic } from '../src/data/synthetic.js';

const ROOT = resolve(__dirname, '..');
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const dir = mkdtempSync(join(tmpdir(), 'sd-interrupt-'));

function cli(args: string[]) {
  const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/bin.ts'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) => child.on('close', (code) => r({ code, stdout, stderr })));
  return { child, done, err: () => stderr };
}

async function waitFor(cond: () => boolean, ms = 120_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Gold chains of the synthetic task stand in for verified teacher chains. */
function writeChains(file: string, count: number): void {
  const lines = generateSynthetic({ count, seed: 0 }).map((p) => JSON.stringify({ problemId: p.id, steps: p.meta!.goldSteps, finalAnswer: p.answer, teacher: { adapter: 'gold', sampleIndex: 0 } }));
  writeFileSync(file, lines.join('\n') + '\n');
}

const SMALL = ['--n-embd', '16', '--n-layer', '1', '--n-head', '2', '--n-positions', '256', '--batch-size', '4', '--backend', 'cpu'];

describe('train: interrupted and toy runs', () => {
  it('Ctrl-C writes a checkpoint into <out>/checkpoint, prints it and the command that resumes, exits 130; the same command resumes', async () => {
    writeChains(join(dir, 'kept.jsonl'), 40);
    const args = ['train', '--student', 'unified', '--dataset', 'synthetic', '--count', '40', '--chains', 'kept.jsonl', '--steps', '100000', '--checkpoint-every', '5', ...SMALL, '--out', 'students/u'];
    const run = cli(args);
    // Stop once training is under way: the first checkpoint is on disk.
    await waitFor(() => existsSync(join(dir, 'students/u/checkpoint/trainer-state.json')));
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    const ckpt = join('students/u', 'checkpoint');
    const stopped = /stopped: unified stopped at step (\d+) of 100000; the last checkpoint is in (\S+) \(step (\d+)\)\nresume with the same command:\n {2}(.+)\n/.exec(r.stderr);
    expect(stopped, r.stderr).not.toBeNull();
    expect(stopped![2]).toBe(ckpt);
    expect(stopped![1]).toBe(stopped![3]);
    expect(stopped![4]).toBe(`socratic-distill ${args.join(' ')}`);
    // Nothing was saved as a student: an interrupted run is not a finished one.
    expect(existsSync(join(dir, 'students/u/student.json'))).toBe(false);

    // The printed command, with a budget that ends: the checkpoint holds another step count, so the library refuses,
    // and the CLI says what the default folder holds.
    const other = await cli(args.map((a) => (a === '100000' ? '50' : a))).done;
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`${ckpt}: holds an interrupted training run with other data or flags (checkpoint was written for different data or training options); rerun with its original flags to resume it, or delete that folder to start over [CHECKPOINT_INVALID]`);
  }, 180_000);

  it('the same command resumes from the default checkpoint, finishes, and removes the folder once the student is saved', async () => {
    writeChains(join(dir, 'kept2.jsonl'), 40);
    const args = ['train', '--student', 'unified', '--dataset', 'synthetic', '--count', '40', '--chains', 'kept2.jsonl', '--steps', '2000', '--checkpoint-every', '5', ...SMALL, '--out', 'students/r'];
    const first = cli(args);
    await waitFor(() => existsSync(join(dir, 'students/r/checkpoint/trainer-state.json')));
    first.child.kill('SIGINT');
    const a = await first.done;
    expect(a.code).toBe(130);
    const step = Number(/stopped at step (\d+)/.exec(a.stderr)![1]);
    const b = await cli(args).done;
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toContain(`resumed from the checkpoint at step ${step} in students/r/checkpoint`);
    expect(b.stdout).toMatch(/^trained unified student: 2000 steps, final loss [\d.]+; saved to students\/r$/m);
    expect(existsSync(join(dir, 'students/r/student.json'))).toBe(true);
    expect(existsSync(join(dir, 'students/r/checkpoint'))).toBe(false);
  }, 180_000);

  it('a toy run says it is a toy and names the step count that works; --no-checkpoint writes none', async () => {
    writeChains(join(dir, 'kept3.jsonl'), 20);
    const r = await cli(['train', '--student', 'unified', '--dataset', 'synthetic', '--count', '20', '--chains', 'kept3.jsonl', '--steps', '3', '--no-checkpoint', ...SMALL, '--out', 'students/toy']).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^note: the loss is still high \([\d.]+ over the last tenth of the steps, above 0\.2\): this student is a toy .* trains 3200 steps \(--steps 3200\)/m);
    expect(existsSync(join(dir, 'students/toy/checkpoint'))).toBe(false);
    const both = await cli(['train', '--student', 'unified', '--dataset', 'synthetic', '--chains', 'kept3.jsonl', '--no-checkpoint', '--checkpoint-dir', 'x', '--out', 'y']).done;
    expect(both.stderr).toBe('socratic-distill train: --checkpoint-dir and --no-checkpoint exclude each other [CLI_USAGE]\n');
  }, 120_000);
});
