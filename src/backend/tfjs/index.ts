export { createTfjsCore, TfjsCore, type TfjsCoreOptions } from './core.js';
export { initTfjsBackend, tfjsNodeGpuHelp, type TfjsBackendName, type TfjsRuntimeInfo } from './runtime.js';
export { HEAD_CHUNK_ROWS } from './head.js';
