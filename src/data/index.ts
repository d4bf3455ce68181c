export * from './schema.js';
export { SocraticDataset, seededSplit, TRAIN_FRACTION, type DatasetFormat, type LoadDatasetOptions, type Split } from './dataset.js';
export {
  generateSynthetic, syntheticProblem, applyOp, syntheticPlan, solvePlan, SYNTHETIC_FAMILIES,
  type SyntheticOp, type SyntheticOptions, type SyntheticProgram, type SyntheticFamily, type SyntheticPlan, type PlanStep, type PlanOperand, type ReplayOptions,
} from './synthetic.js';
export { dagMeta, wrongLocalityChain, type DagMeta } from './synthetic-dag.js';
export { SCENARIOS, NAMES, type Scenario } from './synthetic-templates.js';
export { goldChain, goldSteps, goldRationale } from './gold.js';
export { parseGsm8kAnswer, stepResult, stripCalculatorNotes, type ParsedGsm8kAnswer } from './gsm8k.js';
export { joinSvampText, svampEquationSteps } from './svamp.js';
export { strategyQaSteps } from './strategyqa.js';
export { readTextFile, parseJsonLines, parseJsonArray } from './read.js';
export type { OnInvalid } from './rows.js';
export { sampleDataDir } from './samples.js';
