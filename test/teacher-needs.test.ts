/**
 * Issue 21, item 1: a teacher that cannot work on a dataset says so before the first problem, gold steps are
 * derived where the data has them (SVAMP equations, StrategyQA decompositions), and a failure that a rerun
 * cannot fix is never called retryable (failures file and terminal summary).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { goldChain, goldSteps } from '../src/data/gold.js';
import { SocraticDataset } from '../src/data/dataset.js';
import { sampleDataDir } from '../src/data/samples.js';
import { generateSynthetic } from '../src/data/synthetic.js';
import type { Problem } from '../src/data/schema.js';
import { TeacherUnsuitableError } from '../src/errors.js';
import { generateChains } from '../src/generate/index.js';
import { AnnotationTeacher, checkTeacherNeeds, SimulatedTeacher, TeacherBase, type SampleRequest, type TeacherSample } from '../src/teacher/index.js';
import { ChainVerifier } from '../src/verify/index.js';
import { FakeOpenAI } from './fixtures-data/fake-openai.js';
import { hasSharedData, SHARED_DATA } from './fixtures-data/shared.js';

const ROOT = resolve(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'sd-needs-'));
let server: FakeOpenAI | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // The child runs in a temp dir, so tsx is named by its path.
  const tsx = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  const child = spawn(process.execPath, ['--import', tsx, join(ROOT, 'src/cli/bin.ts'), ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((r) => child.on('close', (code) => r({ code, stdout, stderr })));
}

/** Problems a user brings in a JSONL file: a question and an answer, nothing a simulated teacher can replay. */
function bareProblems(n: number): Problem[] {
  return Array.from({ length: n }, (_, i) => ({ id: `mine-${i}`, dataset: 'custom', question: `What is ${i} + ${i}?`, answer: 2 * i }));
}

describe('teachers declare what they need', () => {
  it('derives gold steps from SVAMP equations and StrategyQA decompositions', async () => {
    const svamp = await SocraticDataset.load({ dataset: 'svamp', path: join(sampleDataDir(), 'svamp'), split: 'all' });
    const strategy = await SocraticDataset.load({ dataset: 'strategyqa', path: join(sampleDataDir(), 'strategyqa'), split: 'all' });
    for (const p of [...svamp.problems, ...strategy.problems]) expect(goldSteps(p)?.length, p.id).toBeGreaterThan(0);
    // The last step asks the problem's own question and carries the equation's result.
    const p = svamp.problems[0]!;
    const steps = goldSteps(p)!;
    expect(steps.at(-1)!.subquestion).toBe(String(p.meta!.questionSentence).trim());
    expect(steps.at(-1)!.answer).toBeCloseTo(p.answer as number, 6);
    const q = strategy.problems[0]!;
    expect(goldChain(q)!.steps.map((s) => s.subquestion)).toEqual(q.meta!.decomposition);
  });

  it('SimulatedTeacher now writes chains for SVAMP and StrategyQA, and the verifier keeps the unflawed ones', async () => {
    for (const name of ['svamp', 'strategyqa'] as const) {
      const data = await SocraticDataset.load({ dataset: name, path: join(sampleDataDir(), name), split: 'all' });
      const out = join(dir, `sim-${name}.jsonl`);
      const teacher = new SimulatedTeacher({ seed: 1, errorRate: 0.2 });
      const summary = await generateChains({ teacher, problems: data.problems, out });
      expect(summary.failed, name).toEqual([]);
      expect(summary.completed).toBe(data.size);
      const chains = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const { stats } = new ChainVerifier().verifyAll(chains, data.problems);
      expect(stats.kept, name).toBeGreaterThan(data.size / 2);
    }
  });

  it('refuses before the first problem, naming the teacher, the dataset and the teachers that do work there', async () => {
    const out = join(dir, 'refused.jsonl');
    const asked: string[] = [];
    const teacher = new SimulatedTeacher();
    const spy = teacher.sample.bind(teacher);
    teacher.sample = (p, r) => (asked.push(p.id), spy(p, r));
    const err = await generateChains({ teacher, problems: bareProblems(3), out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TeacherUnsuitableError);
    const e = err as TeacherUnsuitableError;
    expect(e.code).toBe('TEACHER_UNSUITABLE');
    expect(e.message).toBe(
      "SimulatedTeacher cannot work on dataset 'custom' (socratic mode): it needs gold steps (meta.goldSteps, a SVAMP equation or a StrategyQA decomposition) and none of the 3 problems has them; use OpenAICompatibleTeacher there",
    );
    expect(e.works.map((w) => w.id)).toEqual(['openai']);
    expect(asked).toEqual([]);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.failures.json`)).toBe(false);
  });

  it('checks per mode: GSM8K main files (a rationale, no steps) suit AnnotationTeacher for CoT, not for Socratic chains', () => {
    const gsm8kMain: Problem[] = [{ id: 'gsm8k-test-0', dataset: 'gsm8k', question: 'Q?', answer: 3, meta: { rationale: '1 + 2 = 3\n#### 3' } }];
    expect(() => checkTeacherNeeds(new AnnotationTeacher(), 'cot', gsm8kMain)).not.toThrow();
    const err = (() => {
      try {
        checkTeacherNeeds(new SimulatedTeacher(), 'cot', gsm8kMain);
      } catch (e) {
        return e as TeacherUnsuitableError;
      }
    })();
    expect(err?.works.map((w) => w.id)).toEqual(['annotation', 'openai']);
    expect(err?.message).toContain('use AnnotationTeacher or OpenAICompatibleTeacher there');
    // Mixed data: the count and the first problem without gold steps.
    const mixed = [...generateSynthetic({ count: 2, seed: 1 }), ...bareProblems(1)];
    expect(() => checkTeacherNeeds(new SimulatedTeacher(), 'socratic', mixed)).toThrow('1 of 3 problems have none (first: mine-0)');
  });

  it("a user's own teacher can declare needs too; one that declares none is never refused", async () => {
    class NeedsSteps extends TeacherBase {
      readonly id = 'mine';
      needs() {
        return ['gold-steps'] as const;
      }
      async sample(_p: Problem, _r: SampleRequest): Promise<TeacherSample> {
        return { steps: [], finalAnswer: 1 };
      }
    }
    expect(() => checkTeacherNeeds(new NeedsSteps(), 'socratic', bareProblems(2))).toThrow(/^NeedsSteps cannot work on dataset 'custom'/);
    const free = { id: 'free', sample: async () => ({ steps: [{ subquestion: 'q', solution: 'a' }], finalAnswer: 1 }) };
    expect(() => checkTeacherNeeds(free, 'socratic', bareProblems(2))).not.toThrow();
  });

  it('the CLI refuses in one line, in flags; svamp works with the simulated teacher', async () => {
    const file = join(dir, 'mine.jsonl');
    writeFileSync(file, bareProblems(4).map((p) => JSON.stringify(p)).join('\n') + '\n');
    const r = await cli(['generate', '--teacher', 'simulated', '--dataset', 'jsonl', '--data', file, '--split', 'all', '--out', 'x.jsonl']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'socratic-distill generate: --teacher simulated cannot work on --dataset jsonl: it needs gold steps and none of the 4 problems has them; use --teacher openai there [TEACHER_UNSUITABLE]\n',
    );
    expect(existsSync(join(dir, 'x.jsonl.failures.json'))).toBe(false);
    const ok = await cli(['generate', '--teacher', 'simulated', '--dataset', 'svamp', '--data', join(sampleDataDir(), 'svamp'), '--out', 'svamp.jsonl']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^finished: (\d+)\/\1 problems done/m);
    expect(ok.stdout).not.toContain('failed');
  }, 60_000);

  it.skipIf(!hasSharedData)('demo names only the teachers it offers: GSM8K main files (no steps) need --teacher openai', async () => {
    const gsm = join(dir, 'gsm8k-main');
    mkdirSync(gsm, { recursive: true });
    const rows = readFileSync(join(SHARED_DATA, 'gsm8k', 'test.jsonl'), 'utf8').split('\n').slice(0, 20).join('\n') + '\n';
    for (const f of ['train.jsonl', 'test.jsonl']) writeFileSync(join(gsm, f), rows);
    const r = await cli(['demo', '--dataset', 'gsm8k', '--data', gsm, '--train', '10', '--test', '5', '--quick', '--out', 'demo-out', '--n-positions', 'auto']);
    expect(r.code).toBe(1);
    // The demo logs its backend first; the refusal is the last line, before any chain is written.
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      'socratic-distill demo: --teacher simulated cannot work on --dataset gsm8k: it needs gold steps and none of the 10 problems has them; use --teacher openai there [TEACHER_UNSUITABLE]',
    );
    expect(existsSync(join(dir, 'demo-out/chains.jsonl'))).toBe(false);
  }, 60_000);

  it('a failure a rerun cannot fix is not called retryable, in the failures file or on the terminal', async () => {
    const problems = generateSynthetic({ count: 6, seed: 3 });
    // Problem 1 always gets a 401 (a rerun sends the same key); problem 2 a 503 every time (a rerun may find the server well).
    server = await new FakeOpenAI({ problems, faultsFor: (p) => (p.id === problems[1]!.id ? '401-echo' : p.id === problems[2]!.id ? '503' : undefined) }).start();
    const r = await cli(
      ['generate', '--teacher', 'openai', '--base-url', server.baseURL, '--dataset', 'synthetic', '--count', '6', '--seed', '3', '--max-attempts', '2', '--out', 'o.jsonl'],
      { OPENAI_API_KEY: 'sk-test' },
    );
    expect(r.code).toBe(1);
    const failures = JSON.parse(readFileSync(join(dir, 'o.jsonl.failures.json'), 'utf8')) as { failures: Array<{ problemId: string; kind: string; retryable: boolean }> };
    const byId = Object.fromEntries(failures.failures.map((f) => [f.problemId, f]));
    expect(byId[problems[1]!.id]).toMatchObject({ kind: 'client', retryable: false });
    expect(byId[problems[2]!.id]).toMatchObject({ kind: 'server', retryable: true });
    expect(r.stdout).toContain(
      '2 problems failed (listed with their reasons in o.jsonl.failures.json); rerun to retry the 1 that failed for the moment (rate limits, server errors, timeouts, off-format replies); a rerun cannot fix the other 1 (the same request would fail the same way): fix the cause given there first',
    );
    expect(r.stdout).not.toContain('rerun to retry them');
  }, 60_000);
});
