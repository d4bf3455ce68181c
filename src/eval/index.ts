export { evaluateStudents, type ArmResult, type EvaluateOptions, type Solver } from './evaluator.js';
export { majorityClassBaseline, meanAndStd, scoreByDataset, stepStats, type DatasetScore, type StepStats } from './metrics.js';
export {
  armComparisons, compareRuns, compareSubsets, comparisonsTable, markdownReport, markdownTable, orderingFinding, stagesTable, subsetAccuracyTable, subsetsSection, summarize,
  type ArmSummary, type EvalReport, type RunResult, type Stage, type SubsetRun, type SubsetSummary, type TestSubset,
} from './report.js';
export { accuracySpec, htmlReport, lossSpec, renderSvg } from './html.js';
export { writeReport } from './write.js';
export { describeComparison, pairedComparison, tCritical95, verdictOf, type PairedComparison, type ComparisonVerdict } from './stats.js';
export { Evaluator, type Comparison, type NamedStudents } from './evaluate.js';
