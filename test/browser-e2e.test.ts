/**
 * The example page in real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
 * a tiny Iterative student is trained here in Node, served with the page on 127.0.0.1, and solved
 * in the browser on tfjs-wasm. Skips only when Chromium is not installed.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExample } from '../examples/browser/bundle.js';
import { builtInProblems, heldOutDemoProblem } from '../examples/browser/default-problem.js';
import { startExampleServer, type ExampleServer } from '../examples/browser/serve.js';
import { selectBackend } from '../src/backend/select.js';
import { generateSynthetic } from '../src/data/synthetic.js';
import type { Problem, SocraticChain, SocraticStep } from '../src/data/schema.js';
import { solveStreaming } from '../src/students/stream.js';
import { IterativeStudent } from '../src/students/iterative.js';
import { UnifiedStudent } from '../src/students/single.js';
import { SAFETENSORS_HINT } from '../src/errors.js';
import { answersMatch } from '../src/verify/answer.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM) console.warn(`browser-e2e: skipped, ${CHROMIUM} is absent (install it with \`apt-get install -y chromium\`)`);

const OUT = resolve(__dirname, '../test-output/browser-e2e');
const MAX_STEPS = 3;

/** Gold Socratic chains of the synthetic task stand in for verified teacher chains. */
function tinyData(count: number): { problems: Problem[]; chains: SocraticChain[] } {
  const problems = generateSynthetic({ count, seed: 7, minSteps: 1, maxSteps: 2, maxOperand: 9, maxResult: 40 });
  const chains = problems.map((p) => ({
    problemId: p.id,
    steps: p.meta!.goldSteps as SocraticStep[],
    finalAnswer: p.answer,
    teacher: { adapter: 'gold', sampleIndex: 0 },
  }));
  return { problems, chains };
}

describe.skipIf(!HAS_CHROMIUM)('browser example in headless Chromium', () => {
  let server: ExampleServer;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  let problem: Problem;
  let nodeAnswer: { answer: unknown; subquestions: string[] };
  let nodeUnified: { answer: unknown; subquestions: string[] };
  /** Node's greedy answer to the page's default problem, decoded with the calculator. */
  let nodeCalculator: unknown;

  beforeAll(async () => {
    await rm(OUT, { recursive: true, force: true });
    const libDir = join(OUT, 'lib');
    const modelsDir = join(OUT, 'models');
    await buildExample(libDir);

    // Seconds of training on the wasm backend (the browser's kernels): enough for steps that read
    // like the format and end in a number, not for right answers. With fewer steps (40) the students
    // loop (a line or a step again), and solving now stops a loop, leaving too little to stream.
    const data = tinyData(24);
    const backend = await selectBackend('wasm');
    const size = { n_embd: 48, n_layer: 1, n_head: 2, n_positions: 256 };
    const student = await IterativeStudent.create({ qgSize: size, qaSize: size, data, backend, seed: 3, maxSteps: MAX_STEPS });
    await student.train(data, { batchSize: 8, maxSteps: 100, lr: 0.01, warmupSteps: 5 });
    await student.save(join(modelsDir, 'students/iterative'));
    problem = { ...data.problems[0]!, id: 'fixed' };
    const solution = await student.solveMany([problem], { maxSteps: MAX_STEPS });
    nodeAnswer = { answer: solution[0]!.answer, subquestions: solution[0]!.steps.map((st) => st.subquestion) };
    // The page sends userProblem(text): the same question, read as gsm8k numbers.
    const typed = { ...heldOutDemoProblem(), dataset: 'gsm8k' as const, answer: '' };
    nodeCalculator = (await student.solveMany([typed], { maxSteps: MAX_STEPS, calculator: true }))[0]!.answer;
    student.dispose();

    // A Unified student streams line by line through the same solveStreaming in Node and in the page.
    const unified = await UnifiedStudent.create({ size, data, backend, seed: 5 });
    await unified.train(data, { batchSize: 8, maxSteps: 100, lr: 0.01, warmupSteps: 5 });
    await unified.save(join(modelsDir, 'students/unified'));
    nodeUnified = { answer: null, subquestions: [] };
    for await (const e of solveStreaming(unified, problem, { maxSteps: MAX_STEPS })) {
      if (e.type === 'step') nodeUnified.subquestions.push(e.step.subquestion);
      else nodeUnified.answer = e.solution.answer;
    }
    unified.dispose();

    // A student whose weights file is cut short, for the error path.
    await cp(join(modelsDir, 'students/iterative'), join(modelsDir, 'tampered/iterative'), { recursive: true });
    const weights = join(modelsDir, 'tampered/iterative/qa/model.safetensors');
    await truncate(weights, Math.floor((await readFile(weights)).byteLength / 2));

    server = await startExampleServer({ libDir, modelsDir });
    userDataDir = await mkdtemp(join(tmpdir(), 'socratic-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
      viewport: { width: 1000, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') console.log(`[page] ${m.text()}`);
    });
  }, 400_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  it('finds the trained student, streams steps and a final answer, the same greedy answer as in Node', async () => {
    await page.goto(server.url); // no ?student=: the page picks the first student the server lists
    await page.waitForSelector('#status[data-loaded="iterative"]', { timeout: 60_000 });
    expect(await page.inputValue('#student-url')).toBe('models/students/iterative/');
    expect(await page.locator('#students option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual([
      'models/students/iterative/', // iterative students first, then shallowest and alphabetical
      'models/tampered/iterative/',
      'models/students/unified/',
    ]);
    expect(await page.locator('#backend').getAttribute('data-backend')).toBe('tfjs-wasm');
    // The example server sends COOP/COEP, so wasm may start worker threads.
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
    expect(await page.locator('#error').isHidden()).toBe(true);

    await page.fill('#problem', problem.question);
    await page.fill('#max-steps', String(MAX_STEPS));
    // Record which mutation batch brought each step and the final answer: streamed steps arrive in
    // earlier batches than the final answer, not all together at the end.
    await page.evaluate(`(() => {
      window.__seen = [];
      let batch = 0;
      new MutationObserver((records) => {
        batch++;
        for (const r of records) {
          for (const n of r.addedNodes) if (n.classList && n.classList.contains('step') && !n.classList.contains('thinking')) window.__seen.push({ what: 'step', batch });
          if (r.type === 'attributes' && r.target.id === 'final' && !r.target.hidden) window.__seen.push({ what: 'final', batch });
        }
      }).observe(document.getElementById('work'), { childList: true, subtree: true, attributes: true, attributeFilter: ['hidden'] });
    })()`);
    await page.click('#solve');
    await page.waitForSelector('#final:not([hidden])', { timeout: 120_000 });
    const seen = (await page.evaluate('window.__seen')) as Array<{ what: string; batch: number }>;
    expect(seen.map((e) => e.what)).toEqual([...nodeAnswer.subquestions.map(() => 'step'), 'final']);
    expect(seen[0]!.batch).toBeLessThan(seen.at(-1)!.batch);

    const steps = page.locator('#steps li.step:not(.thinking)');
    expect(nodeAnswer.subquestions.length).toBeGreaterThanOrEqual(1);
    expect(await steps.locator('.q').allTextContents()).toEqual(nodeAnswer.subquestions.map((q, i) => `Q${i + 1}: ${q}`));
    expect(await steps.first().locator('.meta').textContent()).toMatch(/\d+(\.\d+)? m?s$/);
    // The seeded training makes Node's greedy answer a number; the page must show the same one.
    expect(typeof nodeAnswer.answer).toBe('number');
    expect(await page.locator('#final .answer').textContent()).toBe(`Final answer: ${String(nodeAnswer.answer)}`);
    expect(await page.locator('#final').getAttribute('data-answer')).toBe(String(nodeAnswer.answer));

    await mkdir(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'solve-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(OUT, 'solve-390px.png'), fullPage: true });
    // Nothing may overflow sideways at phone width.
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(scrollWidth).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1000, height: 900 });
  }, 180_000);

  it("opens with a held-out problem of the demo's task, and its screenshot shows it solved", async () => {
    await page.goto(server.url);
    await page.waitForSelector('#status[data-loaded="iterative"]', { timeout: 60_000 });
    expect(await page.inputValue('#problem')).toBe(heldOutDemoProblem().question);
    await page.click('#solve');
    // Ready and solved before capturing: the final answer is shown and the button is enabled again.
    await page.waitForSelector('#final:not([hidden])', { timeout: 120_000 });
    await page.waitForSelector('#solve:not([disabled])');
    expect(await page.locator('#steps li.step.thinking').count()).toBe(0);
    // This test's tiny student was trained on other problems, so how many steps it takes varies; the page must say how it ended.
    expect(await page.locator('#final .meta').textContent()).toMatch(/^\d+ step\(s\), stopped by [\w-]+, .* in total$/);
    // A built-in problem: the page shows its gold answer, then marks the result right or wrong.
    const gold = heldOutDemoProblem().answer;
    expect(await page.locator('#expected').textContent()).toBe(`Expected answer: ${String(gold)}`);
    const answered = await page.locator('#final').getAttribute('data-answer');
    const right = answered !== '' && answersMatch(Number(answered), gold, 'synthetic');
    expect(await page.locator('#final').getAttribute('data-correct')).toBe(String(right));
    expect(await page.locator('#final .verdict').textContent()).toBe(right ? `✓ right (expected ${String(gold)})` : `✗ wrong: expected ${String(gold)}; try the calculator`);
    await page.screenshot({ path: join(OUT, 'solve-default.png'), fullPage: true });
  }, 180_000);

  it('offers the built-in problems with their answers, and the calculator as a toggle (the same answer as Node with calculator: true)', async () => {
    await page.goto(server.url);
    await page.waitForSelector('#status[data-loaded="iterative"]', { timeout: 60_000 });
    const builtIn = builtInProblems();
    expect(await page.locator('#examples option').count()).toBe(builtIn.length + 1);
    await page.selectOption('#examples', builtIn[2]!.id);
    expect(await page.inputValue('#problem')).toBe(builtIn[2]!.question);
    expect(await page.locator('#expected').textContent()).toBe(`Expected answer: ${String(builtIn[2]!.answer)}`);
    // Typing one's own problem: no expected answer, and no right/wrong after solving.
    await page.fill('#problem', problem.question);
    expect(await page.locator('#expected').isHidden()).toBe(true);
    expect(await page.inputValue('#examples')).toBe('');
    await page.fill('#max-steps', String(MAX_STEPS));
    await page.click('#solve');
    await page.waitForSelector('#final:not([hidden])', { timeout: 120_000 });
    expect(await page.locator('#final').getAttribute('data-correct')).toBeNull();
    expect(await page.locator('#final .verdict').count()).toBe(0);

    // The calculator toggle reaches solve(): the page's answer is Node's with calculator: true.
    await page.selectOption('#examples', builtIn[0]!.id);
    await page.check('#calculator');
    await page.click('#solve');
    await page.waitForSelector('#solve:not([disabled])', { timeout: 120_000 });
    await page.waitForSelector('#final:not([hidden])', { timeout: 120_000 });
    expect(await page.locator('#final .meta').textContent()).toContain('with the calculator');
    expect(await page.locator('#final').getAttribute('data-answer')).toBe(nodeCalculator === null ? '' : String(nodeCalculator));
    expect(await page.locator('#final .verdict').count()).toBe(1);
    await page.screenshot({ path: join(OUT, 'solve-calculator.png'), fullPage: true });
  }, 180_000);

  it('streams a Unified student line by line, as in Node', async () => {
    await page.goto(`${server.url}?student=models/students/unified/`);
    await page.waitForSelector('#status[data-loaded="unified"]', { timeout: 60_000 });
    await page.fill('#problem', problem.question);
    await page.fill('#max-steps', String(MAX_STEPS));
    await page.click('#solve');
    await page.waitForSelector('#final:not([hidden])', { timeout: 120_000 });
    const subquestions = await page.locator('#steps li.step .q').allTextContents();
    expect(nodeUnified.subquestions.length).toBeGreaterThanOrEqual(1);
    expect(subquestions).toEqual(nodeUnified.subquestions.map((q, i) => `Q${i + 1}: ${q}`));
    expect(await page.locator('#final').getAttribute('data-answer')).toBe(nodeUnified.answer === null ? '' : String(nodeUnified.answer));
    await page.screenshot({ path: join(OUT, 'solve-unified.png'), fullPage: true });
  }, 180_000);

  it('shows a clear error for a missing student, a corrupt weights file and unreachable wasm binaries', async () => {
    await page.goto(`${server.url}?student=models/nowhere/`);
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    const missing = await page.locator('#error').textContent();
    expect(missing).toContain('ModelFetchError');
    expect(missing).toContain('models/nowhere/student.json');
    expect(missing).toContain('HTTP 404');
    expect(missing).toContain('npm run demo');
    expect(await page.locator('#solve').isDisabled()).toBe(true);

    await page.goto(`${server.url}?student=models/tampered/iterative/`);
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    const corrupt = await page.locator('#error').textContent();
    // The same code and hint as in Node (damaged-inputs.test.ts).
    expect(corrupt).toContain('SafetensorsError [SAFETENSORS_INVALID]');
    expect(corrupt).toContain('models/tampered/iterative/qa/model.safetensors');
    expect(corrupt).toContain(SAFETENSORS_HINT);
    expect(corrupt!.split(SAFETENSORS_HINT)).toHaveLength(2); // one hint, not two
    await page.screenshot({ path: join(OUT, 'error-corrupt.png'), fullPage: true });

    // A fresh page (fresh tfjs engine) pointed at .wasm files that are not there.
    await page.goto(`${server.url}style.css`);
    // A string, so vitest does not rewrite the dynamic import meant for the browser.
    const wasmError = await page.evaluate(`(async () => {
      const lib = await import('/lib/index.js');
      try {
        await lib.initBrowserBackend({ wasmPaths: '/no-wasm-here/' });
        return 'started';
      } catch (err) {
        return err.name + ': ' + err.message;
      }
    })()`);
    expect(wasmError).toMatch(/^BackendUnavailableError: the wasm backend did not start; .*served under \/no-wasm-here\//);
  }, 120_000);
});
