export * from './common.js';
export { generateBatched, type GenerateTextOptions, type TextGenerator } from './decode.js';
export { isLlamaStudentSize, llamaStudentSize, StudentLM, type StudentLMLoadOptions, type BackendChoice, type GPT2StudentSize, type LlamaStudentSize, type StudentModelSize } from './lm.js';
export { AnswerOnlyStudent, CoTStudent, SingleModelStudent, UnifiedStudent, type CreateStudentOptions } from './single.js';
export { IterativeStudent, type CreateIterativeOptions, type CreateSharedIterativeOptions, type IterativeSolveOptions, type IterativeTrainResult } from './iterative.js';
export { loadStudent, type Student } from './load.js';
export { BASE_COPY_DIR, type StudentLoadOptions, type StudentSaveOptions } from './lora.js';
export { finalSolution, solveStreaming, userProblem, type SolveEvent, type StreamingSolver, type StreamSolveOptions } from './stream.js';
