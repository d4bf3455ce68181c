/**
 * The page's default problem: one the saved students could answer, i.e. from the task family `npm run demo`
 * trains them on (the synthetic task with the demo's settings and seed), but held out: not among the
 * training problems of either preset (--quick trains on a prefix of the full preset's problems).
 */
import { syntheticProblem } from '../../src/data/synthetic.js';
import type { Problem } from '../../src/data/schema.js';
import { DEMO_PRESETS } from '../../src/demo/config.js';

/** The demo generates its split with seed 0 (see syntheticSplit in src/demo/pipeline.ts). */
const DEMO_SEED = 0;

export function heldOutDemoProblem(): Problem {
  const c = DEMO_PRESETS.full;
  const options = { seed: DEMO_SEED, minSteps: c.minOps, maxSteps: c.maxOps, maxOperand: c.maxOperand, maxFactor: c.maxFactor, maxResult: c.maxResult };
  const trained = new Set(Array.from({ length: c.trainProblems }, (_, i) => syntheticProblem(i, options).question));
  // Past the full preset's train and test problems, so it is not a problem the demo reports on either.
  for (let index = c.trainProblems + c.testProblems; ; index++) {
    const problem = syntheticProblem(index, options);
    if (!trained.has(problem.question)) return problem;
  }
}
