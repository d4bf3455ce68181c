// socratic-distill/teacher: everything for writing and running teachers, beyond the root's adapters.
export * from '../teacher/index.js';
export * from '../generate/index.js';
