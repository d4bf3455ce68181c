/** The example page: load a trained student from the same origin and stream its steps into the DOM. */
import {
  initBrowserBackend, loadStudentFromUrl, ModelFetchError, SocraticDistillError, solveStreaming, userProblem,
  type BackendReport, type BrowserStudent, type SolvedStep,
} from '../../src/browser/index.js';
import type { Problem } from '../../src/data/schema.js';
import { answersMatch } from '../../src/verify/answer.js';
import { builtInProblems } from './default-problem.js';

/** Used when the server cannot list students (a plain static host): the layout `npm run demo` writes. */
const DEFAULT_STUDENT = 'models/students/iterative/';
const HOW_TO_TRAIN = 'Train them with `npm run demo` (it writes demo-output/), then start `npm run example:browser` and reload.';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page is missing #${id}`);
  return el as T;
};
const ui = {
  backend: $('backend'),
  status: $('status'),
  error: $('error'),
  studentUrl: $<HTMLInputElement>('student-url'),
  studentList: $<HTMLDataListElement>('students'),
  modelForm: $<HTMLFormElement>('model-form'),
  solveForm: $<HTMLFormElement>('solve-form'),
  examples: $<HTMLSelectElement>('examples'),
  problem: $<HTMLTextAreaElement>('problem'),
  expected: $('expected'),
  maxSteps: $<HTMLInputElement>('max-steps'),
  calculator: $<HTMLInputElement>('calculator'),
  solve: $<HTMLButtonElement>('solve'),
  steps: $<HTMLOListElement>('steps'),
  final: $('final'),
};

/** Problems whose gold answer the page knows, so it can mark a solve right or wrong. */
const BUILT_IN = builtInProblems();

let backend: BackendReport | undefined;
let student: BrowserStudent | undefined;
let busy = false;

function el(tag: string, className: string, text: string): HTMLElement {
  const e = document.createElement(tag);
  e.className = className;
  e.textContent = text;
  return e;
}

function showError(err: unknown, context: string): void {
  const name = err instanceof Error ? err.name : 'Error';
  const message = err instanceof Error ? err.message : String(err);
  // The same code (and, in the message, the same hint) as the Node loader and the CLI print.
  const code = err instanceof SocraticDistillError ? ` [${err.code}]` : '';
  ui.error.replaceChildren(el('strong', '', `${context} (${name}${code})`), el('p', '', message));
  if (err instanceof ModelFetchError && err.status === 404) {
    ui.error.append(el('p', '', `No trained student at that URL. ${HOW_TO_TRAIN}`));
  }
  ui.error.hidden = false;
  ui.status.textContent = `${context}.`;
  console.error(err);
}

function clearError(): void {
  ui.error.hidden = true;
  ui.error.replaceChildren();
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** Start tfjs on wasm once and show which backend runs; false (with the error shown) when it cannot start. */
async function ensureBackend(): Promise<BackendReport | undefined> {
  try {
    backend ??= await initBrowserBackend();
    ui.backend.textContent = backend.summary.replace(/^using /, '');
    ui.backend.dataset.backend = backend.backend;
    return backend;
  } catch (err) {
    ui.backend.textContent = 'WebAssembly backend unavailable';
    showError(err, 'Could not start the wasm backend');
    return undefined;
  }
}

async function load(url: string): Promise<void> {
  clearError();
  ui.solve.disabled = true;
  student?.dispose();
  student = undefined;
  const backend = await ensureBackend();
  if (!backend) return;
  const started = performance.now();
  ui.status.textContent = `loading ${url} …`;
  try {
    // A LoRA student saved without its base (train --lora without --with-base): ?base=<url of the base model's directory>.
    const baseModel = new URLSearchParams(location.search).get('base');
    student = await loadStudentFromUrl(new URL(url, location.href).href, {
      backend,
      ...(baseModel ? { baseModelUrl: new URL(baseModel, location.href).href } : {}),
      onProgress: (file, loaded, total) => {
        const name = file.split('/').slice(-2).join('/');
        ui.status.textContent = `loading ${name}: ${(loaded / 1024).toFixed(0)}${total ? ` / ${(total / 1024).toFixed(0)}` : ''} KiB`;
      },
    });
  } catch (err) {
    showError(err, `Could not load the student at ${url}`);
    return;
  }
  ui.status.textContent = `${student.kind} student loaded from ${url} in ${formatMs(performance.now() - started)}.`;
  ui.status.dataset.loaded = student.kind;
  ui.solve.disabled = false;
}

function stepItem(step: SolvedStep, index: number, ms: number): HTMLElement {
  const li = el('li', 'step', '');
  li.append(el('div', 'q', `Q${index + 1}: ${step.subquestion}`));
  li.append(el('div', 'a', `A: ${step.solution}`));
  li.append(el('div', 'meta', `step ${index + 1} · ${formatMs(ms)}`));
  return li;
}

/** The built-in problem the text box holds (exactly, up to surrounding space), if any. */
function builtInProblem(): Problem | undefined {
  const text = ui.problem.value.trim();
  return BUILT_IN.find((p) => p.question === text);
}

/** Show the gold answer while the text box holds a built-in problem, and keep the list in step with it. */
function showExpected(): void {
  const known = builtInProblem();
  ui.expected.hidden = !known;
  ui.expected.textContent = known ? `Expected answer: ${String(known.answer)}` : '';
  ui.examples.value = known ? known.id : '';
}

async function solve(): Promise<void> {
  if (!student || busy) return;
  busy = true;
  ui.solve.disabled = true;
  clearError();
  ui.steps.replaceChildren();
  ui.final.hidden = true;
  const thinking = el('li', 'step thinking', 'thinking…');
  ui.steps.append(thinking);
  try {
    const maxSteps = Math.max(1, Math.min(16, Number(ui.maxSteps.value) || 6));
    const known = builtInProblem();
    const calculator = ui.calculator.checked;
    for await (const event of solveStreaming(student, userProblem(ui.problem.value.trim()), { maxSteps, calculator })) {
      if (event.type === 'step') {
        thinking.before(stepItem(event.step, event.index, event.ms));
        continue;
      }
      thinking.remove();
      const answer = event.solution.answer;
      ui.final.replaceChildren(
        el('div', 'answer', answer === null ? 'No final answer found.' : `Final answer: ${String(answer)}`),
        el('div', 'meta', `${event.solution.steps.length} step(s), stopped by ${event.solution.stoppedBy}, ${formatMs(event.ms)} in total${calculator ? ', with the calculator' : ''}`),
      );
      ui.final.dataset.answer = answer === null ? '' : String(answer);
      // A built-in problem's answer is known: say whether the student got it.
      if (known) {
        const right = answersMatch(answer, known.answer, known.dataset);
        ui.final.append(el('div', 'verdict', right ? `✓ right (expected ${String(known.answer)})` : `✗ wrong: expected ${String(known.answer)}${calculator ? '' : '; try the calculator'}`));
        ui.final.dataset.correct = String(right);
      } else {
        delete ui.final.dataset.correct;
      }
      ui.final.hidden = false;
    }
  } catch (err) {
    thinking.remove();
    showError(err, 'Solving failed');
  } finally {
    busy = false;
    ui.solve.disabled = false;
  }
}

/** The students the example server found under its models directory; null on a host that cannot list them. */
async function listStudents(): Promise<Array<{ url: string; kind: string }> | null> {
  try {
    const res = await fetch('models/index.json');
    return res.ok ? ((await res.json()) as Array<{ url: string; kind: string }>) : null;
  } catch {
    return null;
  }
}

async function start(): Promise<void> {
  // Problems from the family the demo's students were trained on, so the first Solve shows what they learned.
  ui.examples.append(new Option('(your own problem)', ''));
  BUILT_IN.forEach((p, i) => ui.examples.append(new Option(`${i + 1}. ${p.question.slice(0, 70)}${p.question.length > 70 ? '…' : ''}`, p.id)));
  if (!ui.problem.value.trim()) ui.problem.value = BUILT_IN[0]!.question;
  showExpected();
  const asked = new URLSearchParams(location.search).get('student');
  if (!(await ensureBackend())) return;
  const found = await listStudents();
  for (const s of found ?? []) {
    const option = document.createElement('option');
    option.value = s.url;
    option.label = s.kind;
    ui.studentList.append(option);
  }
  if (!asked && found?.length === 0) {
    ui.studentUrl.value = DEFAULT_STUDENT;
    ui.status.textContent = 'No trained students found on this server.';
    ui.error.replaceChildren(el('strong', '', 'No students yet'), el('p', '', HOW_TO_TRAIN));
    ui.error.hidden = false;
    return;
  }
  ui.studentUrl.value = asked ?? found?.[0]?.url ?? DEFAULT_STUDENT;
  await load(ui.studentUrl.value);
}

ui.modelForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void load(ui.studentUrl.value.trim());
});
ui.examples.addEventListener('change', () => {
  const chosen = BUILT_IN.find((p) => p.id === ui.examples.value);
  if (chosen) ui.problem.value = chosen.question;
  showExpected();
});
ui.problem.addEventListener('input', showExpected);
ui.solveForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void solve();
});
window.addEventListener('unhandledrejection', (e) => showError(e.reason, 'Unexpected error'));
void start();
