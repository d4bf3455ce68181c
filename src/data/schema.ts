import { z } from 'zod';

/**
 * The data model of Socratic CoT. These zod schemas are the single source of
 * truth: TS types are inferred from them and every file we read is parsed by them.
 */
export const AnswerSchema = z.union([z.number(), z.boolean(), z.string()]);
export type Answer = z.infer<typeof AnswerSchema>;

export const DatasetNameSchema = z.enum(['gsm8k', 'svamp', 'strategyqa', 'synthetic', 'custom']);
export type DatasetName = z.infer<typeof DatasetNameSchema>;

export const ProblemSchema = z.object({
  id: z.string().min(1),
  dataset: DatasetNameSchema,
  question: z.string().min(1),
  /** Extra material the solver may read, e.g. StrategyQA facts. */
  context: z.string().optional(),
  answer: AnswerSchema,
  /** Dataset-specific extras kept for teachers and reports (e.g. SVAMP Equation, GSM8K rationale). */
  meta: z.record(z.string(), z.unknown()).optional(),
});
export type Problem = z.infer<typeof ProblemSchema>;

export const SocraticStepSchema = z.object({
  subquestion: z.string().min(1),
  solution: z.string(),
  /** The step's numeric or boolean result, when known. */
  answer: z.union([z.number(), z.boolean()]).optional(),
});
export type SocraticStep = z.infer<typeof SocraticStepSchema>;

export const TokenUsageSchema = z.object({
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
});
export type TokenUsage = z.infer<typeof TokenUsageSchema>;

export const TeacherRecordSchema = z.object({
  /** Adapter id, e.g. `openai`, `annotation`, `simulated`, or a user's own. */
  adapter: z.string(),
  model: z.string().optional(),
  promptVersion: z.string().optional(),
  sampleIndex: z.number().int().nonnegative().default(0),
  usage: TokenUsageSchema.optional(),
});
export type TeacherRecord = z.infer<typeof TeacherRecordSchema>;

export const VerdictSchema = z.object({
  kept: z.boolean(),
  /** Machine-readable reason, e.g. `ok`, `final-answer-mismatch`, `arithmetic-slip`, `no-final-answer`. */
  reason: z.string(),
  detail: z.string().optional(),
});
export type Verdict = z.infer<typeof VerdictSchema>;

export const SocraticChainSchema = z.object({
  problemId: z.string().min(1),
  steps: z.array(SocraticStepSchema),
  finalAnswer: AnswerSchema.nullable(),
  /** Plain chain-of-thought rationale (CoT baseline), when the teacher produced one. */
  rationale: z.string().optional(),
  teacher: TeacherRecordSchema,
  verdict: VerdictSchema.optional(),
});
export type SocraticChain = z.infer<typeof SocraticChainSchema>;
