/** The example page: load a trained student from the same origin and stream its steps into the DOM. */
import {
  initBrowserBackend, loadStudentFromUrl, ModelFetchError, SocraticDistillError, solveStreaming, userProblem,
  type BackendReport, type BrowserStudent, type SolvedStep,
} from '../../src/browser/index.js';

const DEFAULT_STUDENT = 'models/iterative/';

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
  modelForm: $<HTMLFormElement>('model-form'),
  solveForm: $<HTMLFormElement>('solve-form'),
  problem: $<HTMLTextAreaElement>('problem'),
  maxSteps: $<HTMLInputElement>('max-steps'),
  solve: $<HTMLButtonElement>('solve'),
  steps: $<HTMLOListElement>('steps'),
  final: $('final'),
};

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
  ui.error.replaceChildren(el('strong', '', `${context} (${name})`), el('p', '', message));
  if (err instanceof ModelFetchError && err.status === 404) {
    ui.error.append(el('p', '', 'No trained student at that URL. Train them with `npm run demo`, start `npm run example:browser`, then reload.'));
  } else if (err instanceof SocraticDistillError && err.code === 'SAFETENSORS_INVALID') {
    ui.error.append(el('p', '', 'The weights file is damaged or not a safetensors file; re-run the training that wrote it.'));
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

async function load(url: string): Promise<void> {
  clearError();
  ui.solve.disabled = true;
  student?.dispose();
  student = undefined;
  try {
    backend ??= await initBrowserBackend();
    ui.backend.textContent = backend.summary.replace(/^using /, '');
    ui.backend.dataset.backend = backend.backend;
  } catch (err) {
    ui.backend.textContent = 'WebAssembly backend unavailable';
    showError(err, 'Could not start the wasm backend');
    return;
  }
  const started = performance.now();
  ui.status.textContent = `loading ${url} …`;
  try {
    student = await loadStudentFromUrl(new URL(url, location.href).href, {
      backend,
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
    for await (const event of solveStreaming(student, userProblem(ui.problem.value.trim()), { maxSteps })) {
      if (event.type === 'step') {
        thinking.before(stepItem(event.step, event.index, event.ms));
        continue;
      }
      thinking.remove();
      const answer = event.solution.answer;
      ui.final.replaceChildren(
        el('div', 'answer', answer === null ? 'No final answer found.' : `Final answer: ${String(answer)}`),
        el('div', 'meta', `${event.solution.steps.length} step(s), stopped by ${event.solution.stoppedBy}, ${formatMs(event.ms)} in total`),
      );
      ui.final.dataset.answer = answer === null ? '' : String(answer);
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

ui.studentUrl.value = new URLSearchParams(location.search).get('student') ?? DEFAULT_STUDENT;
ui.modelForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void load(ui.studentUrl.value.trim());
});
ui.solveForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void solve();
});
window.addEventListener('unhandledrejection', (e) => showError(e.reason, 'Unexpected error'));
void load(ui.studentUrl.value);
