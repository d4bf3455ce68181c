// The public API of socratic-distill, grouped by pipeline stage. This is a curated list: every name here is
// one a user of the pipeline needs. Lower-level pieces live in subpath entries:
//   socratic-distill/teacher   adapters' building blocks, prompts, parsing, the generation runner
//   socratic-distill/data      dataset parsers, synthetic task internals, answer checking
//   socratic-distill/train     the trainer, text formats, tokenisation of examples
//   socratic-distill/eval      statistics, report builders and charts
//   socratic-distill/backend   TransformerCore, GPT-2 shapes and init, safetensors I/O
//   socratic-distill/browser   the browser build (tfjs on wasm)
// test/public-api.test.ts snapshots this list; change it on purpose, not by accident.

// Errors: every error the library throws on purpose is a SocraticDistillError with a typed `code`.
export {
  SocraticDistillError,
  BackendUnavailableError,
  BaseModelMissingError,
  CheckpointError,
  DatasetFormatError,
  InvalidOptionError,
  ModelConfigError,
  NonFiniteLossError,
  OptionalDependencyError,
  OutputLockedError,
  BatchFailedError,
  CostLimitError,
  SafetensorsError,
  ShapeError,
  TeacherError,
  TeacherUnsuitableError,
  TrainingDataError,
} from './errors.js';

// 1. Data: problems and Socratic chains (zod schemas are the single source of truth).
export {
  ProblemSchema,
  SocraticChainSchema,
  SocraticStepSchema,
  type Answer,
  type DatasetName,
  type Problem,
  type SocraticChain,
  type SocraticStep,
  type TokenUsage,
} from './data/schema.js';
export { SocraticDataset, type DatasetFormat, type LoadDatasetOptions, type Split } from './data/dataset.js';
export { generateSynthetic, SYNTHETIC_FAMILIES, type SyntheticFamily, type SyntheticOptions } from './data/synthetic.js';
export { goldChain } from './data/gold.js';
export { sampleDataDir } from './data/samples.js';

// 2. Teacher: a TeacherClient decomposes problems; generateChains runs one over a dataset (retries, billing, resume).
export type { SampleRequest, TeacherClient, TeacherMode, TeacherNeed, TeacherRequestOptions, TeacherSample } from './teacher/types.js';
export { TeacherBase } from './teacher/sampling.js';
export { CompletionTeacher, type Completion, type CompletionAdapter, type CompletionOptions, type CompletionTeacherOptions } from './teacher/completion.js';
export { postJson, type PostJsonOptions } from './teacher/http.js';
export { OpenAICompatibleTeacher, type OpenAICompatibleTeacherOptions } from './teacher/openai.js';
export { SimulatedTeacher, type SimulatedTeacherOptions } from './teacher/simulated.js';
export { AnnotationTeacher } from './teacher/annotation.js';
export type { ChatMessage } from './teacher/prompts.js';
export { generateChains, type GenerateOptions, type GenerateProgress, type GenerateSummary, type GenerationFailure, type RetryPolicy } from './generate/runner.js';
export { batchPricing, costOf, sumUsage, type Pricing, type PricingWithSource } from './generate/usage.js';
// The same requests through a provider's Batch API (resumable by batch id), or handed to an offline engine (vLLM run-batch, Ray Data).
export { cancelChainsBatch, generateChainsBatch, type BatchProgress, type GenerateBatchOptions, type GenerateBatchSummary } from './generate/batch.js';
export { ingestBatchResults, writeBatchRequests, type IngestOptions, type IngestSummary, type WriteRequestsOptions, type WriteRequestsSummary } from './generate/offline.js';
export { estimateGeneration, type EstimateOptions, type GenerationEstimate } from './generate/estimate.js';
export type { BatchableTeacher, BatchProvider } from './teacher/batch.js';

// 3. Verifier: keep a chain only if its final answer matches the ground truth.
export { ChainVerifier, type ChainVerifierOptions, type RejectReason, type VerifyResult, type VerifyStats } from './verify/verifier.js';
export { answersMatch, extractAnswer } from './verify/answer.js';

// 4. Model: GPT-2 or a Llama-family model (Llama, SmolLM2, Qwen2, Qwen3) on the fastest available core, with its tokenizer.
export { selectBackend } from './backend/select.js';
export type { BackendPreference, BackendReport } from './backend/types.js';
export {
  CausalLM,
  type CausalLMAdapterOptions,
  type CausalLMBackendOption,
  type CausalLMCreateOptions,
  type CausalLMFilesOptions,
  type CausalLMLoadOptions,
  type CausalLMLoraOption,
  type CausalLMSaveOptions,
  type ForwardOptions,
  type ModelConfigInput,
} from './model/causal-lm.js';
export { GPT2, type GPT2BackendOption, type GPT2CreateOptions, type GPT2FilesOptions, type GPT2ForwardOptions, type GPT2LoadOptions } from './model/gpt2.js';
export type { LoraOptions, LoraSpec } from './arch/lora.js';
export type { AdapterFiles, SavedAdapterFiles } from './model/adapter.js';
export type { TrainingSurface } from './model/training.js';
export type { GPT2GenerateOptions, GeneratedToken } from './model/generate.js';
export type { SamplingOptions } from './model/sampling.js';
export { GPT2ConfigSchema, presetConfig, PRESETS, type GPT2Config, type GPT2ConfigInput, type ModelConfig, type PresetName } from './arch/config.js';
export { LlamaConfigSchema, type LlamaConfig, type LlamaConfigInput } from './arch/llama.js';
export { HFTokenizer, type HFTokenizerOptions } from './tokenizer/hf-tokenizer.js';
export type { TextTokenizer } from './tokenizer/text-tokenizer.js';
export { Tokenizer } from './tokenizer/tokenizer.js';
export { TrimmedVocab } from './tokenizer/trimmed-vocab.js';

// 5. Students: Unified and Iterative Socratic students, the CoT and answer-only baselines; one solve() contract.
export {
  STUDENT_KINDS,
  type SolveOptions,
  type SolvedStep,
  type StopReason,
  type StudentData,
  type StudentKind,
  type StudentModelSource,
  type StudentSolution,
  type StudentTrainOptions,
  type IterativePacking,
} from './students/common.js';
export { llamaStudentSize, StudentLM, type BackendChoice, type GPT2StudentSize, type LlamaStudentSize, type StudentModelSize } from './students/lm.js';
export { AnswerOnlyStudent, CoTStudent, SingleModelStudent, UnifiedStudent, type CreateStudentOptions } from './students/single.js';
export { IterativeStudent, type CreateIterativeOptions, type CreateSharedIterativeOptions, type IterativeSolveOptions, type IterativeTrainResult } from './students/iterative.js';
export { loadStudent, type Student } from './students/load.js';
export type { StudentLoadOptions, StudentSaveOptions } from './students/lora.js';
export { finalSolution, solveStreaming, userProblem, type SolveEvent, type StreamingSolver, type StreamSolveOptions } from './students/stream.js';

// 6. Evaluator: every student on the same problems, seeds paired, verdicts from 95% CIs.
export { Evaluator, type Comparison, type NamedStudents } from './eval/evaluate.js';
export { evaluateStudents, type ArmResult, type EvaluateOptions, type Solver } from './eval/evaluator.js';
export type { ArmSummary, EvalReport, RunResult, SubsetRun, SubsetSummary, TestSubset } from './eval/report.js';
export type { ComparisonVerdict, PairedComparison } from './eval/stats.js';
export { writeReport } from './eval/write.js';

// 7. The whole pipeline in one call, and the paper's experiments.
export { runDemo, syntheticSplit, type DemoEvent, type DemoResult, type DemoRunOptions, type DemoSource } from './demo/pipeline.js';
export { DEMO_PRESETS, type DemoConfig } from './demo/config.js';
export { ContextLengthError } from './demo/lengths.js';
export { reproducePaper, type ReproduceOptions, type ReproduceResult, type TimeEstimate } from './reproduce/run.js';
