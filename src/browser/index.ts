/**
 * `socratic-distill/browser`: run trained students client-side on tfjs wasm.
 * Nothing here touches the file system; models come from same-origin URLs.
 */
import './error-names.js';
// Before anything that loads tfjs: refuse Node with an error that names the Node entry.
import './node-guard.js';

export { initBrowserBackend, WASM_FILES, type BrowserBackendOptions } from './wasm.js';
export { fetchBytes, fetchJson, joinUrl, type FetchLike, type FetchOptions } from './fetch.js';
export {
  fetchStudentManifest, loadStudentFromUrl, loadStudentModel, modelUrls,
  type BrowserLoadOptions, type BrowserStudent, type StudentModelUrls,
} from './load.js';
// The same streaming API as the Node entry's.
export { finalSolution, solveStreaming, userProblem, type SolveEvent, type StreamingSolver, type StreamSolveOptions } from '../students/stream.js';

export { IterativeStudent, type IterativeSolveOptions } from '../students/iterative.js';
export { AnswerOnlyStudent, CoTStudent, UnifiedStudent } from '../students/single.js';
export { StudentLM } from '../students/lm.js';
export type { SolvedStep, SolveOptions, StudentSolution, StopReason, StudentManifest } from '../students/common.js';
export { Tokenizer, TrimmedVocab } from '../tokenizer/index.js';
export type { Answer, DatasetName, Problem } from '../data/schema.js';
export type { BackendReport, TransformerCore } from '../backend/types.js';
export {
  BackendUnavailableError, BaseModelMissingError, CheckpointError, ModelConfigError, ModelFetchError, SafetensorsError, ShapeError, SocraticDistillError,
} from '../errors.js';
