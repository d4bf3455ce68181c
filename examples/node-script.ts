/**
 * The Socratic CoT pipeline from the library's primitives, end to end and offline:
 * synthetic problems -> simulated teacher -> verifier -> a Unified student -> solve a new problem.
 *
 *   npx tsx examples/node-script.ts            (about a minute with the native core)
 */
import { pathToFileURL } from 'node:url';
import { selectBackend } from '../src/backend/select.js';
import { generateSynthetic } from '../src/data/index.js';
import { evaluateStudents } from '../src/eval/index.js';
import { finalSolution, UnifiedStudent } from '../src/students/index.js';
import { SimulatedTeacher } from '../src/teacher/index.js';
import { ChainVerifier } from '../src/verify/index.js';

export interface NodeScriptOptions {
  trainProblems?: number;
  testProblems?: number;
  steps?: number;
  log?: (line: string) => void;
}

export async function main(options: NodeScriptOptions = {}): Promise<{ kept: number; accuracy: number; solvedText: string }> {
  const log = options.log ?? console.log;
  const task = { seed: 5, minSteps: 2, maxSteps: 2, maxOperand: 9, maxFactor: 3, maxResult: 30 };
  const train = generateSynthetic({ ...task, count: options.trainProblems ?? 400 });
  const test = generateSynthetic({ ...task, count: options.testProblems ?? 50, startIndex: 100_000 });

  // 1. A teacher decomposes every training problem; this one is offline and flaws 15% of its chains.
  const teacher = new SimulatedTeacher({ errorRate: 0.15, seed: 1 });
  const chains = (await Promise.all(train.map((p) => teacher.decompose(p)))).flat();

  // 2. The verifier keeps chains whose final answer matches the ground truth.
  const verified = new ChainVerifier().verifyAll(chains, train);
  log(`verifier kept ${verified.stats.kept} of ${verified.stats.total} chains`);

  // 3. A small Unified student learns to ask and answer its own subquestions.
  const backend = await selectBackend('auto');
  log(backend.summary);
  const data = { problems: train, chains: verified.kept };
  const student = await UnifiedStudent.create({ size: { n_embd: 64, n_layer: 2, n_head: 4, n_positions: 192 }, data, backend, seed: 0 });
  const result = await student.train(data, { batchSize: 16, maxSteps: options.steps ?? 300, lr: 5e-3, seed: 0 });
  log(`trained ${result.steps} steps, final loss ${result.losses.at(-1)?.toFixed(3)}`);

  // 4. Evaluate on held-out problems and show one solution.
  const [score] = await evaluateStudents([{ name: 'Unified', solver: student }], test);
  log(`held-out accuracy ${(100 * score!.flexible).toFixed(1)}%`);
  // solve() streams SolveEvents (one per step, then `done`); finalSolution runs it to the end.
  const solved = await finalSolution(student.solve(test[0]!));
  log(`${test[0]!.question}\n${solved.text}\n(gold ${test[0]!.answer})`);
  student.dispose();
  return { kept: verified.stats.kept, accuracy: score!.flexible, solvedText: solved.text };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
