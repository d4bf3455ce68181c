/**
 * The demo on Llama-family students, at a toy budget (what is checked is the wiring, not accuracy): `--arch llama`
 * trains every arm as a from-scratch Llama on the trimmed vocabulary; `--init <dir>` starts every arm from a
 * Llama-family checkpoint (the modern fixture standing in for SmolLM2), which keeps its tokenizer.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { DEMO_PRESETS, type DemoConfig } from '../src/demo/config.js';
import { runDemo, syntheticSplit } from '../src/demo/pipeline.js';
import { InvalidOptionError } from '../src/errors.js';
import type { EvalReport } from '../src/eval/index.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { SimulatedTeacher } from '../src/teacher/simulated.js';
import type { TeacherClient } from '../src/teacher/types.js';
import { asFloat, maxAbsDiff } from './helpers/fixtures.js';
import { copyModernFixture } from './helpers/llama-dirs.js';
import { hasModernFixtures, MODERN_DIR } from './helpers/modern.js';

const tmp = mkdtempSync(join(tmpdir(), 'sd-demo-llama-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

let stderr = '';
beforeEach(() => {
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
});
afterEach(() => vi.restoreAllMocks());

const toy = ['--train', '40', '--test', '4', '--seeds', '0', '--arms', 'answer-only,iterative'];

describe('demo on Llama-family students', () => {
  it('--arch llama: every arm is a from-scratch Llama (RoPE, GQA, SwiGLU) on the trimmed vocabulary, in the GPT-2 student\'s size class', async () => {
    const out = join(tmp, 'arch');
    expect(await main(['demo', '--arch', 'llama', '--steps', '3', ...toy, '--out', out]), stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as EvalReport;
    expect(report.summary.map((a) => a.kind)).toEqual(['answer-only', 'iterative']);
    // The demo's size (64 wide, 2 layers, 4 heads, 256 positions) as a Llama.
    expect(report.setup.model).toMatchObject({ model_type: 'llama', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256 });
    for (const dir of ['answer-only', 'iterative/qg', 'iterative/qa']) {
      const config = readJson(join(out, 'students', dir, 'config.json'));
      expect(config).toMatchObject({ model_type: 'llama', hidden_size: 64, intermediate_size: 192, tie_word_embeddings: true });
      expect(existsSync(join(out, 'students', dir, 'trimmed_vocab.json')), dir).toBe(true);
      const weights = (await readSafetensors(join(out, 'students', dir, 'model.safetensors'))).tensors;
      expect([...weights.keys()].some((n) => /wpe|position/.test(n))).toBe(false);
    }
  }, 180_000);

  it('refuses shape flags with --init, an unknown --arch and a bad shape, in one line', async () => {
    expect(await main(['demo', '--arch', 'mamba', '--out', join(tmp, 'x')])).toBe(1);
    expect(stderr).toMatch(/^socratic-distill demo: --arch must be one of gpt2\|llama, got 'mamba' \[CLI_USAGE\]\n$/);
    stderr = '';
    expect(await main(['demo', '--arch', 'llama', '--init', join(MODERN_DIR, 'llama'), '--out', join(tmp, 'x')])).toBe(1);
    expect(stderr).toMatch(/--arch, --n-positions, --n-embd, --n-layer and --n-head are for students from scratch/);
    stderr = '';
    expect(await main(['demo', '--n-layer', '3', '--init', join(MODERN_DIR, 'llama'), '--out', join(tmp, 'x')])).toBe(1);
    expect(stderr).toMatch(/with --init the checkpoint decides them/);
    stderr = '';
    expect(await main(['demo', '--n-embd', '48', '--n-head', '5', '--out', join(tmp, 'x')])).toBe(1);
    expect(stderr).toMatch(/^socratic-distill demo: --n-embd, --n-layer and --n-head must suit a gpt2 student: n_embd \(48\) must be divisible by n_head \(5\) \[CLI_USAGE\]\n$/);
    stderr = '';
    // Rotary needs an even head width: 36 / 4 = 9.
    expect(await main(['demo', '--arch', 'llama', '--n-embd', '36', '--n-head', '4', '--out', join(tmp, 'x')])).toBe(1);
    expect(stderr).toMatch(/^socratic-distill demo: --n-embd, --n-layer and --n-head must suit a llama student: head_dim \(9\) must be even for rotary embeddings \[CLI_USAGE\]\n$/);
    stderr = '';
    expect(await main(['demo', '--n-layer', '0', '--out', join(tmp, 'x')])).toBe(1);
    expect(stderr).toContain("--n-layer must be an integer >= 1, got '0'");
  });

  it('runDemo refuses a size its architecture rejects before the teacher is asked anything', async () => {
    const config: DemoConfig = { ...DEMO_PRESETS.quick, trainProblems: 10, testProblems: 2, seeds: [0], arms: ['unified'], size: { ...DEMO_PRESETS.quick.size, n_embd: 48, n_head: 5 } };
    const asked: string[] = [];
    const simulated = new SimulatedTeacher({ seed: 0, errorRate: 0 });
    const teacher: TeacherClient = { id: 'counting', sample: (problem, request) => (asked.push(problem.id), simulated.sample(problem, request)) };
    const outDir = join(tmp, 'bad-size');
    const run = (c: DemoConfig): Promise<unknown> => runDemo({ config: c, source: { ...syntheticSplit(c), teacher, description: 'test' }, outDir });
    const err = await run(config).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect(err).toMatchObject({ option: 'size', requirement: 'must suit a gpt2 student: n_embd (48) must be divisible by n_head (5)' });
    await expect(run({ ...config, arch: 'llama', size: { ...config.size, n_embd: 36, n_head: 4 } })).rejects.toThrow(/option 'size' must suit a llama student: head_dim \(9\) must be even/);
    expect(asked).toEqual([]);
    expect(existsSync(outDir)).toBe(false);
  });

  it('--n-embd, --n-layer and --n-head shape every from-scratch model, GPT-2 or Llama', async () => {
    const shape = ['--n-embd', '32', '--n-layer', '3', '--n-head', '2', '--steps', '1', '--train', '20', '--test', '2', '--seeds', '0', '--arms', 'answer-only'];
    const gpt2 = join(tmp, 'shape-gpt2');
    expect(await main(['demo', ...shape, '--out', gpt2]), stderr).toBe(0);
    expect(readJson(join(gpt2, 'students', 'answer-only', 'config.json'))).toMatchObject({ n_embd: 32, n_layer: 3, n_head: 2, n_positions: 256 });
    const llama = join(tmp, 'shape-llama');
    expect(await main(['demo', '--arch', 'llama', ...shape, '--out', llama]), stderr).toBe(0);
    expect(readJson(join(llama, 'students', 'answer-only', 'config.json'))).toMatchObject({ hidden_size: 32, num_hidden_layers: 3, num_attention_heads: 2, num_key_value_heads: 1 });
  }, 120_000);

  it.skipIf(!hasModernFixtures)('--init <llama dir>: every model starts from the checkpoint and keeps its tokenizer; every arm is evaluated', async () => {
    // SmolLM2-style directory; 512 positions, as the fixture's 128 do not hold a 3-step chain in this tokenizer.
    const init = await copyModernFixture('llama', join(tmp, 'smol'), { positions: 512 });
    const out = join(tmp, 'init');
    const steps = 2;
    expect(await main(['demo', '--init', init, '--steps', String(steps), ...toy, '--out', out]), stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as EvalReport;
    expect(report.setup.model).toMatchObject({ n_embd: 64, n_layer: 2, n_head: 4, n_positions: 512, vocab_size: 1000 });
    expect(report.summary.map((a) => a.kind)).toEqual(['answer-only', 'iterative']);
    for (const arm of report.summary) expect(arm.flexible.mean).toBeGreaterThanOrEqual(0);
    const fixture = asFloat((await readSafetensors(join(init, 'model.safetensors'))).tensors);
    for (const dir of ['answer-only', 'iterative/qg', 'iterative/qa']) {
      const saved = join(out, 'students', dir);
      expect(readFileSync(join(saved, 'tokenizer.json'), 'utf8')).toBe(readFileSync(join(init, 'tokenizer.json'), 'utf8'));
      expect(existsSync(join(saved, 'trimmed_vocab.json'))).toBe(false);
      // Started from the checkpoint: after 2 AdamW steps at the demo's lr 5e-3 each weight is within a few lr of
      // the fixture's (whose matrices are 0.15 N: a fresh init would be far off), and it moved.
      const weights = asFloat((await readSafetensors(join(saved, 'model.safetensors'))).tensors);
      let moved = 0;
      for (const [name, w] of fixture) {
        const diff = maxAbsDiff(weights.get(name)!.data, w.data);
        expect(diff, `${dir} ${name}`).toBeLessThan(4 * steps * 5e-3);
        moved = Math.max(moved, diff);
      }
      expect(moved).toBeGreaterThan(0);
    }
  }, 180_000);
});
