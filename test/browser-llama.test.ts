/**
 * Saved Llama-family students in real headless Chromium (as browser-e2e.test.ts drives it): students trained here in
 * Node from the modern fixtures (standing in for SmolLM2 / Qwen3; random weights, so they are overfitted on four
 * problems to have something to reproduce) are served as saved (config.json, model.safetensors, tokenizer.json, ...),
 * loaded by the browser entry's loadStudentFromUrl on tfjs-wasm, and must solve exactly as tfjs-wasm does in Node.
 * Also a LoRA Iterative pair trained and saved by the CLI (`train --init --lora --with-base`): the page fetches the
 * base copy once and both adapters over it. Skips only when Chromium or the fixtures are absent.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLibrary } from '../examples/browser/bundle.js';
import { main } from '../src/cli/main.js';
import { startExampleServer, type ExampleServer } from '../examples/browser/serve.js';
import { selectBackend } from '../src/backend/select.js';
import { generateSynthetic, goldChain } from '../src/data/index.js';
import type { Problem } from '../src/data/schema.js';
import { IterativeStudent, loadStudent, solveStreaming, UnifiedStudent, type Student } from '../src/students/index.js';
import { copyModernFixture } from './helpers/llama-dirs.js';
import { hasModernFixtures } from './helpers/modern.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM);
const OUT = resolve(__dirname, '../test-output/browser-llama');
const MAX_STEPS = 4;

interface Solved {
  steps: string[];
  answer: unknown;
  text: string;
}

/** One solve, streamed, the same way in Node and in the page. */
async function solveInNode(student: Student, problem: Problem): Promise<Solved> {
  const out: Solved = { steps: [], answer: null, text: '' };
  for await (const e of solveStreaming(student, problem, { maxSteps: MAX_STEPS })) {
    if (e.type === 'step') out.steps.push(e.step.subquestion);
    else Object.assign(out, { answer: e.solution.answer, text: e.solution.text });
  }
  return out;
}

/** The same solve in the page, through the built browser bundle; errors come back as `name: message`. */
function solveInPage(page: Page, studentUrl: string, problem: Problem, options: { baseModelUrl?: string } = {}): Promise<(Solved & { backend: string; kind: string }) | string> {
  // A string, so vitest does not rewrite the dynamic import meant for the browser.
  return page.evaluate(`(async () => {
    const lib = await import('/lib/index.js');
    try {
      const backend = await lib.initBrowserBackend();
      const student = await lib.loadStudentFromUrl(${JSON.stringify(studentUrl)}, { backend, ...${JSON.stringify(options)} });
      const out = { backend: backend.backend, kind: student.kind, steps: [], answer: null, text: '' };
      for await (const e of lib.solveStreaming(student, ${JSON.stringify(problem)}, { maxSteps: ${MAX_STEPS} })) {
        if (e.type === 'step') out.steps.push(e.step.subquestion);
        else Object.assign(out, { answer: e.solution.answer, text: e.solution.text });
      }
      student.dispose();
      return out;
    } catch (err) {
      return err.name + ': ' + err.message;
    }
  })()`);
}

describe.skipIf(!HAS_CHROMIUM || !hasModernFixtures)('saved Llama-family students in headless Chromium (tfjs-wasm)', () => {
  let server: ExampleServer;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  const problems = generateSynthetic({ count: 4, seed: 11, minSteps: 2, maxSteps: 2, maxOperand: 9, maxResult: 30, maxFactor: 3 });
  const data = { problems, chains: problems.map((p) => goldChain(p)!) };
  const problem = problems[1]!;
  let nodeIterative: Solved;
  let nodeUnified: Solved;
  // The CLI's LoRA pair trains on the synthetic task's default problems (what `--dataset synthetic --count 4 --seed 11` selects).
  const loraProblems = generateSynthetic({ count: 4, seed: 11 });
  const loraProblem = loraProblems[0]!;
  let nodeLora: Solved;

  beforeAll(async () => {
    await rm(OUT, { recursive: true, force: true });
    const libDir = join(OUT, 'lib');
    const modelsDir = join(OUT, 'models');
    await buildLibrary(libDir);
    const fixtures = join(OUT, 'fixtures');
    // A bf16 SmolLM2-style copy (tied head, GQA) and a Qwen3-style one (q/k norms, untied head), with 512 positions.
    const llama = await copyModernFixture('llama', join(fixtures, 'llama'), { bf16: true, positions: 512 });
    const qwen3 = await copyModernFixture('qwen3', join(fixtures, 'qwen3'), { positions: 512 });
    const budget = { batchSize: 4, maxSteps: 100, lr: 3e-3, warmupSteps: 10, seed: 0 };

    // Trained on the fastest core; what the browser must match is tfjs-wasm on the saved files, as in Node below.
    const trainOn = await selectBackend('auto');
    const iterative = await IterativeStudent.create({ init: llama, backend: trainOn, maxSteps: MAX_STEPS });
    await iterative.train(data, budget);
    await iterative.save(join(modelsDir, 'llama/iterative'));
    iterative.dispose();
    const unified = await UnifiedStudent.create({ init: qwen3, backend: trainOn });
    await unified.train(data, budget);
    await unified.save(join(modelsDir, 'qwen3/unified'));
    unified.dispose();

    const wasm = await selectBackend('wasm');
    for (const [dir, set] of [['llama/iterative', (s: Solved) => (nodeIterative = s)], ['qwen3/unified', (s: Solved) => (nodeUnified = s)]] as const) {
      const student = await loadStudent(join(modelsDir, dir), wasm);
      set(await solveInNode(student, problem));
      student.dispose();
    }

    // A LoRA Iterative pair trained and saved by the CLI, its base copied beside the adapters (--with-base).
    const chainsFile = join(OUT, 'lora-chains.jsonl');
    writeFileSync(chainsFile, loraProblems.map((p) => JSON.stringify(goldChain(p))).join('\n') + '\n');
    const loraDir = join(modelsDir, 'llama-lora/iterative');
    const trainArgs = ['train', '--student', 'iterative', '--init', llama, '--lora', 'r=8,alpha=16', '--with-base', '--chains', chainsFile, '--dataset', 'synthetic', '--count', '4', '--seed', '11'];
    // Trained on the native core (tfjs-cpu ran near 10 s a step on a loaded 2-core machine); the page must match tfjs-wasm.
    expect(await main([...trainArgs, '--steps', '100', '--batch-size', '4', '--lr', '1e-2', '--warmup', '10', '--out', loraDir])).toBe(0);
    const loraStudent = await loadStudent(loraDir, wasm);
    nodeLora = await solveInNode(loraStudent, loraProblem);
    loraStudent.dispose();
    // The same pair saved without its base: student.json then names only the training machine's path.
    await cp(loraDir, join(modelsDir, 'llama-lora/no-base'), { recursive: true });
    await rm(join(modelsDir, 'llama-lora/no-base/base'), { recursive: true });
    const manifestPath = join(modelsDir, 'llama-lora/no-base/student.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { base: Record<string, unknown> };
    delete manifest.base.copy;
    writeFileSync(manifestPath, JSON.stringify(manifest));

    // The same student with an architecture the library does not run, for the error path.
    await cp(join(modelsDir, 'llama/iterative'), join(modelsDir, 'mistral/iterative'), { recursive: true });
    const config = join(modelsDir, 'mistral/iterative/qa/config.json');
    writeFileSync(config, JSON.stringify({ ...(JSON.parse(readFileSync(config, 'utf8')) as object), model_type: 'mistral' }));

    server = await startExampleServer({ libDir, modelsDir });
    userDataDir = await mkdtemp(join(tmpdir(), 'socratic-chromium-llama-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    // Any page of the server will do: the test drives the library bundle itself, not the example app.
    await page.goto(`${server.url}style.css`);
  }, 900_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  it('loads a saved SmolLM2-style Iterative pair (its tokenizer.json, weights from a bf16 checkpoint) and solves it step by step as in Node', async () => {
    // The overfitted pair reproduces its training problem's decomposition in Node; the page must do the same.
    expect(nodeIterative.steps).toEqual(data.chains[1]!.steps.map((s) => s.subquestion));
    expect(nodeIterative.answer).toBe(problem.answer);
    const got = await solveInPage(page, '/models/llama/iterative/', problem);
    expect(got).toEqual({ backend: 'tfjs-wasm', kind: 'iterative', ...nodeIterative });
  }, 120_000);

  it('loads a saved Qwen3-style Unified student (q/k norms, untied head) and streams the same steps', async () => {
    expect(nodeUnified.steps.length).toBeGreaterThanOrEqual(1);
    const got = await solveInPage(page, '/models/qwen3/unified/', problem);
    expect(got).toEqual({ backend: 'tfjs-wasm', kind: 'unified', ...nodeUnified });
  }, 120_000);

  it('loads a LoRA Iterative pair the CLI saved (train --lora --with-base: adapters in qg/ and qa/, the base in base/) and solves it as in Node', async () => {
    // Random base weights, adapters alone trained: the pair must still have learned to write steps and an answer.
    expect(nodeLora.steps.length).toBeGreaterThanOrEqual(1);
    expect(nodeLora.answer).toBeTypeOf('number');
    const got = await solveInPage(page, '/models/llama-lora/iterative/', loraProblem);
    expect(got).toEqual({ backend: 'tfjs-wasm', kind: 'iterative', ...nodeLora });
  }, 120_000);

  it('a LoRA student saved without its base is a BaseModelMissingError saying what to do; baseModelUrl points at a served base', async () => {
    const got = await solveInPage(page, '/models/llama-lora/no-base/', loraProblem);
    expect(got).toMatch(/^BaseModelMissingError: .*\/models\/llama-lora\/no-base\/: the LoRA student's base model .* is not there .*pass its URL as baseModelUrl/);
    const withUrl = await solveInPage(page, '/models/llama-lora/no-base/', loraProblem, { baseModelUrl: '/models/llama-lora/iterative/base/' });
    expect(withUrl).toEqual({ backend: 'tfjs-wasm', kind: 'iterative', ...nodeLora });
  }, 120_000);

  it('an unsupported model_type is a ModelConfigError naming the config URL and the supported types', async () => {
    const got = await solveInPage(page, '/models/mistral/iterative/', problem);
    expect(got).toBe('ModelConfigError: /models/mistral/iterative/qa/config.json: model_type "mistral" is not supported; supported: gpt2, llama, qwen2, qwen3');
  }, 60_000);
});
