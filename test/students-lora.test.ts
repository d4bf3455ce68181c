/**
 * LoRA students (issue 19 §2) on the llama fixture (random weights, so what is checked is that only the adapters train,
 * the pair shares one base, and everything round-trips; not accuracy): every kind trains with `lora` and leaves the
 * base bit-identical; the Iterative pair is two adapters over one base in memory; saving writes PEFT adapter
 * directories and a student.json that records the base; loading reads the base once; a moved, missing or different
 * base is refused by name; from-scratch LoRA is refused; trainer checkpoints refuse LoRA vs full resumes.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import { selectBackend } from '../src/backend/select.js';
import type { BackendReport, NamedTensors } from '../src/backend/types.js';
import { generateSynthetic, goldChain } from '../src/data/index.js';
import { BackendUnavailableError, BaseModelMissingError, CheckpointError, ModelConfigError } from '../src/errors.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { CausalLM } from '../src/model/causal-lm.js';
import { AnswerOnlyStudent, CoTStudent, IterativeStudent, loadStudent, StudentLM, UnifiedStudent, type StudentData } from '../src/students/index.js';
import { encodePair } from '../src/train/examples.js';
import { train } from '../src/train/trainer.js';
import { asFloat } from './helpers/fixtures.js';
import { copyModernFixture } from './helpers/llama-dirs.js';
import { hasModernFixtures, MODERN_DIR } from './helpers/modern.js';
import { referenceBackend } from './helpers/reference-llama.js';

const tmp = mkdtempSync(join(tmpdir(), 'sd-students-lora-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const problems = generateSynthetic({ count: 4, seed: 11, minSteps: 2, maxSteps: 2, maxOperand: 9, maxResult: 30, maxFactor: 3 });
const data: StudentData = { problems, chains: problems.map((p) => goldChain(p)!) };
const LORA = { r: 8, alpha: 16 };
// A toy budget: the machine these run on is shared, and what is checked is which tensors move, not what is learned.
const budget = { batchSize: 4, maxSteps: 6, lr: 1e-2, warmupSteps: 1, seed: 0 };
const decode = { maxNewTokens: 16, maxSteps: 2 };
const SLOW = 600_000;
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const files = (dir: string): string[] => readdirSync(dir).sort();

function expectSame(a: NamedTensors, b: NamedTensors, what: string): void {
  expect([...a.keys()].sort(), what).toEqual([...b.keys()].sort());
  for (const [name, t] of a) {
    const u = b.get(name)!;
    expect(t.shape, `${what}: ${name}`).toEqual(u.shape);
    // Bit for bit: a frozen tensor is never written.
    expect(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength)), `${what}: ${name}`).toBe(true);
  }
}

const differs = (a: NamedTensors, b: NamedTensors): boolean => [...a].some(([name, t]) => t.data.some((x, i) => x !== b.get(name)!.data[i]));

describe.skipIf(!hasModernFixtures)('LoRA students over the llama fixture', () => {
  let backend: BackendReport;
  let base: string;
  let baseWeights: NamedTensors;

  beforeAll(async () => {
    // The native core where it builds (CI builds it): the same student paths at a fraction of tfjs-cpu's time;
    // the tfjs LoRA core keeps its own tests (tfjs-lora).
    backend = await selectBackend(probeNativeCpu().ok ? 'native' : 'tfjs-cpu');
    // float32 (bit-identical comparisons against the file), with room for the 2-step chains.
    base = await copyModernFixture('llama', join(tmp, 'llama'), { positions: 512 });
    baseWeights = asFloat((await readSafetensors(join(base, 'model.safetensors'))).tensors);
  }, SLOW);

  it('answer-only, CoT, Unified and the shared Iterative student train their adapters alone: the base stays bit-identical; save -> load solves the same', async () => {
    const runs = [
      async () => AnswerOnlyStudent.create({ init: base, backend, lora: LORA }),
      async () => CoTStudent.create({ init: base, backend, lora: LORA }),
      async () => UnifiedStudent.create({ init: base, backend, lora: LORA }),
      async () => IterativeStudent.createShared({ init: base, backend, lora: LORA, maxSteps: 3 }),
    ];
    for (const run of runs) {
      const student = await run();
      const lm = student instanceof IterativeStudent ? student.qg : student.lm;
      expect(lm.model.lora, student.kind).toEqual({ r: 8, alpha: 16, targets: ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj'] });
      const before = await lm.model.training.getWeights();
      // Only adapter tensors are trained (2 per projection per layer).
      expect([...before.keys()].every((n) => /\.lora_[AB]\.weight$/.test(n)), student.kind).toBe(true);
      expect(before.size).toBe(28);
      const r = student instanceof IterativeStudent ? (await student.train(data, budget)).qg : await student.train(data, budget);
      expect(r.losses.at(-1)!, student.kind).toBeLessThan(r.losses[0]!);
      expect(differs(before, await lm.model.training.getWeights()), `${student.kind}: the adapter moved`).toBe(true);
      expectSame(await lm.model.training.getBaseWeights(), baseWeights, `${student.kind} base`);

      const solved = await student.solveMany(problems.slice(0, 2), decode);
      const out = join(tmp, `single-${student.kind}`);
      if (student instanceof IterativeStudent) await student.save(out);
      else await student.save(out);
      student.dispose();
      const adapterDir = student instanceof IterativeStudent ? join(out, 'model') : out;
      // A PEFT adapter directory (no copy of the base), and student.json recording the base.
      expect(files(adapterDir)).toEqual(expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors', 'tokenizer.json']));
      expect(files(adapterDir)).not.toContain('model.safetensors');
      expect(files(adapterDir)).not.toContain('config.json');
      const manifest = readJson(join(out, 'student.json'));
      expect(manifest.base).toEqual({ path: resolve(base), fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
      const loaded = await loadStudent(out, backend);
      expect(loaded.kind).toBe(student.kind);
      expect((await loaded.solveMany(problems.slice(0, 2), decode)).map((s) => s.text)).toEqual(solved.map((s) => s.text));
      loaded.dispose();
    }
  }, SLOW);

  it('the Iterative pair holds one base: QA is a second adapter over QG\'s; training QA leaves QG\'s adapter and the base as they were', async () => {
    const student = await IterativeStudent.create({ init: base, backend, lora: LORA, maxSteps: 3 });
    const { qg, qa } = student;
    expect(qg.model.lora).toEqual(qa.model.lora);
    expect(qa.model.baseModel).toBe(qg.model.baseModel);
    // QA's core leaves the shared base out of its memory: it holds its adapter (and buffers), not a second base.
    const baseBytes = [...baseWeights.values()].reduce((n, t) => n + t.data.byteLength, 0);
    const own = await CausalLM.load(base, { backend, lora: LORA });
    expect(qg.model.training.memory().bytes).toBeGreaterThanOrEqual(baseBytes);
    expect(qa.model.training.memory().bytes).toBeLessThan(own.training.memory().bytes - 0.9 * baseBytes);
    own.dispose();
    // Fresh adapters from different seeds: QG's and QA's A matrices differ.
    expect(differs(await qg.model.training.getWeights(), await qa.model.training.getWeights())).toBe(true);

    const r = await student.train(data, budget);
    expect(r.qg.losses.at(-1)!).toBeLessThan(r.qg.losses[0]!);
    expect(r.qa.losses.at(-1)!).toBeLessThan(r.qa.losses[0]!);
    // Training QA (more steps, on its own examples) leaves QG's adapter exactly as it was, and QA's adapter moves.
    const qgAdapter = await qg.model.training.getWeights();
    const qaBefore = await qa.model.training.getWeights();
    const qaExamples = problems.map((p, i) => encodePair(qa.tokenizer, { prompt: p.question, completion: ` ${data.chains[i]!.steps[0]!.solution}` }, { maxLength: 512 }));
    await train(qa.model, qaExamples, { batchSize: 2, maxSteps: 4, lr: 1e-2, seed: 3 });
    expect(differs(qaBefore, await qa.model.training.getWeights())).toBe(true);
    expectSame(await qg.model.training.getWeights(), qgAdapter, 'QG adapter after QA trained');
    expectSame(await qg.model.training.getBaseWeights(), baseWeights, 'QG base');
    expectSame(await qa.model.training.getBaseWeights(), baseWeights, 'QA base');

    const solved = await student.solveMany(problems, decode);
    const out = join(tmp, 'pair');
    await student.save(out);
    student.dispose();
    expect(files(out)).toEqual(['qa', 'qg', 'student.json']);
    for (const part of ['qg', 'qa']) {
      const config = readJson(join(out, part, 'adapter_config.json'));
      // PEFT's fields, as PeftModel.from_pretrained reads them.
      expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 8, lora_alpha: 16, base_model_name_or_path: resolve(base), bias: 'none', use_dora: false, use_rslora: false });
      expect(config.target_modules).toEqual(['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);
      // Tensor names exactly as PEFT saved the fixture adapter (same targets, same layers).
      const names = [...(await readSafetensors(join(out, part, 'adapter_model.safetensors'))).tensors.keys()].sort();
      const peft = [...(await readSafetensors(join(MODERN_DIR, 'llama-lora', 'adapter_model.safetensors'))).tensors.keys()].sort();
      expect(names).toEqual(peft);
    }
    const loaded = await IterativeStudent.load(out, backend);
    // Loaded over one base too.
    expect(loaded.qa.model.training.memory().bytes).toBeLessThan(loaded.qg.model.training.memory().bytes - 0.9 * baseBytes);
    expect((await loaded.solveMany(problems, decode)).map((s) => s.text)).toEqual(solved.map((s) => s.text));
    loaded.dispose();
  }, SLOW);

  it('a moved base is a BaseModelMissingError naming the recorded path and the `base` option; `base` loads it; another model there is refused', async () => {
    const own = join(tmp, 'movable-base');
    cpSync(base, own, { recursive: true });
    const student = await IterativeStudent.create({ init: own, backend, lora: { r: 2, alpha: 4, targets: ['q_proj', 'v_proj'] }, maxSteps: 2 });
    await student.train(data, { ...budget, maxSteps: 3 });
    const solved = await student.solveMany(problems.slice(0, 1), decode);
    const out = join(tmp, 'moved');
    await student.save(out);
    student.dispose();
    const moved = join(tmp, 'moved-base-elsewhere');
    renameSync(own, moved);
    const err = await loadStudent(out, backend).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BaseModelMissingError);
    expect((err as BaseModelMissingError).basePath).toBe(resolve(own));
    expect((err as Error).message).toContain(`base model ${resolve(own)} is not there`);
    expect((err as Error).message).toContain('`base`');
    const loaded = await loadStudent(out, backend, { base: moved });
    expect((await loaded.solveMany(problems.slice(0, 1), decode)).map((s) => s.text)).toEqual(solved.map((s) => s.text));
    loaded.dispose();
    // A different model (same shapes, other weights) at the path: refused by its fingerprint, naming both.
    const other = await copyModernFixture('llama', join(tmp, 'other-base'), { positions: 512, bf16: true });
    const wrong = await loadStudent(out, backend, { base: other }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ModelConfigError);
    expect((wrong as Error).message).toContain(`the base model at ${other} is not the one`);
    expect((wrong as Error).message).toContain(resolve(own));
  }, SLOW);

  it('withBase copies the base beside the adapters: the directory loads on its own after the original is gone', async () => {
    const own = join(tmp, 'copied-base');
    cpSync(base, own, { recursive: true });
    const student = await UnifiedStudent.create({ init: own, backend, lora: LORA });
    await student.train(data, { ...budget, maxSteps: 3 });
    const solved = await student.solveMany(problems.slice(0, 1), decode);
    const out = join(tmp, 'with-base');
    await student.save(out, { withBase: true });
    student.dispose();
    expect(files(join(out, 'base'))).toEqual(files(own).filter((f) => ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'chat_template.jinja'].includes(f)));
    expect(readFileSync(join(out, 'base', 'model.safetensors')).equals(readFileSync(join(own, 'model.safetensors')))).toBe(true);
    // The adapter names its base relatively, so the two move together.
    expect(readJson(join(out, 'adapter_config.json')).base_model_name_or_path).toBe('base');
    expect(readJson(join(out, 'student.json')).base).toMatchObject({ path: resolve(own), copy: 'base' });
    rmSync(own, { recursive: true });
    const loaded = await loadStudent(out, backend);
    expect((await loaded.solveMany(problems.slice(0, 1), decode)).map((s) => s.text)).toEqual(solved.map((s) => s.text));
    loaded.dispose();
  }, SLOW);

  it('LoRA needs a pretrained base: from scratch it is refused, for every kind', async () => {
    const size = { n_embd: 16, n_layer: 1, n_head: 2, n_positions: 320 };
    const refused = /lora trains adapters over a frozen pretrained base: pass `init`/;
    await expect(UnifiedStudent.create({ size, data, lora: LORA })).rejects.toThrow(refused);
    await expect(CoTStudent.create({ size, data, lora: LORA })).rejects.toThrow(ModelConfigError);
    await expect(IterativeStudent.create({ qgSize: size, qaSize: size, data, lora: LORA })).rejects.toThrow(refused);
    await expect(IterativeStudent.createShared({ size, data, lora: LORA })).rejects.toThrow(refused);
  }, SLOW);

  it('withAdapter: refused on a plain model and on a core that cannot share; a saved adapter for another base is refused naming both', async () => {
    const plain = await CausalLM.load(base, { backend });
    await expect(plain.withAdapter({ lora: LORA })).rejects.toThrow(/withAdapter: this model has no LoRA adapter/);
    plain.dispose();
    const reference = await CausalLM.load(base, { backend: referenceBackend, lora: LORA });
    const err = await reference.withAdapter({ lora: LORA }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/the reference-f64 core cannot share its base between two adapters; run the model on a core that can/);
    reference.dispose();

    const model = await CausalLM.load(base, { backend, lora: LORA });
    // The PEFT fixture adapter names "../llama" (the fixture's own base, which exists and is not `base`).
    const other = await model.withAdapter({ adapter: join(MODERN_DIR, 'llama-lora') }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(ModelConfigError);
    expect((other as Error).message).toContain(`made for the base ${join(MODERN_DIR, 'llama')}`);
    expect((other as Error).message).toContain(`loaded over ${resolve(base)}`);
    // Over the fixture's own base it loads and gives PEFT's adapter.
    const fixtureBase = await CausalLM.load(join(MODERN_DIR, 'llama'), { backend, lora: { r: 4, alpha: 8 } });
    const peft = await fixtureBase.withAdapter({ adapter: join(MODERN_DIR, 'llama-lora') });
    expect(peft.lora).toEqual({ r: 4, alpha: 8, targets: ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj'] });
    const file = (await readSafetensors(join(MODERN_DIR, 'llama-lora', 'adapter_model.safetensors'))).tensors;
    for (const [name, t] of await peft.training.getWeights()) expect(t.data, name).toEqual(file.get(`base_model.model.${name}`)!.data);
    await expect(model.withAdapter({})).rejects.toThrow(/give either lora/);
    await expect(model.withAdapter({ lora: LORA, adapter: join(MODERN_DIR, 'llama-lora') })).rejects.toThrow(/give either lora/);
    peft.dispose();
    fixtureBase.dispose();
    model.dispose();
  }, SLOW);

  it('a training checkpoint records LoRA vs full: resuming a full run as LoRA, LoRA as full, or another r is a CheckpointError', async () => {
    const examples = ['Q: 2 + 3 =|5', 'Q: 4 + 4 =|8', 'Q: 1 + 6 =|7'].map((t) => t.split('|'));
    const run = async (model: CausalLM, dir: string): Promise<void> => {
      const tok = model.tokenizer!;
      await train(model, examples.map(([p, c]) => encodePair(tok, { prompt: p!, completion: ` ${c}` }, { maxLength: 512 })), { batchSize: 3, maxSteps: 4, lr: 1e-3, checkpoint: { dir, every: 1 }, stopAfterSteps: 2 });
    };
    const full = join(tmp, 'ckpt-full');
    const plain = await CausalLM.load(base, { backend });
    await run(plain, full);
    plain.dispose();
    expect(JSON.parse(readFileSync(join(full, 'trainer-state.json'), 'utf8')).lora).toBeNull();
    const asLora = await CausalLM.load(base, { backend, lora: LORA });
    const e1 = await run(asLora, full).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(CheckpointError);
    expect((e1 as Error).message).toContain('this training checkpoint is of a full fine-tune (every weight), but the model now trains a LoRA adapter (r 8, alpha 16');

    const lora = join(tmp, 'ckpt-lora');
    await run(asLora, lora);
    asLora.dispose();
    expect(JSON.parse(readFileSync(join(lora, 'trainer-state.json'), 'utf8')).lora).toEqual({ r: 8, alpha: 16, targets: ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj'] });
    const asFull = await CausalLM.load(base, { backend });
    await expect(run(asFull, lora)).rejects.toThrow(/is of a LoRA adapter \(r 8, alpha 16.*but the model now trains a full fine-tune/);
    asFull.dispose();
    const otherRank = await CausalLM.load(base, { backend, lora: { r: 4, alpha: 16 } });
    await expect(run(otherRank, lora)).rejects.toThrow(/but the model now trains a LoRA adapter \(r 4, alpha 16/);
    otherRank.dispose();
    // A checkpoint written before `lora` was recorded: told apart by its tensor names.
    const state = JSON.parse(readFileSync(join(lora, 'trainer-state.json'), 'utf8')) as Record<string, unknown>;
    delete state.lora;
    writeFileSync(join(lora, 'trainer-state.json'), JSON.stringify(state));
    const old = await CausalLM.load(base, { backend });
    await expect(run(old, lora)).rejects.toThrow(/is of a LoRA adapter, but the model now trains a full fine-tune/);
    old.dispose();
    // The same LoRA settings resume.
    const same = await CausalLM.load(base, { backend, lora: LORA });
    await run(same, lora);
    expect(JSON.parse(readFileSync(join(lora, 'trainer-state.json'), 'utf8')).step).toBe(4);
    same.dispose();
    expect(existsSync(join(lora, 'trainer-state.json'))).toBe(true);
  }, SLOW);

  it('StudentLM.withAdapter shares the tokenizer and the base; a plain StudentLM refuses', async () => {
    const lm = await StudentLM.load(base, { backend, lora: LORA });
    const second = await lm.withAdapter({ lora: LORA, seed: 5 });
    expect(second.tokenizer).toBe(lm.tokenizer);
    expect(second.model.baseModel).toBe(resolve(base));
    second.dispose();
    lm.dispose();
    const plain = await StudentLM.load(base, { backend });
    await expect(plain.withAdapter({ lora: LORA })).rejects.toThrow(ModelConfigError);
    plain.dispose();
  }, SLOW);
});
