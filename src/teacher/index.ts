export { askTeacher, type TeacherClient, type TeacherMode, type TeacherRequestOptions } from './types.js';
export { SimulatedTeacher, type SimulatedErrorKind, type SimulatedTeacherOptions } from './simulated.js';
export { AnnotationTeacher } from './annotation.js';
export { OpenAICompatibleTeacher, retryAfterMs, type OpenAICompatibleTeacherOptions } from './openai.js';
export { buildMessages, promptVersion, PROMPT_VERSION, type ChatMessage, type Exemplar } from './prompts.js';
export { parseDecomposition, type ParsedDecomposition } from './parse.js';
