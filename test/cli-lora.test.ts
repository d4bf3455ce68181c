/**
 * The CLI's LoRA path end to end on a tiny budget (the llama fixture as the downloaded base): `train --init --lora`
 * saves PEFT adapters and a student.json recording the base, `solve` and `eval` load it with nothing extra, a moved
 * base is named with the --base fix, and bad --lora values get one clear message each.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import { main } from '../src/cli/main.js';
import { generateSynthetic, goldChain } from '../src/data/index.js';
import { copyModernFixture } from './helpers/llama-dirs.js';
import { hasModernFixtures } from './helpers/modern.js';

// The native core where it builds (CI builds it): the same CLI path at a fraction of tfjs-cpu's time.
const backend = probeNativeCpu().ok ? 'native' : 'tfjs-cpu';

const tmp = mkdtempSync(join(tmpdir(), 'sd-cli-lora-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

let stdout = '';
let stderr = '';
beforeEach(() => {
  stdout = '';
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
});
afterEach(() => vi.restoreAllMocks());

describe.skipIf(!hasModernFixtures)('CLI train --lora, solve, eval', () => {
  let init: string;
  let chains: string;
  const problems = generateSynthetic({ count: 6, seed: 0 });
  const common = (): string[] => ['--chains', chains, '--dataset', 'synthetic', '--count', '6', '--steps', '4', '--batch-size', '3', '--lr', '5e-3', '--backend', backend];

  beforeAll(async () => {
    init = await copyModernFixture('llama', join(tmp, 'SmolLM2-135M'), { bf16: true, positions: 512 });
    chains = join(tmp, 'kept.jsonl');
    writeFileSync(chains, problems.map((p) => JSON.stringify(goldChain(p))).join('\n') + '\n');
  });

  it('trains an Iterative pair of adapters over one base, and solve and eval load it; a moved base needs --base', async () => {
    const out = join(tmp, 'iterative');
    expect(await main(['train', '--student', 'iterative', '--init', init, '--lora', 'r=4,alpha=8,targets=q_proj+v_proj', '--out', out, ...common()]), stderr).toBe(0);
    expect(stdout).toMatch(/trained iterative student \(QG 4 steps, loss [\d.]+; QA 4 steps/);
    expect(readJson(join(out, 'student.json')).base).toMatchObject({ path: resolve(init) });
    for (const part of ['qg', 'qa']) {
      expect(readJson(join(out, part, 'adapter_config.json'))).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'], base_model_name_or_path: resolve(init) });
    }

    stdout = '';
    expect(await main(['solve', '--student', out, '--max-steps', '2', '--json', '--backend', backend, problems[0]!.question]), stderr).toBe(0);
    const solved = JSON.parse(stdout) as { steps: unknown[]; text: string };
    expect(solved.steps.length).toBeLessThanOrEqual(2);

    stdout = '';
    const report = join(tmp, 'eval');
    expect(await main(['eval', '--student', out, '--dataset', 'synthetic', '--count', '2', '--max-steps', '2', '--out', report, '--backend', backend]), stderr).toBe(0);
    expect(stdout).toContain('| Student |');
    expect((readJson(join(report, 'report.json')).summary as Array<{ kind: string }>).map((a) => a.kind)).toEqual(['iterative']);

    const moved = join(tmp, 'moved-base');
    renameSync(init, moved);
    try {
      stderr = '';
      expect(await main(['solve', '--student', out, '--json', '--backend', backend, problems[0]!.question])).toBe(1);
      expect(stderr).toContain(`the LoRA student's base model ${resolve(init)} is not there`);
      expect(stderr).toContain('pass its directory with --base <dir> [BASE_MODEL_MISSING]');
      stderr = '';
      expect(await main(['eval', '--student', out, '--dataset', 'synthetic', '--count', '1', '--out', report, '--backend', backend])).toBe(1);
      expect(stderr).toContain('--base <dir>');
      stdout = '';
      expect(await main(['solve', '--student', out, '--max-steps', '2', '--json', '--base', moved, '--backend', backend, problems[0]!.question]), stderr).toBe(0);
      expect((JSON.parse(stdout) as { text: string }).text).toBe(solved.text);
      stderr = '';
      expect(await main(['solve', '--student', out, '--base', join(tmp, 'nowhere'), problems[0]!.question])).toBe(1);
      expect(stderr).toContain('--base must name the base model\'s directory');
    } finally {
      renameSync(moved, init);
    }
  });

  it('a Unified student with --with-base carries a copy of its base', async () => {
    const out = join(tmp, 'unified');
    expect(await main(['train', '--student', 'unified', '--init', init, '--lora', 'r=2,alpha=4', '--with-base', '--out', out, ...common()]), stderr).toBe(0);
    expect(readJson(join(out, 'student.json')).base).toMatchObject({ path: resolve(init), copy: 'base' });
    expect(readJson(join(out, 'base', 'config.json')).model_type).toBe('llama');
    stdout = '';
    // Loaded from the copy beside the adapters, with nothing extra.
    expect(await main(['solve', '--student', out, '--json', '--backend', backend, problems[1]!.question]), stderr).toBe(0);
    expect(JSON.parse(stdout)).toHaveProperty('answer');
  });

  it('resuming a full run\'s checkpoint with --lora is refused, naming both', async () => {
    const ck = join(tmp, 'ck');
    expect(await main(['train', '--student', 'answer-only', '--init', init, '--out', join(tmp, 'full'), '--checkpoint-dir', ck, ...common()]), stderr).toBe(0);
    stderr = '';
    expect(await main(['train', '--student', 'answer-only', '--init', init, '--lora', 'r=2,alpha=4', '--out', join(tmp, 'full'), '--checkpoint-dir', ck, ...common()])).toBe(1);
    expect(stderr).toContain('this training checkpoint is of a full fine-tune (every weight), but the model now trains a LoRA adapter (r 2, alpha 4');
  });

  it.each([
    [['--lora', 'r=0,alpha=8'], "--lora: r must be a whole number >= 1, got '0'"],
    [['--lora', 'r=4'], '--lora needs both r and alpha'],
    [['--lora', 'r=4,alpha=-1'], "--lora: alpha must be a number > 0, got '-1'"],
    [['--lora', 'r=4,alpha=8,rank=2'], "--lora: unknown field 'rank'"],
    [['--lora', '16'], '--lora takes r=<rank>,alpha=<alpha>'],
    [['--lora', 'r=4,alpha=8,targets=q_proj+nope'], 'has no module "nope" to adapt; valid targets: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj'],
    [['--with-base'], '--with-base is for --lora students'],
  ])('refuses %j with a clear message', async (flags, message) => {
    expect(await main(['train', '--student', 'unified', '--init', init, '--out', join(tmp, 'bad'), ...flags, ...common()])).toBe(1);
    expect(stderr).toContain(message);
  });

  it('--lora without --init is refused (a student from scratch trains every weight)', async () => {
    expect(await main(['train', '--student', 'unified', '--lora', 'r=4,alpha=8', '--out', join(tmp, 'scratch'), ...common()])).toBe(1);
    expect(stderr).toContain('--lora trains adapters over a pretrained model: give it with --init');
  });
});
