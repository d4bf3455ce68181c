export type { SampleRequest, TeacherClient, TeacherMode, TeacherNeed, TeacherRequestOptions, TeacherSample } from './types.js';
export { checkTeacherNeeds, TEACHER_CLASSES, TEACHER_NEEDS } from './needs.js';
export { askTeacher, TeacherBase } from './sampling.js';
export { CompletionTeacher, type Completion, type CompletionAdapter, type CompletionOptions, type CompletionTeacherOptions } from './completion.js';
export { httpTeacherError, postJson, retryAfterMs, type PostJsonOptions } from './http.js';
export { SimulatedTeacher, type SimulatedErrorKind, type SimulatedTeacherOptions } from './simulated.js';
export { AnnotationTeacher } from './annotation.js';
export { OpenAICompatibleAdapter, OpenAICompatibleTeacher, type OpenAICompatibleTeacherOptions } from './openai.js';
export { OpenAIBatchProvider } from './openai-batch.js';
export {
  BATCH_JOB_STATUSES,
  BatchJobSchema,
  FINAL_BATCH_STATUSES,
  type BatchableTeacher,
  type BatchApiTeacher,
  type BatchJob,
  type BatchJobStatus,
  type BatchProvider,
  type ChatCompletionRequest,
} from './batch.js';
export { buildMessages, promptVersion, PROMPT_VERSION, type ChatMessage, type Exemplar } from './prompts.js';
export { parseDecomposition, type ParsedDecomposition } from './parse.js';
