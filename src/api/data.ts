// socratic-distill/data: dataset loaders and parsers, the synthetic task's internals, answer checking.
export * from '../data/index.js';
export * from '../verify/index.js';
