import type { Answer, Problem } from '../data/schema.js';
import { CheckpointError, TrainingDataError } from '../errors.js';
import { MARKERS } from '../format/markers.js';
import { problemHeader, type FormatMode, type FormatOptions } from '../format/pairs.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { TrainResult } from '../train/trainer.js';
import { extractAnswer } from '../verify/answer.js';
import {
  majorityAnswer, readManifest, tokenizerForTexts, trainingTexts, trainModel, writeManifest,
  type SolvedStep, type SolveOptions, type StudentData, type StudentKind, type StudentSolution, type StudentTrainOptions,
} from './common.js';
import type { TurnModels } from './decode.js';
import { StudentLM, type BackendChoice, type StudentModelSize } from './lm.js';

export interface CreateStudentOptions {
  size: StudentModelSize;
  /** Share one tokenizer across students for equal model sizes; default: trimmed to this student's training texts. */
  tokenizer?: Tokenizer;
  /** Needed to build a trimmed tokenizer when none is given. */
  data?: StudentData;
  backend?: BackendChoice;
  seed?: number;
  format?: FormatOptions;
}

/** A student with one model that writes its whole answer from the problem: answer-only, CoT and Unified. */
export abstract class SingleModelStudent {
  abstract readonly kind: Exclude<StudentKind, 'iterative'>;
  protected abstract readonly mode: FormatMode;

  constructor(
    readonly lm: StudentLM,
    readonly format: FormatOptions = {},
  ) {}

  async train(data: StudentData, options: StudentTrainOptions): Promise<TrainResult> {
    return trainModel(this.lm, this.mode, data, { format: this.format, ...options }, options.checkpointDir);
  }

  async solve(problem: Problem, options: SolveOptions = {}): Promise<StudentSolution> {
    return (await this.solveMany([problem], options))[0]!;
  }

  /** Solve many problems in KV-cached batches (the evaluator's path). */
  async solveMany(problems: readonly Problem[], options: SolveOptions = {}): Promise<StudentSolution[]> {
    const prompts = problems.map((p) => problemHeader(p));
    const maxNewTokens = options.maxNewTokens ?? this.lm.config.n_positions;
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
    return samples.map((runs) => {
      const answers = runs.map((r) => r.answer);
      const answer = majorityAnswer(answers);
      const chosen = runs.find((r) => r.answer === answer) ?? runs[0]!;
      return { ...chosen, answer, strictAnswer: majorityAnswer(runs.map((r) => r.strictAnswer)), samples: answers };
    });
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

  async save(dir: string): Promise<void> {
    await this.lm.save(dir);
    await writeManifest(dir, { kind: this.kind, formatOptions: this.format });
  }

  dispose(): void {
    this.lm.dispose();
  }
}

type StudentClass<S> = new (lm: StudentLM, format?: FormatOptions) => S;

async function createSingle<S extends SingleModelStudent>(cls: StudentClass<S>, mode: FormatMode, options: CreateStudentOptions): Promise<S> {
  const tokenizer = options.tokenizer ?? tokenizerForTexts(trainingTexts(requireData(options), [mode], options.format));
  return new cls(await StudentLM.create(options.size, tokenizer, { backend: options.backend, seed: options.seed }), options.format);
}

async function loadSingle<S extends SingleModelStudent>(cls: StudentClass<S>, kind: StudentKind, dir: string, backend?: BackendChoice): Promise<S> {
  const manifest = await readManifest(dir).catch(() => null);
  if (manifest && manifest.kind !== kind) throw new CheckpointError(dir, `holds a ${manifest.kind} student, not ${kind}; use loadStudent(dir)`);
  return new cls(await StudentLM.load(dir, { backend }), manifest?.formatOptions ?? {});
}

function requireData(options: CreateStudentOptions): StudentData {
  if (!options.data) throw new TrainingDataError('pass either `tokenizer` or the training `data` to build a trimmed vocabulary from');
  return options.data;
}

/** Baseline: problem -> `#### answer`. */
export class AnswerOnlyStudent extends SingleModelStudent {
  readonly kind = 'answer-only' as const;
  protected readonly mode = 'answer-only' as const;
  static create(options: CreateStudentOptions): Promise<AnswerOnlyStudent> {
    return createSingle(AnswerOnlyStudent, 'answer-only', options);
  }
  static load(dir: string, backend?: BackendChoice): Promise<AnswerOnlyStudent> {
    return loadSingle(AnswerOnlyStudent, 'answer-only', dir, backend);
  }
}

/** Baseline: problem -> rationale -> `#### answer`. */
export class CoTStudent extends SingleModelStudent {
  readonly kind = 'cot' as const;
  protected readonly mode = 'cot' as const;
  static create(options: CreateStudentOptions): Promise<CoTStudent> {
    return createSingle(CoTStudent, 'cot', options);
  }
  static load(dir: string, backend?: BackendChoice): Promise<CoTStudent> {
    return loadSingle(CoTStudent, 'cot', dir, backend);
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
  static create(options: CreateStudentOptions): Promise<UnifiedStudent> {
    return createSingle(UnifiedStudent, 'unified', options);
  }
  static load(dir: string, backend?: BackendChoice): Promise<UnifiedStudent> {
    return loadSingle(UnifiedStudent, 'unified', dir, backend);
  }
}
