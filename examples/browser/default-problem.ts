/**
 * The page's built-in problems: ones the saved students could answer, i.e. from the task family `npm run demo`
 * trains them on (the synthetic task with the demo's settings and seed), but held out: not among the
 * training problems of either preset (--quick trains on a prefix of the full preset's problems), nor the test
 * problems the demo reports on. Each comes with its gold answer, so the page can say whether a solve was right.
 */
import { syntheticProblem } from '../../src/data/synthetic.js';
import type { Problem } from '../../src/data/schema.js';
import { DEMO_PRESETS } from '../../src/demo/config.js';

/** The demo generates its split with seed 0 (see syntheticSplit in src/demo/pipeline.ts). */
const DEMO_SEED = 0;

/** The first `count` held-out problems of the demo's task, in a fixed order. */
export function builtInProblems(count = 5): Problem[] {
  const c = DEMO_PRESETS.full;
  const options = { seed: DEMO_SEED, minSteps: c.minOps, maxSteps: c.maxOps, maxOperand: c.maxOperand, maxFactor: c.maxFactor, maxResult: c.maxResult };
  const trained = new Set(Array.from({ length: c.trainProblems }, (_, i) => syntheticProblem(i, options).question));
  const out: Problem[] = [];
  // Past the full preset's training problems; the demo's test problems start far beyond (HELD_OUT_START), and the
  // test suite checks that none of these is one of them.
  for (let index = c.trainProblems + c.testProblems; out.length < count; index++) {
    const problem = syntheticProblem(index, options);
    if (!trained.has(problem.question)) out.push(problem);
  }
  return out;
}

/** The page's default problem: the first built-in one. */
export function heldOutDemoProblem(): Problem {
  return builtInProblems(1)[0]!;
}
