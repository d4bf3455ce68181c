import type { Answer, Problem } from '../data/schema.js';
import { CheckpointError } from '../errors.js';
import { MARKERS } from '../format/markers.js';
import { problemHeader, type FormatMode, type FormatOptions } from '../format/pairs.js';
import type { TrainResult } from '../train/trainer.js';
import { extractAnswer } from '../verify/answer.js';
import {
  majoritySolution, readManifest, requireData, studentModel, trainingTexts, trainModel, writeManifest,
  type SolvedStep, type SolveOptions, type StudentData, type StudentKind, type StudentModelSource, type StudentSolution, type StudentTrainOptions,
} from './common.js';
import type { TurnModels } from './decode.js';
import { StudentLM, type BackendChoice } from './lm.js';
import { resolveStudentBase, saveStudentModels, type StudentLoadOptions, type StudentSaveOptions } from './lora.js';
import { hasWordLoop, repetitionIn } from './repetition.js';
import { replaySteps, solveEvents, type SolveEvent, type StreamingSolver } from './stream.js';

/** A single-model student from scratch (`size`) or from an HF checkpoint directory (`init`); see StudentModelSource. */
export interface CreateStudentOptions extends StudentModelSource {
  format?: FormatOptions;
}

/** A student with one model that writes its whole answer from the problem: answer-only, CoT and Unified. */
export abstract class SingleModelStudent implements StreamingSolver {
  abstract readonly kind: Exclude<StudentKind, 'iterative'>;
  protected abstract readonly mode: FormatMode;

  constructor(
    readonly lm: StudentLM,
    readonly format: FormatOptions = {},
  ) {}

  async train(data: StudentData, options: StudentTrainOptions): Promise<TrainResult> {
    return trainModel(this.lm, this.mode, data, { format: this.format, ...options }, options.checkpointDir);
  }

  /** Streams the solution's steps (SolveEvent), then `done`; the generator returns the solution. */
  solve(problem: Problem, options: SolveOptions = {}): AsyncGenerator<SolveEvent, StudentSolution, undefined> {
    return solveEvents(this.steps(problem, options));
  }

  /** Answer-only and CoT write no steps: the whole text is generated, then read (as solveMany does). */
  protected async *steps(problem: Problem, options: SolveOptions): AsyncGenerator<SolvedStep, StudentSolution, undefined> {
    return yield* replaySteps((await this.solveMany([problem], options))[0]!);
  }

  /** Solve many problems in KV-cached batches (the evaluator's path). */
  async solveMany(problems: readonly Problem[], options: SolveOptions = {}): Promise<StudentSolution[]> {
    const prompts = problems.map((p) => problemHeader(p));
    const maxNewTokens = options.maxNewTokens ?? this.lm.maxPositions;
    const sc = options.selfConsistency;
    if (!sc || sc.k <= 1) {
      const texts = await this.lm.generate(prompts, { maxNewTokens, batchSize: options.batchSize, calculator: options.calculator });
      return texts.map((t, i) => this.parse(t, problems[i]!));
    }
    const samples: StudentSolution[][] = problems.map(() => []);
    for (let s = 0; s < sc.k; s++) {
      const texts = await this.lm.generate(prompts, {
        maxNewTokens, batchSize: options.batchSize, calculator: options.calculator, greedy: false, temperature: sc.temperature ?? 0.7, topK: sc.topK, seed: (sc.seed ?? 0) * 1000 + s,
      });
      texts.forEach((t, i) => samples[i]!.push(this.parse(t, problems[i]!)));
    }
    return samples.map(majoritySolution);
  }

  /** Read steps (Unified) and the answer out of generated text. */
  parse(text: string, problem: Pick<Problem, 'dataset'>): StudentSolution {
    const steps: SolvedStep[] = [];
    for (const line of text.split('\n')) {
      const l = line.trim();
      if (l.startsWith(MARKERS.question)) steps.push({ subquestion: l.slice(MARKERS.question.length).trim(), solution: '' });
      else if (l.startsWith(MARKERS.answer) && steps.length > 0 && !steps.at(-1)!.solution) {
        const solution = l.slice(MARKERS.answer.length).trim();
        steps.at(-1)!.solution = solution;
        steps.at(-1)!.answer = extractAnswer(solution, problem.dataset, 'flexible');
      }
    }
    const answer: Answer | null = extractAnswer(text, problem.dataset, 'flexible');
    return {
      answer,
      strictAnswer: extractAnswer(text, problem.dataset, 'strict'),
      steps: this.mode === 'unified' ? steps : [],
      text,
      stoppedBy: text.trim() ? 'eos' : 'no-output',
    };
  }

  /** HF layout (config.json, model.safetensors, tokenizer files) and student.json; a LoRA student a PEFT adapter over the base student.json records. */
  async save(dir: string, options: StudentSaveOptions = {}): Promise<void> {
    const base = await saveStudentModels(dir, [['', this.lm]], options);
    await writeManifest(dir, { kind: this.kind, formatOptions: this.format, ...(base ? { base } : {}) });
  }

  dispose(): void {
    this.lm.dispose();
  }
}

type StudentClass<S> = new (lm: StudentLM, format?: FormatOptions) => S;

async function createSingle<S extends SingleModelStudent>(cls: StudentClass<S>, mode: FormatMode, options: CreateStudentOptions): Promise<S> {
  const texts = (): string[] => trainingTexts(requireData(options.data), [mode], options.format);
  return new cls(await studentModel(options, options.size, texts, options.seed ?? 0), options.format);
}

async function loadSingle<S extends SingleModelStudent>(cls: StudentClass<S>, kind: StudentKind, dir: string, backend?: BackendChoice, options: StudentLoadOptions = {}): Promise<S> {
  const manifest = await readManifest(dir).catch(() => null);
  if (manifest && manifest.kind !== kind) throw new CheckpointError(dir, `holds a ${manifest.kind} student, not ${kind}; use loadStudent(dir)`);
  // A LoRA student: its adapter (saved in dir itself) over the base student.json records.
  const lm = manifest?.base
    ? await StudentLM.load(await resolveStudentBase(dir, manifest.base, options.base), { backend, adapter: dir })
    : await StudentLM.load(dir, { backend });
  return new cls(lm, manifest?.formatOptions ?? {});
}

/** Baseline: problem -> `#### answer`. */
export class AnswerOnlyStudent extends SingleModelStudent {
  readonly kind = 'answer-only' as const;
  protected readonly mode = 'answer-only' as const;
  static create(options: CreateStudentOptions): Promise<AnswerOnlyStudent> {
    return createSingle(AnswerOnlyStudent, 'answer-only', options);
  }
  static load(dir: string, backend?: BackendChoice, options: StudentLoadOptions = {}): Promise<AnswerOnlyStudent> {
    return loadSingle(AnswerOnlyStudent, 'answer-only', dir, backend, options);
  }
}

/** Baseline: problem -> rationale -> `#### answer`. */
export class CoTStudent extends SingleModelStudent {
  readonly kind = 'cot' as const;
  protected readonly mode = 'cot' as const;
  static create(options: CreateStudentOptions): Promise<CoTStudent> {
    return createSingle(CoTStudent, 'cot', options);
  }
  static load(dir: string, backend?: BackendChoice, options: StudentLoadOptions = {}): Promise<CoTStudent> {
    return loadSingle(CoTStudent, 'cot', dir, backend, options);
  }
}

/** Socratic, one model: problem -> `Q: sq` / `A: sol` ... -> `#### answer`. */
export class UnifiedStudent extends SingleModelStudent {
  readonly kind = 'unified' as const;
  protected readonly mode = 'unified' as const;
  /** One model writes both turns. */
  turnModels(): TurnModels {
    return { proposer: this.lm, answerer: this.lm };
  }

  /**
   * Streams steps as they are written: one greedy line at a time (each a continuation of the text
   * so far, stopped at the newline), a step out as soon as its `A:` line exists. With
   * self-consistency the samples are voted on first (solveMany) and the winner's steps follow.
   */
  protected override async *steps(problem: Problem, options: SolveOptions): AsyncGenerator<SolvedStep, StudentSolution, undefined> {
    if ((options.selfConsistency?.k ?? 1) > 1) return yield* super.steps(problem, options);
    const header = problemHeader(problem);
    const maxLines = 2 * (options.maxSteps ?? 8) + 1;
    let text = '';
    let pending: { subquestion: string; textBefore: string } | undefined;
    let previous = '';
    const written: SolvedStep[] = [];
    // A looping student (a line again, a step again, one word over and over) is stopped, and the loop left out.
    let looping = false;
    for (let line = 0; line < maxLines; line++) {
      const [out = ''] = await this.lm.generate([header + text], { maxNewTokens: options.maxNewTokens ?? 96, stopSequences: ['\n'], calculator: options.calculator });
      const l = out.trim();
      if (!l) break;
      if (l === previous || hasWordLoop(l)) {
        looping = true;
        break;
      }
      previous = l;
      const textBefore = text;
      text += `${out}\n`;
      if (l.startsWith(MARKERS.question)) pending = { subquestion: l.slice(MARKERS.question.length).trim(), textBefore };
      else if (l.startsWith(MARKERS.answer) && pending !== undefined) {
        const parsed = this.parse(`${MARKERS.question} ${pending.subquestion}\n${l}\n`, problem).steps[0];
        const step = parsed ?? { subquestion: pending.subquestion, solution: l.slice(MARKERS.answer.length).trim() };
        if (repetitionIn(step, written)) {
          text = pending.textBefore;
          looping = true;
          break;
        }
        written.push(step);
        yield step;
        pending = undefined;
      }
      if (l.includes(MARKERS.final)) break;
    }
    const solution = this.parse(text, problem);
    return looping ? { ...solution, stoppedBy: 'repetition' } : solution;
  }
  static create(options: CreateStudentOptions): Promise<UnifiedStudent> {
    return createSingle(UnifiedStudent, 'unified', options);
  }
  static load(dir: string, backend?: BackendChoice, options: StudentLoadOptions = {}): Promise<UnifiedStudent> {
    return loadSingle(UnifiedStudent, 'unified', dir, backend, options);
  }
}
