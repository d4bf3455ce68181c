/**
 * The paper's GSM8K experiment (Shridhar, Stolfo, Sachan 2023) from the library API: what
 * `socratic-distill reproduce` runs, written out so you can change any part of it.
 * Bring your own GPT-2 weights (an HF directory with config.json + model.safetensors) and the GSM8K files:
 *
 *   npx tsx examples/reproduce-gsm8k.ts <gpt2 dir> <gsm8k dir> [out dir]
 *
 * STEPS, BATCH, LR and TEST_LIMIT in the environment override the budget below.
 */
import { pathToFileURL } from 'node:url';
import { formatDuration, loadGsm8kSplits, reproducePaper } from '../src/reproduce/index.js';
import { AnnotationTeacher } from '../src/teacher/index.js';

export interface ReproduceExampleOptions {
  init: string;
  data: string;
  out?: string;
  steps?: number;
  batchSize?: number;
  lr?: number;
  trainLimit?: number;
  testLimit?: number;
  log?: (line: string) => void;
}

export async function main(options: ReproduceExampleOptions): Promise<void> {
  const log = options.log ?? ((line: string) => console.error(line));
  // 1. GSM8K with its human socratic annotations: train_socratic.jsonl(.gz) and test_socratic.jsonl.
  const { train, test } = await loadGsm8kSplits(options.data, { train: options.trainLimit, test: options.testLimit });
  // 2. The teacher: the annotations themselves (offline). Any TeacherClient works here, e.g. OpenAICompatibleTeacher.
  const teacher = new AnnotationTeacher();
  // 3. Four arms, every model from the same checkpoint and with the same budget; the CUDA core when present.
  const result = await reproducePaper({
    init: options.init, train, test, teacher, description: `GSM8K from ${options.data}`,
    outDir: options.out ?? './reproduce-output',
    steps: options.steps ?? 5000, batchSize: options.batchSize ?? 16, lr: options.lr ?? 1e-4,
    backend: 'auto', log,
  });
  // 4. The estimate was logged before training; here is how it compared.
  log(`estimated ${formatDuration(result.estimate.seconds)} of training at ${Math.round(result.estimate.tokensPerSecond)} tok/s; took ${formatDuration(result.actual.trainSeconds)}`);
  for (const arm of result.report.summary) log(`${arm.name}: ${(100 * arm.flexible.mean).toFixed(1)}% (flexible)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [init, data, out] = process.argv.slice(2);
  const env = (name: string): number | undefined => (process.env[name] ? Number(process.env[name]) : undefined);
  if (!init || !data) {
    console.error('usage: npx tsx examples/reproduce-gsm8k.ts <gpt2 dir> <gsm8k dir> [out dir]');
    process.exitCode = 2;
  } else {
    main({ init, data, out, steps: env('STEPS'), batchSize: env('BATCH'), lr: env('LR'), testLimit: env('TEST_LIMIT') }).catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
  }
}
