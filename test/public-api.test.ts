/**
 * The package root is a curated list (src/index.ts). This test is its snapshot: adding or removing a public
 * name must be done here too, on purpose. The README's "Public API" section must name every one of them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

const PUBLIC_NAMES = [
  'AnnotationTeacher', 'AnswerOnlyStudent', 'BackendUnavailableError', 'BaseModelMissingError', 'BatchFailedError', 'CausalLM', 'ChainVerifier', 'CheckpointError',
  'CoTStudent', 'CompletionTeacher', 'ContextLengthError', 'CostLimitError', 'DEMO_PRESETS', 'DatasetFormatError', 'Evaluator',
  'GPT2', 'GPT2ConfigSchema', 'HFTokenizer', 'InvalidOptionError', 'IterativeStudent', 'LlamaConfigSchema', 'ModelConfigError',
  'NonFiniteLossError', 'OpenAICompatibleTeacher', 'OptionalDependencyError', 'OutputLockedError', 'PRESETS',
  'ProblemSchema', 'STUDENT_KINDS', 'SYNTHETIC_FAMILIES', 'SafetensorsError', 'ShapeError', 'SimulatedTeacher',
  'SingleModelStudent', 'SocraticChainSchema', 'SocraticDataset', 'SocraticDistillError', 'SocraticStepSchema',
  'StudentLM', 'TeacherBase', 'TeacherError', 'TeacherUnsuitableError', 'Tokenizer', 'TrainingDataError', 'TrimmedVocab',
  'UnifiedStudent', 'answersMatch', 'batchPricing', 'cancelChainsBatch', 'costOf', 'estimateGeneration', 'evaluateStudents',
  'extractAnswer', 'finalSolution', 'generateChains', 'generateChainsBatch', 'generateSynthetic', 'goldChain',
  'ingestBatchResults', 'llamaStudentSize', 'loadStudent', 'postJson', 'presetConfig',
  'reproducePaper', 'runDemo', 'sampleDataDir', 'selectBackend', 'solveStreaming', 'sumUsage',
  'syntheticSplit', 'userProblem', 'writeBatchRequests', 'writeReport',
];

describe('public API', () => {
  it('the package root exports exactly the curated names, at most 100 of them', async () => {
    const root = await import('../src/index.js');
    expect(Object.keys(root).sort()).toEqual([...PUBLIC_NAMES].sort());
    expect(PUBLIC_NAMES.length).toBeLessThanOrEqual(100);
  });

  it('the root is a written list, never `export *`', async () => {
    const text = await readFile(join(ROOT, 'src/index.ts'), 'utf8');
    expect(text).not.toMatch(/^export \*/m);
  });

  it('every subpath entry loads and shares its classes with the root (one copy of each)', async () => {
    const root = await import('../src/index.js');
    const teacher = await import('../src/api/teacher.js');
    const data = await import('../src/api/data.js');
    const train = await import('../src/api/train.js');
    const evalEntry = await import('../src/api/eval.js');
    const backend = await import('../src/api/backend.js');
    expect(teacher.SimulatedTeacher).toBe(root.SimulatedTeacher);
    expect(teacher.askTeacher).toBeTypeOf('function');
    expect(teacher.generateChainsBatch).toBe(root.generateChainsBatch);
    expect(teacher.BatchRequestLineSchema).toBeDefined();
    expect(teacher.OpenAIBatchProvider).toBeTypeOf('function');
    expect(data.ChainVerifier).toBe(root.ChainVerifier);
    expect(data.parseGsm8kAnswer).toBeTypeOf('function');
    expect(train.train).toBeTypeOf('function');
    expect(train.buildPairs).toBeTypeOf('function');
    expect(evalEntry.Evaluator).toBe(root.Evaluator);
    expect(evalEntry.pairedComparison).toBeTypeOf('function');
    expect(backend.selectBackend).toBe(root.selectBackend);
    expect(backend.initWeights).toBeTypeOf('function');
  });

  it('package.json exports every subpath entry that tsup builds', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    const tsup = await readFile(join(ROOT, 'tsup.config.ts'), 'utf8');
    for (const name of ['teacher', 'data', 'train', 'eval', 'backend']) {
      expect(pkg.exports[`./${name}`]).toBeDefined();
      expect(tsup).toContain(`${name}: 'src/api/${name}.ts'`);
    }
  });

  it("the README's Public API section names every root export", async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const section = readme.split('## Public API')[1]?.split('\n## ')[0] ?? '';
    const missing = PUBLIC_NAMES.filter((n) => !section.includes(`\`${n}\``));
    expect(missing).toEqual([]);
  });
});
