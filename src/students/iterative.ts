import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Answer, Problem } from '../data/schema.js';
import { CheckpointError, ModelConfigError } from '../errors.js';
import { MARKERS } from '../format/markers.js';
import { finalAnswerLine, historyText, qaPrompt, qgPrompt, type FormatOptions } from '../format/pairs.js';
import type { TrainResult } from '../train/trainer.js';
import { extractAnswer } from '../verify/answer.js';
import {
  loraNeedsInit, majoritySolution, readManifest, requireData, studentModel, tokenizerForTexts, trainingTexts, trainModel, writeManifest,
  type IterativePacking, type SolvedStep, type SolveOptions, type StopReason, type StudentData, type StudentModelSource, type StudentSolution, type StudentTrainOptions,
} from './common.js';
import type { GenerateTextOptions, TextGenerator, TurnModels } from './decode.js';
import { StudentLM, type BackendChoice, type StudentModelSize } from './lm.js';
import { resolveStudentBase, saveStudentModels, type StudentLoadOptions, type StudentSaveOptions } from './lora.js';
import { hasWordLoop, repetitionIn } from './repetition.js';
import { replaySteps, solveEvents, type SolveEvent, type StreamingSolver } from './stream.js';

export interface IterativeSolveOptions extends SolveOptions {
  /** Called with every step as soon as its solution is generated (solveMany too; solve() also streams it as an event). */
  onStep?: (step: SolvedStep, index: number, problem: Problem) => void;
}

/**
 * The QG/QA pair from scratch (each its own size, one shared tokenizer) or both from one HF checkpoint directory (`init`).
 * With `lora` (and `init`), QG and QA are two adapters over ONE frozen base in memory (QA = qg.withAdapter).
 */
export interface CreateIterativeOptions extends Omit<StudentModelSource, 'size'> {
  /** From scratch, QG and QA each get their own size. */
  qgSize?: StudentModelSize;
  qaSize?: StudentModelSize;
  maxSteps?: number;
}

/** One model for both turns (see IterativeStudent.createShared), from scratch at `size` or from `init`. */
export interface CreateSharedIterativeOptions extends StudentModelSource {
  maxSteps?: number;
}

/** For a shared student, `qg` and `qa` are the one model's result. */
export interface IterativeTrainResult {
  qg: TrainResult;
  qa: TrainResult;
}

interface Row {
  problem: Problem;
  steps: SolvedStep[];
  stoppedBy?: StopReason;
  markedAnswer?: Answer | null;
}

/**
 * Socratic CoT with two models in turns: QG asks the next subquestion (or says
 * `[END]`), QA answers it. Steps stream out as they are made.
 *
 * Solving needs only text generators (`M`), so scripted ones can stand in; training and saving
 * need real models, so `train` and `save` exist only on the default `IterativeStudent<StudentLM>`
 * (a compile-time error otherwise, not a runtime one).
 */
export class IterativeStudent<M extends TextGenerator = StudentLM> implements StreamingSolver {
  readonly kind = 'iterative' as const;

  constructor(
    readonly qg: M,
    readonly qa: M,
    readonly maxSteps = 8,
  ) {}

  static async create(options: CreateIterativeOptions): Promise<IterativeStudent> {
    if (options.lora) {
      if (options.init === undefined) throw loraNeedsInit();
      const seed = options.seed ?? 0;
      const qg = await studentModel(options, options.qgSize, () => [], seed);
      // QA shares QG's base: one copy of the frozen weights, one adapter each.
      const qa = await qg.withAdapter({ lora: options.lora, seed: seed + 1 }).catch((err: unknown) => {
        qg.dispose();
        throw err;
      });
      return new IterativeStudent(qg, qa, options.maxSteps);
    }
    if (options.init === undefined && (options.qgSize === undefined || options.qaSize === undefined)) {
      throw new ModelConfigError('pass both qgSize and qaSize (from scratch), or `init` (an HF checkpoint directory both start from)');
    }
    // One vocabulary for both models, built once (a checkpoint brings its own).
    const texts = (): string[] => trainingTexts(requireData(options.data), ['qg', 'qa']);
    const tokenizer = options.init === undefined ? (options.tokenizer ?? tokenizerForTexts(texts())) : options.tokenizer;
    const seed = options.seed ?? 0;
    const qg = await studentModel({ ...options, tokenizer }, options.qgSize, texts, seed);
    const qa = await studentModel({ ...options, tokenizer }, options.qaSize, texts, seed + 1).catch((err: unknown) => {
      qg.dispose();
      throw err;
    });
    return new IterativeStudent(qg, qa, options.maxSteps);
  }

  /**
   * One model plays both turns, trained on whole chains with the loss on every turn (the Unified
   * format), then asked turn by turn. Each turn then learns from the other's lines too; measured
   * the strongest iterative variant at the same budget (docs/results.md).
   */
  static async createShared(options: CreateSharedIterativeOptions): Promise<IterativeStudent> {
    const lm = await studentModel(options, options.size, () => trainingTexts(requireData(options.data), ['unified']), options.seed ?? 0);
    return new IterativeStudent(lm, lm, options.maxSteps);
  }

  /** Whether one model plays both turns. */
  get shared(): boolean {
    return this.qg === this.qa;
  }

  /**
   * Load a directory written by save(). A LoRA pair loads its base once (where student.json says, or `options.base`)
   * with QG's adapter, and QA's adapter over the same base in memory.
   */
  static async load(dir: string, backend?: BackendChoice, options: StudentLoadOptions = {}): Promise<IterativeStudent> {
    const manifest = await readManifest(dir);
    if (manifest.kind !== 'iterative') throw new CheckpointError(dir, `holds a ${manifest.kind} student, not iterative; use loadStudent(dir)`);
    if (manifest.base) {
      const base = await resolveStudentBase(dir, manifest.base, options.base);
      if (manifest.shared) {
        const lm = await StudentLM.load(base, { backend, adapter: join(dir, 'model') });
        return new IterativeStudent(lm, lm, manifest.maxSteps);
      }
      const qg = await StudentLM.load(base, { backend, adapter: join(dir, 'qg') });
      const qa = await qg.withAdapter({ adapter: join(dir, 'qa') }).catch((err: unknown) => {
        qg.dispose();
        throw err;
      });
      return new IterativeStudent(qg, qa, manifest.maxSteps);
    }
    if (manifest.shared) {
      const lm = await StudentLM.load(join(dir, 'model'), { backend });
      return new IterativeStudent(lm, lm, manifest.maxSteps);
    }
    const qg = await StudentLM.load(join(dir, 'qg'), { backend });
    const qa = await StudentLM.load(join(dir, 'qa'), { backend });
    return new IterativeStudent(qg, qa, manifest.maxSteps);
  }

  /**
   * Trains QG and QA, one after the other, with the same options. `packing` defaults to 'per-chain':
   * the same targets as the paper's per-step pairs, but every optimizer step sees every turn of its
   * chains (measured far ahead of 'per-step' at the same steps; docs/results.md).
   */
  async train(this: IterativeStudent<StudentLM>, data: StudentData, options: StudentTrainOptions & { packing?: IterativePacking }, format: FormatOptions = {}): Promise<IterativeTrainResult> {
    const { qg, qa } = this;
    const dir = options.checkpointDir;
    if (this.shared) {
      const result = await trainModel(qg, 'unified', data, { format, ...options }, dir && join(dir, 'model'));
      return { qg: result, qa: result };
    }
    const opts = { format, packing: 'per-chain' as const, ...options };
    const qgResult = await trainModel(qg, 'qg', data, opts, dir && join(dir, 'qg'));
    const qaResult = await trainModel(qa, 'qa', data, opts, dir && join(dir, 'qa'));
    return { qg: qgResult, qa: qaResult };
  }

  /**
   * Solve one problem, streaming each step (SolveEvent) as soon as it exists, then `done`.
   * The generator's return value is the full solution.
   */
  solve(problem: Problem, options: IterativeSolveOptions = {}): AsyncGenerator<SolveEvent, StudentSolution, undefined> {
    return solveEvents(this.steps(problem, options));
  }

  private async *steps(problem: Problem, options: IterativeSolveOptions): AsyncGenerator<SolvedStep, StudentSolution, undefined> {
    // Self-consistency votes over whole samples, so the winner's steps can only follow the vote.
    if ((options.selfConsistency?.k ?? 1) > 1) return yield* replaySteps((await this.solveMany([problem], options))[0]!);
    const row: Row = { problem, steps: [] };
    for await (const fresh of this.rounds([row], options, 0)) {
      for (const { step } of fresh) yield step;
    }
    return finish(row);
  }

  /** Solve many problems, each round batching QG (then QA) over every unfinished problem. */
  async solveMany(problems: readonly Problem[], options: IterativeSolveOptions = {}): Promise<StudentSolution[]> {
    const sc = options.selfConsistency;
    const runs = Math.max(1, sc?.k ?? 1);
    const all: StudentSolution[][] = problems.map(() => []);
    for (let s = 0; s < runs; s++) {
      const rows: Row[] = problems.map((problem) => ({ problem, steps: [] }));
      for await (const _ of this.rounds(rows, options, s)) {
        // rounds() mutates rows; nothing to do per round here.
      }
      rows.forEach((r, i) => all[i]!.push(finish(r)));
    }
    if (runs === 1) return all.map((r) => r[0]!);
    return all.map(majoritySolution);
  }

  private async *rounds(rows: Row[], options: IterativeSolveOptions, sample: number): AsyncGenerator<Array<{ row: Row; step: SolvedStep }>> {
    const maxSteps = options.maxSteps ?? this.maxSteps;
    const sc = options.selfConsistency;
    const gen = (round: number, part: number): GenerateTextOptions => ({
      maxNewTokens: options.maxNewTokens ?? 96,
      stopSequences: ['\n'],
      batchSize: options.batchSize,
      // Only QA's turn (part 1) writes arithmetic.
      calculator: part === 1 && options.calculator === true,
      ...(sc && sc.k > 1 ? { greedy: false, temperature: sc.temperature ?? 0.7, topK: sc.topK, seed: ((sc.seed ?? 0) * 1000 + sample) * 1000 + round * 2 + part } : {}),
    });
    for (let round = 0; ; round++) {
      const active = rows.filter((r) => !r.stoppedBy);
      if (active.length === 0) return;
      const questions = await this.qg.generate(active.map((r) => qgPrompt(r.problem, asHistory(r.steps))), gen(round, 0));
      const asking: Array<{ row: Row; subquestion: string }> = [];
      active.forEach((row, i) => {
        const out = questions[i]!.trim();
        if (out.includes(MARKERS.end)) row.stoppedBy = 'end-marker';
        else if (out.includes(MARKERS.final)) {
          row.stoppedBy = 'final-marker';
          row.markedAnswer = extractAnswer(out, row.problem.dataset, 'strict');
        } else {
          const subquestion = stripPrefix(out, MARKERS.question);
          if (!subquestion) row.stoppedBy = 'no-output';
          else if (hasWordLoop(subquestion)) row.stoppedBy = 'repetition';
          else asking.push({ row, subquestion });
        }
      });
      if (asking.length === 0) continue;
      const answers = await this.qa.generate(asking.map((a) => qaPrompt(a.row.problem, asHistory(a.row.steps), a.subquestion)), gen(round, 1));
      const fresh: Array<{ row: Row; step: SolvedStep }> = [];
      asking.forEach(({ row, subquestion }, i) => {
        const solution = stripPrefix(answers[i]!.trim(), MARKERS.answer);
        const step: SolvedStep = { subquestion, solution, answer: extractAnswer(solution, row.problem.dataset, 'flexible') };
        // A step said again word for word (or a word loop) ends the solve; the repeat is left out.
        if (repetitionIn(step, row.steps)) {
          row.stoppedBy = 'repetition';
          return;
        }
        row.steps.push(step);
        options.onStep?.(step, row.steps.length - 1, row.problem);
        if (solution.includes(MARKERS.final)) {
          row.stoppedBy = 'final-marker';
          row.markedAnswer = extractAnswer(solution, row.problem.dataset, 'strict');
        } else if (row.steps.length >= maxSteps) row.stoppedBy = 'max-steps';
        fresh.push({ row, step });
      });
      yield fresh;
    }
  }

  turnModels(): TurnModels {
    return { proposer: this.qg, answerer: this.qa };
  }

  /**
   * qg/ and qa/ (a shared model: model/) as HF directories, and student.json. A LoRA pair saves two PEFT adapter
   * directories and records their one base in student.json (`withBase`: a copy of it in base/ too).
   */
  async save(this: IterativeStudent<StudentLM>, dir: string, options: StudentSaveOptions = {}): Promise<void> {
    const { qg, qa } = this;
    await mkdir(dir, { recursive: true });
    const base = await saveStudentModels(dir, this.shared ? [['model', qg]] : [['qg', qg], ['qa', qa]], options);
    await writeManifest(dir, { kind: 'iterative', formatOptions: {}, maxSteps: this.maxSteps, ...(this.shared ? { shared: true } : {}), ...(base ? { base } : {}) });
  }

  dispose(): void {
    // One model may play both turns (a shared model); dispose it once.
    for (const m of new Set([this.qg, this.qa])) m.dispose?.();
  }
}

/** Generated solutions already end with their answer; the prompt shows them verbatim. */
function asHistory(steps: readonly SolvedStep[]): Array<{ subquestion: string; solution: string }> {
  return steps.map((s) => ({ subquestion: s.subquestion, solution: s.solution }));
}

function stripPrefix(text: string, prefix: string): string {
  return (text.startsWith(prefix) ? text.slice(prefix.length) : text).trim();
}

function finish(row: Row): StudentSolution {
  const stoppedBy = row.stoppedBy ?? 'max-steps';
  const last = row.steps.at(-1)?.answer ?? null;
  const answer = row.markedAnswer ?? last;
  const clean = stoppedBy === 'end-marker' || stoppedBy === 'final-marker';
  const text = historyText(asHistory(row.steps)) + (answer !== null ? finalAnswerLine(answer) : '');
  return { answer, strictAnswer: clean ? answer : null, steps: row.steps, text, stoppedBy };
}
