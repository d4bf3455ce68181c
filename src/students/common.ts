import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Answer, Problem, SocraticChain } from '../data/schema.js';
import { CheckpointError, ModelConfigError, TrainingDataError } from '../errors.js';
import { buildPairs, buildRoleSequences, type FormatMode, type FormatOptions } from '../format/pairs.js';
import { writeFileAtomic } from '../io/atomic.js';
import { Tokenizer, TrimmedVocab, type TextTokenizer } from '../tokenizer/index.js';
import { encodePairs, encodeSequences, type EncodedExample } from '../train/examples.js';
import { train, type TrainOptions, type TrainResult } from '../train/trainer.js';
import type { LoraOptions } from '../arch/lora.js';
import { StudentLM, type BackendChoice, type StudentModelSize } from './lm.js';

export const STUDENT_KINDS = ['answer-only', 'cot', 'unified', 'iterative'] as const;
export type StudentKind = (typeof STUDENT_KINDS)[number];

/** Verified chains and the problems they solve. */
export interface StudentData {
  problems: readonly Problem[];
  chains: readonly SocraticChain[];
}

export interface StudentTrainOptions extends Omit<TrainOptions, 'eval' | 'checkpoint'> {
  /** Loss on prompt tokens too. Default false. */
  promptLoss?: boolean;
  format?: FormatOptions;
  /**
   * Held-out chains for eval loss every `every` steps, with early stopping after `patience` evals; at the
   * end the weights of the lowest eval loss are kept unless `restoreBest` is false.
   */
  eval?: { data: StudentData; every: number; patience?: number; restoreBest?: boolean };
  /** Checkpoint directory (resumed from when it holds a checkpoint). Iterative students use qg/ and qa/ below it. */
  checkpointDir?: string;
  checkpointEvery?: number;
}

export interface SolvedStep {
  subquestion: string;
  solution: string;
  answer?: Answer | null;
}

/** `repetition`: the student started looping (a step repeated word for word, or one word over and over), see repetitionIn. */
export type StopReason = 'eos' | 'end-marker' | 'final-marker' | 'max-steps' | 'no-output' | 'repetition';

export interface StudentSolution {
  /** Flexible reading: the marked answer, else the last stated answer or number. */
  answer: Answer | null;
  /** Strict reading: only an explicit `####` answer (Iterative: the last step's answer after a clean stop). */
  strictAnswer: Answer | null;
  steps: SolvedStep[];
  /** Everything the student generated, as text. */
  text: string;
  stoppedBy: StopReason;
  /** Self-consistency: the answer of every sample. */
  samples?: Array<Answer | null>;
}

export interface SolveOptions {
  /** Sample k solutions and take the majority answer. Default 1 (greedy). */
  selfConsistency?: { k: number; temperature?: number; topK?: number; seed?: number };
  maxNewTokens?: number;
  batchSize?: number;
  /** Let the calculator write the result after each `<expression> =` the student writes (GenerateTextOptions.calculator). Default false. */
  calculator?: boolean;
  /** Most (subquestion, solution) turns: the Iterative loop's limit, and the lines a Unified `solve()` streams. Default: the student's own (8). */
  maxSteps?: number;
}

/** A tokenizer whose trimmed vocabulary covers the texts; unseen tokens later map to `<unk>`. */
export function tokenizerForTexts(texts: Iterable<string>): Tokenizer {
  return new Tokenizer(TrimmedVocab.fromCorpus(texts, { unk: true }));
}

/** Every prompt and completion text of the given modes, for building a shared vocabulary. */
export function trainingTexts(data: StudentData, modes: readonly FormatMode[], format?: FormatOptions): string[] {
  return modes.flatMap((m) => buildPairs(m, data.problems, data.chains, format).flatMap((p) => [p.prompt, p.completion]));
}

/**
 * How the Iterative pair's QG and QA models see a chain: `per-step`, one (history → next turn)
 * pair per step, as the paper formats them; or `per-chain`, the whole chain as one sequence with
 * the loss on that model's turns (same targets, same prefixes, so the same function is learned,
 * but every optimizer step sees every turn of its chains).
 */
export type IterativePacking = 'per-step' | 'per-chain';

/** Train one model of a student on the pairs of one format mode (QG/QA: optionally packed per chain). */
export async function trainModel(
  lm: StudentLM,
  mode: FormatMode,
  data: StudentData,
  options: StudentTrainOptions & { packing?: IterativePacking },
  checkpointDir?: string,
): Promise<TrainResult> {
  const packed = options.packing === 'per-chain' && (mode === 'qg' || mode === 'qa');
  const encode = (d: StudentData): EncodedExample[] =>
    packed
      ? encodeSequences(lm.tokenizer, buildRoleSequences(mode, d.problems, d.chains, options.format), { maxLength: lm.maxPositions })
      : encodePairs(lm.tokenizer, buildPairs(mode, d.problems, d.chains, options.format), { promptLoss: options.promptLoss, maxLength: lm.maxPositions });
  const examples = encode(data);
  const { eval: ev, checkpointDir: _dir, checkpointEvery, promptLoss: _p, format: _f, packing: _k, ...rest } = options;
  return train(lm.model, examples, {
    ...rest,
    eval: ev ? { examples: encode(ev.data), every: ev.every, patience: ev.patience, restoreBest: ev.restoreBest } : undefined,
    checkpoint: checkpointDir ? { dir: checkpointDir, every: checkpointEvery ?? 100 } : undefined,
  });
}

/** Majority answer (first-seen wins ties); null answers never win over a real one. */
export function majorityAnswer(answers: ReadonlyArray<Answer | null>): Answer | null {
  const counts = new Map<string, { answer: Answer; n: number }>();
  for (const a of answers) {
    if (a === null) continue;
    const key = typeof a === 'number' ? String(Number(a.toPrecision(12))) : String(a);
    const entry = counts.get(key) ?? { answer: a, n: 0 };
    entry.n++;
    counts.set(key, entry);
  }
  let best: { answer: Answer; n: number } | null = null;
  for (const e of counts.values()) if (!best || e.n > best.n) best = e;
  return best ? best.answer : null;
}

/**
 * Self-consistency: the majority answer over the samples of one problem, reported with the first
 * sample that gave it (its steps and text); `samples` lists every sample's answer.
 */
export function majoritySolution(samples: readonly StudentSolution[]): StudentSolution {
  const answers = samples.map((r) => r.answer);
  const answer = majorityAnswer(answers);
  const chosen = samples.find((r) => r.answer === answer) ?? samples[0]!;
  return { ...chosen, answer, strictAnswer: majorityAnswer(samples.map((r) => r.strictAnswer)), samples: answers };
}

/** The training data a trimmed vocabulary is built from, when no tokenizer was given. */
export function requireData(data: StudentData | undefined): StudentData {
  if (!data) throw new TrainingDataError('pass either `tokenizer` or the training `data` to build a trimmed vocabulary from');
  return data;
}

/** Where a new student's model comes from: a size from scratch, or `init`, an HF checkpoint directory (with its own tokenizer). */
export interface StudentModelSource {
  /** Train from scratch at this size (GPT-2 fields, or a Llama-family config with its model_type). */
  size?: StudentModelSize;
  /**
   * Or start from this HF checkpoint directory (Node only): GPT-2, or a Llama-family model such as SmolLM2 or Qwen3,
   * which keeps its own tokenizer.json, vocabulary and EOS. `tokenizer` and `data` are then not used.
   */
  init?: string;
  /** Share one tokenizer across students for equal model sizes; default: trimmed to this student's training texts. */
  tokenizer?: TextTokenizer;
  /** Needed to build a trimmed tokenizer when none is given. */
  data?: StudentData;
  backend?: BackendChoice;
  seed?: number;
  /**
   * Train LoRA adapters over the frozen `init` model instead of every weight (needs `init`): rank, alpha and the
   * modules to adapt (default every projection). The Iterative pair gets one adapter per model over one base in memory.
   */
  lora?: LoraOptions;
}

/**
 * The model of a new student: loaded from `init`, or created at `size` on `tokenizer` (default: a vocabulary trimmed
 * to `texts()`, built only when needed). Exactly one of `size` and `init`.
 */
export async function studentModel(source: StudentModelSource, size: StudentModelSize | undefined, texts: () => string[], seed: number): Promise<StudentLM> {
  if (source.lora && source.init === undefined) throw loraNeedsInit();
  if (source.init !== undefined) {
    if (size !== undefined) throw new ModelConfigError('pass either a size (from scratch) or `init` (an HF checkpoint directory), not both');
    if (source.tokenizer) throw new ModelConfigError('a student started from `init` keeps the checkpoint\'s own tokenizer; leave `tokenizer` out');
    return StudentLM.load(source.init, { backend: source.backend, ...(source.lora ? { lora: source.lora, seed } : {}) });
  }
  if (size === undefined) throw new ModelConfigError('pass a size (from scratch) or `init` (an HF checkpoint directory to start from)');
  return StudentLM.create(size, source.tokenizer ?? tokenizerForTexts(texts()), { backend: source.backend, seed });
}

/** `lora` without `init`: LoRA adapts a pretrained base, and a model from scratch has none to keep frozen. */
export function loraNeedsInit(): ModelConfigError {
  return new ModelConfigError(
    'lora trains adapters over a frozen pretrained base: pass `init` (an HF checkpoint directory) with it; a student from scratch (`size`) trains every weight, so leave `lora` out',
  );
}

/** The base model a LoRA student's adapters were trained over, as student.json records it. */
export const StudentBaseSchema = z.object({
  /** The base directory's absolute path when the student was saved. */
  path: z.string().min(1),
  /** baseFingerprint of that directory (config.json, weight file sizes and edges), to refuse another model at the path. */
  fingerprint: z.string().min(1),
  /** A copy of the base saved beside the adapters (save's `withBase`), relative to the student directory. */
  copy: z.string().min(1).optional(),
});
export type StudentBase = z.infer<typeof StudentBaseSchema>;

export const StudentManifestSchema = z.object({
  format: z.literal('socratic-distill/student'),
  version: z.literal(1),
  kind: z.enum(STUDENT_KINDS),
  formatOptions: z.object({ keepCalculatorNotes: z.boolean().optional() }).default({}),
  maxSteps: z.number().int().positive().optional(),
  /** Iterative: one model (in `model/`) plays both turns. */
  shared: z.boolean().optional(),
  /** A LoRA student: its models are PEFT adapters over this base (their rank, alpha and targets are in each adapter_config.json). */
  base: StudentBaseSchema.optional(),
});
export type StudentManifest = z.infer<typeof StudentManifestSchema>;

export const MANIFEST_FILE = 'student.json';

export async function writeManifest(dir: string, manifest: Omit<StudentManifest, 'format' | 'version'>): Promise<void> {
  await writeFileAtomic(join(dir, MANIFEST_FILE), JSON.stringify({ format: 'socratic-distill/student', version: 1, ...manifest }, null, 2));
}

export async function readManifest(dir: string): Promise<StudentManifest> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8'));
  } catch (err) {
    throw new CheckpointError(dir, `no readable ${MANIFEST_FILE}; is this a student directory written by save()?`, { cause: err });
  }
  const r = StudentManifestSchema.safeParse(json);
  if (!r.success) throw new CheckpointError(dir, `${MANIFEST_FILE}: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`);
  return r.data;
}
