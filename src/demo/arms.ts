import { dagMeta, wrongLocalityChain } from '../data/synthetic-dag.js';
import { InvalidOptionError } from '../errors.js';
import type { Solver } from '../eval/evaluator.js';
import { CONTROL_MARK } from '../eval/report.js';
import type { ArmId } from './arm-ids.js';
import type { Problem } from '../data/schema.js';
import type { IterativePacking, StudentData, StudentTrainOptions } from '../students/common.js';
import { IterativeStudent } from '../students/iterative.js';
import { StudentLM, type BackendChoice, type StudentModelSize } from '../students/lm.js';
import { AnswerOnlyStudent, CoTStudent, UnifiedStudent } from '../students/single.js';
import type { TextTokenizer } from '../tokenizer/index.js';
import type { TrainProgress } from '../train/trainer.js';

/** What every arm of one seed shares: model size, vocabulary, backend, seed and the per-model step budget. */
export interface ArmContext {
  size: StudentModelSize;
  /** HF checkpoint directory (GPT-2 or Llama family) every model starts from; unset: from scratch at `size` on `tokenizer`. */
  init?: string;
  tokenizer: TextTokenizer;
  backend: BackendChoice;
  seed: number;
  steps: number;
  maxSteps: number;
  trainOptions: (arm: string, steps: number) => StudentTrainOptions;
}

export interface TrainedArm {
  name: string;
  solver: Solver & { dispose(): void; save(dir: string): Promise<void> };
  /** Loss curves by model: one entry for single-model arms, `<name>/QG` and `<name>/QA` for the pair. */
  losses: Record<string, number[]>;
  seconds: number;
}

/** A model for an arm: the checkpoint's weights, or a fresh one seeded `ctx.seed + offset`. */
function newLM(ctx: ArmContext, offset = 0): Promise<StudentLM> {
  return ctx.init ? StudentLM.load(ctx.init, { backend: ctx.backend }) : StudentLM.create(ctx.size, ctx.tokenizer, { backend: ctx.backend, seed: ctx.seed + offset });
}

interface ArmSpec {
  name: string;
  train(data: StudentData, ctx: ArmContext): Promise<TrainedArm>;
  /** The chains this arm trains on, when they are not the verified ones (so their lengths can be checked first). */
  chains?(data: StudentData): StudentData;
  /** Throws when the arm cannot train on these problems; runs before the teacher. */
  check?(problems: readonly Problem[]): void;
}

function single(name: string, make: typeof AnswerOnlyStudent | typeof CoTStudent | typeof UnifiedStudent): ArmSpec {
  return {
    name,
    async train(data, ctx) {
      const student = new make(await newLM(ctx));
      const r = await student.train(data, ctx.trainOptions(name, ctx.steps));
      return { name, solver: student, losses: { [name]: r.losses }, seconds: r.wallSeconds };
    },
  };
}

/**
 * The Iterative pair. `stepShare` scales each model's steps: 1 gives QG and QA the full budget each
 * (the paper's two-model setup, twice a single model's optimizer steps); 0.5 gives the pair the same
 * total optimizer steps as one single-model arm.
 */
function iterative(name: string, packing: IterativePacking, stepShare: number): ArmSpec {
  return {
    name,
    async train(data, ctx) {
      const student = new IterativeStudent(await newLM(ctx), await newLM(ctx, 1), ctx.maxSteps);
      const steps = Math.max(1, Math.round(ctx.steps * stepShare));
      const r = await student.train(data, { ...ctx.trainOptions(name, steps), packing });
      return { name, solver: student, losses: { [`${name}/QG`]: r.qg.losses, [`${name}/QA`]: r.qa.losses }, seconds: r.qg.wallSeconds + r.qa.wallSeconds };
    },
  };
}

/** One model plays both turns (as IterativeStudent.createShared makes it): the same optimizer steps as one single-model arm. */
function sharedIterative(name: string): ArmSpec {
  return {
    name,
    async train(data, ctx) {
      const lm = await newLM(ctx);
      const student = new IterativeStudent(lm, lm, ctx.maxSteps);
      const r = await student.train(data, ctx.trainOptions(name, ctx.steps));
      return { name, solver: student, losses: { [name]: r.qg.losses }, seconds: r.qg.wallSeconds };
    },
  };
}

/** The kept chains with every irrelevant quantity asked about too (wrongLocalityChain); the same problems. */
function wrongLocalityData(data: StudentData): StudentData {
  const byId = new Map(data.problems.map((p) => [p.id, p]));
  return { problems: data.problems, chains: data.chains.map((c) => wrongLocalityChain(byId.get(c.problemId)!, c) ?? c) };
}

/**
 * The negative control of "wrong locality" (Prystawski et al.): a Unified student trained on chains whose
 * subquestions also ask about quantities the answer does not need, interleaved with the needed ones. Same
 * model, steps and problems as Unified; if the students use their subquestions, it should be behind.
 */
const wrongLocalityUnified = single(`Unified, wrong locality ${CONTROL_MARK}`, UnifiedStudent);
const wrongLocality: ArmSpec = {
  name: wrongLocalityUnified.name,
  chains: wrongLocalityData,
  train: (data, ctx) => wrongLocalityUnified.train(wrongLocalityData(data), ctx),
  check(problems) {
    const bad = problems.find((p) => !dagMeta(p)?.distractorSteps.length);
    if (bad) throw new InvalidOptionError('arms', `'wrong-locality' needs problems with irrelevant computed quantities (the synthetic dag family); problem ${bad.id} has none`);
  },
};

/** Every arm the demo can run, by id. The default set is the paper's four. */
export const ARMS = {
  'answer-only': single('Answer-only', AnswerOnlyStudent),
  cot: single('CoT', CoTStudent),
  unified: single('Unified Socratic', UnifiedStudent),
  iterative: iterative('Iterative Socratic (QG+QA)', 'per-chain', 1),
  'iterative-per-step': iterative('Iterative, per-step pairs', 'per-step', 1),
  'iterative-half': iterative('Iterative, half steps each', 'per-chain', 0.5),
  'iterative-per-step-half': iterative('Iterative, per-step pairs, half steps each', 'per-step', 0.5),
  'iterative-shared': sharedIterative('Iterative, one shared model'),
  'wrong-locality': wrongLocality,
} as const satisfies Record<ArmId, ArmSpec>;
