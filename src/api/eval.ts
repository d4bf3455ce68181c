// socratic-distill/eval: statistics, attribution, report builders and charts behind the Evaluator.
export * from '../eval/index.js';
export { attributeErrors, FIRST_ERRORS, type Attribution, type FirstError } from '../eval/attribution.js';
