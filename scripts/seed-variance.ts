/**
 * Where does the Unified student's seed variance come from? (issue #23, docs/results.md)
 *
 *   npx tsx scripts/seed-variance.ts --init 1 --order 0 --out runs/diag/i1-o0.json [--n-positions 320] [--at 800,1200,1600]
 *
 * Trains one Unified student on the default demo's data (same teacher, verifier, vocabulary, model and
 * schedule as `demo`), with the initialisation seed and the data-order seed set apart (in the demo both
 * are the seed). Every 100 steps it records the loss on the test problems' gold chains (held out: never
 * used to choose anything here), and at each step of --at it pauses (the trainer resumes exactly from its
 * checkpoint) and measures test accuracy. With --init s --order s it reproduces the demo's seed s.
 * SEEDVAR_STEPS / SEEDVAR_TRAIN / SEEDVAR_TEST shrink the run for a smoke test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/backend/select.js';
import { goldChain } from '../src/data/gold.js';
import { SocraticChainSchema } from '../src/data/schema.js';
import { DEMO_PRESETS } from '../src/demo/config.js';
import { syntheticSplit } from '../src/demo/pipeline.js';
import { evaluateStudents } from '../src/eval/evaluator.js';
import { generateChains } from '../src/generate/runner.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { readJsonl } from '../src/io/jsonl.js';
import { tokenizerForTexts, trainingTexts, type StudentData } from '../src/students/common.js';
import { StudentLM } from '../src/students/lm.js';
import { UnifiedStudent } from '../src/students/single.js';
import { SimulatedTeacher } from '../src/teacher/simulated.js';
import { ChainVerifier } from '../src/verify/verifier.js';

const { values: v } = parseArgs({
  options: { init: { type: 'string' }, order: { type: 'string' }, out: { type: 'string' }, 'n-positions': { type: 'string' }, at: { type: 'string' } },
});
const init = Number(v.init ?? 0);
const order = Number(v.order ?? 0);
const at = (v.at ?? '800,1200,1600').split(',').map(Number);
const config = { ...DEMO_PRESETS.full, steps: Number(process.env.SEEDVAR_STEPS ?? DEMO_PRESETS.full.steps), trainProblems: Number(process.env.SEEDVAR_TRAIN ?? DEMO_PRESETS.full.trainProblems), testProblems: Number(process.env.SEEDVAR_TEST ?? DEMO_PRESETS.full.testProblems), size: { ...DEMO_PRESETS.full.size, n_positions: Number(v['n-positions'] ?? 256) } };

const work = await mkdtemp(join(tmpdir(), 'sd-seedvar-'));
const { train, test } = syntheticSplit(config);
const chainsPath = join(work, 'chains.jsonl');
await generateChains({ teacher: new SimulatedTeacher({ errorRate: config.teacherErrorRate, seed: 0 }), problems: train, out: chainsPath, concurrency: 8 });
const verified = new ChainVerifier().verifyAll((await readJsonl(chainsPath, SocraticChainSchema)).records, train);
const kept = new Set(verified.kept.map((c) => c.problemId));
const data: StudentData = { problems: train.filter((p) => kept.has(p.id)), chains: verified.kept };
const heldOut: StudentData = { problems: test, chains: test.map((p) => goldChain(p)!) };
const tokenizer = tokenizerForTexts(trainingTexts(data, ['answer-only', 'cot', 'unified', 'qg', 'qa']));
const backend = await selectBackend(config.backend);

const student = new UnifiedStudent(await StudentLM.create(config.size, tokenizer, { backend, seed: init }));
const options = {
  batchSize: config.batchSize, maxSteps: config.steps, lr: config.lr, warmupSteps: Math.max(1, Math.floor(config.steps / 10)), seed: order,
  eval: { data: heldOut, every: 100, restoreBest: false }, checkpointDir: join(work, 'ckpt'), checkpointEvery: 400,
};
const points: Array<{ step: number; trainLoss: number; heldOutLoss: number | null; accuracy: number }> = [];
let done = 0;
let evals: Array<{ step: number; loss: number }> = [];
let losses: number[] = [];
for (const step of at) {
  const r = await student.train(data, { ...options, stopAfterSteps: step - done });
  done = r.steps;
  evals = r.evals;
  losses = r.losses;
  const [arm] = await evaluateStudents([{ name: 'Unified', solver: student }], test, { maxSteps: config.maxSteps, batchSize: 100 });
  const recent = losses.slice(-100);
  points.push({ step: done, trainLoss: recent.reduce((a, b) => a + b, 0) / recent.length, heldOutLoss: evals.at(-1)?.loss ?? null, accuracy: arm!.flexible });
  process.stdout.write(`init ${init} order ${order} step ${done}: train loss ${points.at(-1)!.trainLoss.toFixed(4)}, held-out loss ${points.at(-1)!.heldOutLoss?.toFixed(4)}, test accuracy ${(100 * arm!.flexible).toFixed(1)}%\n`);
}
student.dispose();
await rm(work, { recursive: true, force: true });
const out = { init, order, nPositions: config.size.n_positions, backend: backend.summary, points, heldOutLoss: evals, trainLoss: losses };
if (v.out) await writeFileAtomic(v.out, JSON.stringify(out));
