import { basename, resolve } from 'node:path';
import type { BackendPreference } from '../../backend/types.js';
import { SocraticDataset } from '../../data/dataset.js';
import { CliUsageError } from '../usage-error.js';
import { attributionTable, comparisonsTable, markdownTable, subsetAccuracyTable } from '../../eval/report.js';
import { SYNTHETIC_FAMILIES, type SyntheticFamily } from '../../data/synthetic.js';
import { ARM_IDS, isArmId } from '../../demo/arm-ids.js';
import { DEMO_PRESETS, STUDENT_ARCHS, type DemoConfig } from '../../demo/config.js';
import { checkpointSize } from '../../demo/sizes.js';
import { readCheckpointConfig } from '../../reproduce/run.js';
import { runDemo, syntheticSplit, type DemoSource } from '../../demo/pipeline.js';
import { OpenAICompatibleTeacher } from '../../teacher/openai.js';
import { SimulatedTeacher } from '../../teacher/simulated.js';
import { InvalidOptionError, TeacherUnsuitableError } from '../../errors.js';
import { teacherRefusal } from './teacher-flags.js';
import type { CliCommand } from '../command.js';
import { intFlag, numberFlag, parseFlags, stringFlag } from './data-flags.js';
import { trainProgressPrinter } from './progress.js';

const HELP = `usage: socratic-distill demo [--quick] [--out ./demo-output] [--seeds 0,1,2] [--steps N] [--backend auto|cpu|native|wasm|tfjs-cpu]
         [--teacher simulated|openai] [--dataset synthetic|gsm8k] [--data <gsm8k dir or file>] [--train N] [--test N]
         [--arms ${ARM_IDS.join(',')}] [--n-positions N|auto] [--calculator]
         [--family ${SYNTHETIC_FAMILIES.join('|')}] [--ops A-B] [--distractors N] [--test-ops A-B]
         [--arch ${STUDENT_ARCHS.join('|')}] [--n-embd 64] [--n-layer 2] [--n-head 4] [--init <HF checkpoint dir>]
         [--lr LR] [--weight-decay W] [--validation SHARE,EVERY|off] [--average-last SHARE|off]

Runs the whole pipeline offline: synthetic multi-step problems -> SimulatedTeacher (~15% flawed chains)
-> ChainVerifier -> answer-only, CoT, Unified and Iterative students trained from scratch with the same
model size and budget -> Evaluator. Prints the results table and writes report.html / report.json / report.md.
--quick is a ~3.5 minute smoke run (1 seed, 1000 steps per model, 200 test problems). With --teacher openai (needs OPENAI_BASE_URL)
and --dataset gsm8k --data <path>, the same pipeline runs on real data with a real teacher.

--seeds       the same seeds for every arm; comparisons are paired by seed with a 95% CI (use >= 10 seeds
              for verdicts that mean something)
--arms        which students to compare (default answer-only,cot,unified,iterative)
--family      the synthetic task family: chain (default), long (4-6 operations), distractors
              (irrelevant facts), entities (several people who trade), planning (facts that depend on
              another person's computed quantity, so the next quantity must be chosen), dag
              (a shuffled graph of quantities defined from each other, some irrelevant to the
              question; docs/data.md)
--ops         operations per training and test problem (default 2-3; long: 4-6); for dag, the
              computed quantities the answer needs
--distractors irrelevant facts (distractors) or irrelevant computed quantities (dag) per problem
              (1-4, default 2)
--test-ops    also test on synthetic problems with A-B operations (e.g. 4-5 when training has 2-3),
              as many as --test; the report gives every arm's accuracy on each subset, its shift
              from in distribution with a paired 95% CI, and the attribution per subset
--validation  hold out SHARE of the kept chains (the same for every seed and arm) and keep each model's
              weights of lowest loss on them, measured every EVERY steps (e.g. 0.1,100); 'off' trains on all
--lr          peak learning rate of every model (warmup 10%, cosine to 10%)
--weight-decay AdamW weight decay of every model
--average-last every model ends with the average of its weights over the last SHARE of its steps
--calculator  also evaluate every stepwise student with the decode-time calculator (after
              "<expression> =" the safe parser writes the result), reported as its own rows
--n-positions the students' context; 'auto' (the default off the synthetic task) sizes it from the
              longest example. Every example is checked before the first teacher call and again
              before training, so a run never fails after the teacher has been paid.
--arch        the from-scratch students' architecture: gpt2 (default) or llama, a Llama in the same
              parameter class (RoPE instead of learned positions, 2 query heads per KV head, SwiGLU,
              RMSNorm) on the same trimmed vocabulary
--n-embd, --n-layer, --n-head
              width, depth and attention heads of every from-scratch model (default 64, 2, 4: the
              demo's budget); n-embd must divide into n-head heads
--init        every model of every arm starts from this HF checkpoint directory instead: GPT-2, or a
              Llama-family model (SmolLM2, Qwen3: config.json, model.safetensors, tokenizer.json), which
              keeps its own tokenizer; its context is the checkpoint's`;

const FLAGS = {
  quick: { type: 'boolean' }, out: { type: 'string' }, seeds: { type: 'string' }, steps: { type: 'string' }, backend: { type: 'string' },
  teacher: { type: 'string' }, dataset: { type: 'string' }, data: { type: 'string' }, train: { type: 'string' }, test: { type: 'string' },
  'error-rate': { type: 'string' }, arms: { type: 'string' }, 'n-positions': { type: 'string' }, calculator: { type: 'boolean' }, family: { type: 'string' }, 'test-ops': { type: 'string' }, ops: { type: 'string' }, distractors: { type: 'string' }, validation: { type: 'string' }, 'weight-decay': { type: 'string' }, 'average-last': { type: 'string' }, lr: { type: 'string' },
  arch: { type: 'string' }, init: { type: 'string' }, 'n-embd': { type: 'string' }, 'n-layer': { type: 'string' }, 'n-head': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

export const command: CliCommand = {
  name: 'demo',
  summary: 'run the whole Socratic CoT pipeline offline and compare the students',
  async run(argv) {
    const v = parseFlags(argv, FLAGS);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const base = v.quick ? DEMO_PRESETS.quick : DEMO_PRESETS.full;
    const seeds = stringFlag(v, 'seeds')?.split(',').map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 0) throw new CliUsageError(`--seeds must be comma-separated integers, got '${s}'`);
      return n;
    });
    const arms = stringFlag(v, 'arms')?.split(',').map((id) => {
      if (!isArmId(id)) throw new CliUsageError(`--arms takes a comma-separated list of ${ARM_IDS.join('|')}, got '${id}'`);
      return id;
    });
    const dataset = stringFlag(v, 'dataset') ?? 'synthetic';
    const positions = stringFlag(v, 'n-positions') ?? (dataset === 'synthetic' ? String(base.size.n_positions) : 'auto');
    const nPositions = positions === 'auto' ? base.size.n_positions : Number(positions);
    if (!Number.isInteger(nPositions) || nPositions < 16 || nPositions > 1024) throw new CliUsageError(`--n-positions must be 'auto' or an integer in 16..1024, got '${positions}'`);
    const family = stringFlag(v, 'family') ?? base.family;
    if (!(SYNTHETIC_FAMILIES as readonly string[]).includes(family)) throw new CliUsageError(`--family must be one of ${SYNTHETIC_FAMILIES.join('|')}, got '${family}'`);
    const arch = stringFlag(v, 'arch') ?? 'gpt2';
    if (!(STUDENT_ARCHS as readonly string[]).includes(arch)) throw new CliUsageError(`--arch must be one of ${STUDENT_ARCHS.join('|')}, got '${arch}'`);
    const init = stringFlag(v, 'init');
    const shapeFlags = ['arch', 'n-positions', 'n-embd', 'n-layer', 'n-head'] as const;
    if (init !== undefined && shapeFlags.some((f) => stringFlag(v, f) !== undefined)) {
      throw new CliUsageError('--arch, --n-positions, --n-embd, --n-layer and --n-head are for students from scratch; with --init the checkpoint decides them');
    }
    const shape = {
      n_embd: intFlag(v, 'n-embd', 8) ?? base.size.n_embd,
      n_layer: intFlag(v, 'n-layer', 1) ?? base.size.n_layer,
      n_head: intFlag(v, 'n-head', 1) ?? base.size.n_head,
    };
    const config: DemoConfig = {
      ...base,
      family: family as SyntheticFamily,
      // The long family is defined by its 4-6 operations; the others keep the demo's 2-3.
      ...(family === 'long' ? { minOps: 4, maxOps: 6 } : {}),
      ...opsRange(stringFlag(v, 'ops'), '--ops'),
      ...(v.distractors === undefined ? {} : { distractors: intFlag(v, 'distractors', 1) }),
      ...validation(stringFlag(v, 'validation')),
      ...(v['weight-decay'] === undefined ? {} : { weightDecay: numberFlag(v, 'weight-decay', 0, 1) }),
      ...(v['average-last'] === undefined ? {} : { averageLast: v['average-last'] === 'off' ? undefined : numberFlag(v, 'average-last', 0, 1) }),
      size: init !== undefined ? checkpointSize(await readCheckpointConfig(init)) : { ...base.size, ...shape, n_positions: nPositions },
      autoPositions: init === undefined && positions === 'auto',
      ...(arch === 'llama' ? { arch: 'llama' as const } : {}),
      ...(init !== undefined ? { init: resolve(init) } : {}),
      arms: arms ?? base.arms,
      calculator: v.calculator === true,
      seeds: seeds ?? [...base.seeds],
      steps: intFlag(v, 'steps', 1) ?? base.steps,
      lr: numberFlag(v, 'lr', 0, 1) ?? base.lr,
      trainProblems: intFlag(v, 'train', 1) ?? base.trainProblems,
      testProblems: intFlag(v, 'test', 1) ?? base.testProblems,
      teacherErrorRate: numberFlag(v, 'error-rate', 0, 1) ?? base.teacherErrorRate,
      backend: (stringFlag(v, 'backend') as BackendPreference | undefined) ?? base.backend,
      ...(stringFlag(v, 'test-ops') === undefined ? {} : { testOps: range(stringFlag(v, 'test-ops')!, '--test-ops') }),
    };
    if (config.distractors !== undefined && !(config.distractors >= 1 && config.distractors <= 4)) throw new CliUsageError(`--distractors must be in 1..4, got ${config.distractors}`);
    if (config.testOps && dataset !== 'synthetic') throw new CliUsageError('--test-ops needs --dataset synthetic (on your own data, pass DemoSource.subsets to runDemo)');
    const outDir = resolve(stringFlag(v, 'out') ?? './demo-output');
    const source = await demoSource(config, stringFlag(v, 'teacher') ?? 'simulated', dataset, stringFlag(v, 'data'));
    const started = performance.now();
    let current = '';
    const bar = trainProgressPrinter(() => current);
    const result = await runDemo({
      config,
      source,
      outDir,
      resumeChains: source.teacher.id !== 'simulated',
      log: (line) => process.stderr.write(line + '\n'),
      onTrainProgress: (e) => {
        current = `seed ${e.seed} ${e.arm}`;
        bar(e.progress);
      },
    }).catch((err: unknown) => {
      if (err instanceof InvalidOptionError && err.option === 'size') throw new CliUsageError(`--n-embd, --n-layer and --n-head ${err.requirement}`);
      throw err instanceof TeacherUnsuitableError ? teacherRefusal(err, `--dataset ${dataset}`, ['simulated', 'openai']) : err;
    });
    const attribution = attributionTable(result.report.summary);
    process.stdout.write(`\n${markdownTable(result.report)}\n\n${result.report.findings.join('\n')}\n`);
    if (attribution) process.stdout.write(`\nWhere the Socratic students go wrong (see report.md for the definitions):\n${attribution}\n`);
    process.stdout.write(`\nPaired per-seed differences (95% CI decides the verdict):\n${comparisonsTable(result.report.comparisons)}\n`);
    for (const s of result.report.subsets?.slice(1) ?? []) {
      const table = attributionTable(s.summary);
      process.stdout.write(`\nOn ${s.name}:\n${s.findings[0]}\n${comparisonsTable(s.comparisons)}\n${table ? `\nWhere the Socratic students go wrong on ${s.name}:\n${table}\n` : ''}`);
    }
    if (result.report.subsets) process.stdout.write(`\nAccuracy by test subset (flexible %, shift paired by seed):\n${subsetAccuracyTable(result.report.subsets)}\n`);
    process.stdout.write(`\nwall time ${((performance.now() - started) / 1000).toFixed(0)} s; reports: ${result.paths.html}, ${result.paths.json}, ${result.paths.markdown}\n`);
    return 0;
  },
};

/** `4-5` (or one number) as a range of operations, for --ops and --test-ops. */
function range(flag: string, name: string): { min: number; max: number } {
  const m = /^(\d+)(?:-(\d+))?$/.exec(flag);
  const min = m ? Number(m[1]) : NaN;
  const max = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(min >= 1 && max >= min && max <= 8)) throw new CliUsageError(`${name} takes a range A-B of operations with 1 <= A <= B <= 8, got '${flag}'`);
  return { min, max };
}

function validation(flag: string | undefined): Partial<Pick<DemoConfig, 'validation'>> {
  if (flag === undefined) return {};
  if (flag === 'off') return { validation: undefined };
  const [share, every] = flag.split(',').map(Number);
  if (!(share! > 0 && share! < 1) || !(Number.isInteger(every) && every! >= 1)) throw new CliUsageError(`--validation takes SHARE,EVERY (0 < SHARE < 1, EVERY a whole number of steps) or 'off', got '${flag}'`);
  return { validation: { share: share!, every: every! } };
}

function opsRange(flag: string | undefined, name: string): Partial<Pick<DemoConfig, 'minOps' | 'maxOps'>> {
  if (flag === undefined) return {};
  const r = range(flag, name);
  return { minOps: r.min, maxOps: r.max };
}

async function demoSource(config: DemoConfig, teacher: string, dataset: string, data: string | undefined): Promise<DemoSource> {
  if (teacher !== 'simulated' && teacher !== 'openai') throw new CliUsageError(`--teacher must be simulated|openai, got '${teacher}'`);
  if (dataset === 'synthetic') {
    if (teacher === 'openai') requireOpenAI();
    const { train, test, testName, subsets } = syntheticSplit(config);
    return {
      train, test, testName, subsets,
      teacher: teacher === 'openai' ? new OpenAICompatibleTeacher() : new SimulatedTeacher({ errorRate: config.teacherErrorRate, seed: 0 }),
      description: `synthetic multi-step arithmetic, family ${config.family} (${config.minOps}-${config.maxOps} operations, operands <= ${config.maxOperand}, factors <= ${config.maxFactor}, results <= ${config.maxResult}${config.distractors === undefined ? '' : `, ${config.distractors} distractors`})`,
    };
  }
  if (dataset !== 'gsm8k') throw new CliUsageError(`--dataset must be synthetic|gsm8k, got '${dataset}'`);
  if (!data) throw new CliUsageError('--dataset gsm8k needs --data <path to the GSM8K files>');
  const load = (split: 'train' | 'test', limit: number) => SocraticDataset.load({ dataset: 'gsm8k', path: data, split, seed: 0, limit });
  const train = [...(await load('train', config.trainProblems)).problems];
  const test = [...(await load('test', config.testProblems)).problems];
  // GSM8K's socratic annotations let the simulated teacher run offline; a real teacher needs a server.
  if (teacher === 'openai') requireOpenAI();
  return {
    train, test,
    teacher: teacher === 'openai' ? new OpenAICompatibleTeacher() : new SimulatedTeacher({ errorRate: config.teacherErrorRate, seed: 0 }),
    // The report is shared: name the data by its folder or file name, not the machine's absolute path.
    description: `GSM8K (${basename(resolve(data))})`,
  };
}

function requireOpenAI(): void {
  if (!process.env.OPENAI_BASE_URL) throw new CliUsageError('--teacher openai needs OPENAI_BASE_URL (and OPENAI_API_KEY / OPENAI_MODEL as your server requires)');
}
