/**
 * Students on Llama-family models: every kind from a downloaded-style directory (the modern fixtures stand in for
 * SmolLM2 / Qwen3: random weights, so what is checked is that the pipeline learns and round-trips, not accuracy), the
 * model's own tokenizer and EOS in the formats and decoding, and a from-scratch Llama student on a trimmed vocabulary.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countParams, paramLayout } from '../src/arch/layout.js';
import { selectBackend } from '../src/backend/select.js';
import type { BackendReport } from '../src/backend/types.js';
import { generateSynthetic, goldChain } from '../src/data/index.js';
import { ModelConfigError, TrainingDataError } from '../src/errors.js';
import { buildPairs } from '../src/format/pairs.js';
import type { CausalLM } from '../src/model/causal-lm.js';
import type { GPT2GenerateOptions } from '../src/model/generate.js';
import {
  AnswerOnlyStudent, CoTStudent, generateBatched, IterativeStudent, loadStudent, StudentLM, tokenizerForTexts, trainingTexts, UnifiedStudent, type StudentData,
} from '../src/students/index.js';
import { llamaStudentSize } from '../src/students/lm.js';
import { encodePairs } from '../src/train/examples.js';
import { copyModernFixture } from './helpers/llama-dirs.js';
import { hasModernFixtures, MODERN_DIR } from './helpers/modern.js';

const tmp = mkdtempSync(join(tmpdir(), 'sd-students-llama-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const problems = generateSynthetic({ count: 4, seed: 11, minSteps: 2, maxSteps: 2, maxOperand: 9, maxResult: 30, maxFactor: 3 });
const data: StudentData = { problems, chains: problems.map((p) => goldChain(p)!) };
const gold = problems.map((p) => p.answer);
const overfit = { batchSize: 4, maxSteps: 100, lr: 3e-3, warmupSteps: 10, seed: 0 };
const files = (dir: string): string[] => readdirSync(dir).sort();
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

describe.skipIf(!hasModernFixtures)('students from a Llama-family directory (modern fixtures standing in for SmolLM2 / Qwen3)', () => {
  let backend: BackendReport;
  let llama: string;
  let qwen3: string;
  beforeAll(async () => {
    backend = await selectBackend('auto');
    // A bf16 llama copy, as SmolLM2 ships; both with room for the 2-step chains (the fixtures hold 128 positions).
    llama = await copyModernFixture('llama', join(tmp, 'llama-bf16'), { bf16: true, positions: 512 });
    qwen3 = await copyModernFixture('qwen3', join(tmp, 'qwen3'), { positions: 512 });
  });

  for (const name of ['llama', 'qwen3'] as const) {
    it(`Iterative pair from ${name}: QG and QA learn the decomposition on the model's own vocabulary; the saved HF dir loads back to the same solutions`, async () => {
      const dir = name === 'llama' ? llama : qwen3;
      const student = await IterativeStudent.create({ init: dir, backend, maxSteps: 4 });
      // The pretrained vocabulary and special tokens are kept: no trimming.
      expect(student.qg.config.vocab_size).toBe(1000);
      expect(student.qg.tokenizer.kind).toBe('hf');
      expect(student.qg.maxPositions).toBe(512);
      const r = await student.train(data, overfit);
      expect(r.qg.losses.at(-1)!).toBeLessThan(0.05 * r.qg.losses[0]!);
      expect(r.qa.losses.at(-1)!).toBeLessThan(0.05 * r.qa.losses[0]!);
      const solved = await student.solveMany(problems);
      expect(solved.map((s) => s.answer)).toEqual(gold);
      expect(solved.map((s) => s.stoppedBy)).toEqual(problems.map(() => 'end-marker'));
      expect(solved.map((s) => s.steps.map((x) => x.subquestion))).toEqual(data.chains.map((c) => c.steps.map((x) => x.subquestion)));

      const out = join(tmp, `${name}-iterative`);
      await student.save(out);
      student.dispose();
      expect(files(out)).toEqual(['qa', 'qg', 'student.json']);
      // Each half is an HF directory with the tokenizer files beside it, and no trimmed vocabulary.
      expect(files(join(out, 'qg'))).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
      expect(readJson(join(out, 'qg', 'config.json')).model_type).toBe(name);
      // The tokenizer files go back as they came (text kept, not re-serialised).
      expect(readFileSync(join(out, 'qg', 'tokenizer.json'), 'utf8')).toBe(readFileSync(join(MODERN_DIR, name, 'tokenizer.json'), 'utf8'));
      const loaded = await loadStudent(out, backend);
      expect(loaded).toBeInstanceOf(IterativeStudent);
      expect((await loaded.solveMany(problems)).map((s) => s.text)).toEqual(solved.map((s) => s.text));
      loaded.dispose();
    });
  }

  it('answer-only, CoT, Unified and the shared Iterative student train from it, solve, and load back to the same text', async () => {
    const short = { ...overfit, maxSteps: 40 };
    // Trained by kind (the pair returns one result per turn), then one loop checks them all.
    const single = async (student: AnswerOnlyStudent | CoTStudent | UnifiedStudent) => ({ student, losses: (await student.train(data, short)).losses });
    const shared = async (student: IterativeStudent) => ({ student, losses: (await student.train(data, short)).qg.losses });
    const runs = [
      async () => single(await AnswerOnlyStudent.create({ init: llama, backend })),
      async () => single(await CoTStudent.create({ init: llama, backend })),
      async () => single(await UnifiedStudent.create({ init: qwen3, backend })),
      async () => shared(await IterativeStudent.createShared({ init: llama, backend, maxSteps: 3 })),
    ];
    for (const run of runs) {
      const { student, losses } = await run();
      expect(losses.at(-1)!, student.kind).toBeLessThan(0.5 * losses[0]!);
      const solved = await student.solveMany(problems.slice(0, 2), { maxNewTokens: 96 });
      expect(solved.every((s) => s.text.length > 0), student.kind).toBe(true);
      const out = join(tmp, `other-${student.kind}`);
      if (student instanceof IterativeStudent) {
        expect(student.shared).toBe(true);
        await student.save(out);
      } else await student.save(out);
      student.dispose();
      const loaded = await loadStudent(out, backend);
      expect(loaded.kind).toBe(student.kind);
      expect((await loaded.solveMany(problems.slice(0, 2), { maxNewTokens: 96 })).map((s) => s.text)).toEqual(solved.map((s) => s.text));
      loaded.dispose();
    }
  });

  it("formats end every example with the model's first EOS; decoding stops at any of its EOS ids, pads with its pad id, and the calculator writes its tokens", async () => {
    // Qwen3-style: generation_config lists <|im_end|> (2) before <|endoftext|> (0).
    const dir = await copyModernFixture('qwen3', join(tmp, 'qwen3-eos'), { positions: 512 });
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 0], pad_token_id: 0 }));
    const lm = await StudentLM.load(dir, { backend });
    expect(lm.tokenizer.eosIds).toEqual([2, 0]);
    const examples = encodePairs(lm.tokenizer, buildPairs('unified', data.problems, data.chains), { maxLength: lm.maxPositions });
    expect(examples.every((e) => e.ids.at(-1) === 2 && e.labels.at(-1) === 2)).toBe(true);
    let seen: GPT2GenerateOptions | undefined;
    const spy = { config: lm.config, generate: async (rows: number[][], o: GPT2GenerateOptions) => ((seen = o), rows.map(() => [])) } as unknown as CausalLM;
    await generateBatched(spy, lm.tokenizer, ['Problem: x\n'], { maxNewTokens: 4, calculator: true });
    expect(seen).toMatchObject({ eosTokenId: [2, 0], padTokenId: 0 });
    // The calculator writes its result in the model's own tokens (this tokenizer splits digits one by one).
    const forced = seen!.forceTokens!(0, lm.tokenizer.encode('Tom has 12 + 30 ='));
    expect(forced).toEqual(lm.tokenizer.encode(' 42'));
    expect(forced!.length).toBeGreaterThan(1);
    expect(lm.tokenizer.decode(forced!)).toBe(' 42');
    lm.dispose();
  });

  it('an interrupted Iterative training from a checkpoint directory resumes exactly (QG and QA)', async () => {
    const opts = { ...overfit, maxSteps: 8 };
    const reference = await IterativeStudent.create({ init: llama, backend });
    const expected = await reference.train(data, opts);
    reference.dispose();
    const checkpointDir = join(tmp, 'resume');
    const first = await IterativeStudent.create({ init: llama, backend });
    const cut = await first.train(data, { ...opts, checkpointDir, checkpointEvery: 100, stopAfterSteps: 3 });
    expect([cut.qg.finished, cut.qa.finished]).toEqual([false, false]);
    first.dispose();
    const again = await IterativeStudent.create({ init: llama, backend });
    const resumed = await again.train(data, { ...opts, checkpointDir, checkpointEvery: 100 });
    expect([resumed.qg.resumedFromStep, resumed.qa.resumedFromStep]).toEqual([3, 3]);
    expect(resumed.qg.losses).toEqual(expected.qg.losses);
    expect(resumed.qa.losses).toEqual(expected.qa.losses);
    again.dispose();
  });

  it("refuses an example longer than the checkpoint's max_position_embeddings, naming the limit", async () => {
    // The fixture as it is: 128 positions; a 3-step chain with this tokenizer (digits one by one) is longer.
    const long = generateSynthetic({ count: 1, seed: 3, minSteps: 3, maxSteps: 3, maxOperand: 9 });
    const student = await UnifiedStudent.create({ init: join(MODERN_DIR, 'llama'), backend });
    const err = await student.train({ problems: long, chains: long.map((p) => goldChain(p)!) }, overfit).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDataError);
    expect((err as Error).message).toMatch(/tokens but the model holds 128/);
    student.dispose();
  });

  it('an unsupported model_type or a Llama directory without tokenizer.json gets one clear error', async () => {
    const mistral = await copyModernFixture('llama', join(tmp, 'mistral'), { config: (c) => ({ ...c, model_type: 'mistral' }) });
    const e1 = await StudentLM.load(mistral, { backend }).then(() => null, (e: unknown) => e);
    expect(e1).toBeInstanceOf(ModelConfigError);
    expect((e1 as Error).message).toBe(`${join(mistral, 'config.json')}: model_type "mistral" is not supported; supported: gpt2, llama, qwen2, qwen3`);
    const bare = await copyModernFixture('llama', join(tmp, 'bare'));
    rmSync(join(bare, 'tokenizer.json'));
    await expect(StudentLM.load(bare, { backend })).rejects.toThrow(/a llama student needs the model's tokenizer: a tokenizer.json beside its weights/);
    await expect(UnifiedStudent.create({ init: bare, size: { n_embd: 8, n_layer: 1, n_head: 1, n_positions: 8 } })).rejects.toThrow(/either a size .* or `init`/);
  });
});

describe('a Llama student from scratch (the demo\'s --arch llama)', () => {
  it("is in the GPT-2 demo student's parameter class: same width, depth and heads, RoPE instead of learned positions", () => {
    const gpt2 = { model_type: 'gpt2' as const, vocab_size: 200, n_embd: 64, n_layer: 2, n_head: 4, n_positions: 256 };
    const size = llamaStudentSize(gpt2);
    expect(size).toMatchObject({ model_type: 'llama', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 192, max_position_embeddings: 256, tie_word_embeddings: true });
    const llama = { ...size, vocab_size: 200 };
    const layout = paramLayout(llama as never);
    expect(layout.some((s) => /position|wpe/.test(s.name))).toBe(false);
    // Per layer the matrices are GPT-2's 12 C^2 exactly (q, o: C^2; k, v: C^2/2; SwiGLU: 9 C^2). GPT-2 has more only in
    // its position table (P C), its biases and LayerNorm biases (13 C per layer vs 2 RMSNorm weights) and ln_f's bias.
    const [C, L, P] = [64, 2, 256];
    expect(countParams(gpt2 as never) - countParams(llama as never)).toBe(P * C + L * 11 * C + C);
  });

  it('trains on a trimmed vocabulary, solves, saves config.json (llama) + trimmed_vocab.json, and loads back', async () => {
    const backend = await selectBackend('auto');
    const size = llamaStudentSize({ n_embd: 48, n_layer: 2, n_head: 2, n_positions: 160 });
    const tokenizer = tokenizerForTexts(trainingTexts(data, ['unified']));
    const student = await UnifiedStudent.create({ size, tokenizer, backend, seed: 1 });
    expect(student.lm.config).toMatchObject({ model_type: 'llama', vocab_size: tokenizer.vocabSize, eos_token_id: tokenizer.eosId });
    await student.train(data, { batchSize: 4, maxSteps: 120, lr: 5e-3, warmupSteps: 10, seed: 0 });
    const solved = await student.solveMany(problems);
    expect(solved.map((s) => s.answer)).toEqual(gold);
    const dir = join(tmp, 'scratch-llama');
    await student.save(dir);
    student.dispose();
    expect(files(dir)).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'student.json', 'trimmed_vocab.json']);
    expect(readJson(join(dir, 'config.json'))).toMatchObject({ model_type: 'llama', architectures: ['LlamaForCausalLM'] });
    const loaded = await loadStudent(dir, backend);
    expect((await loaded.solveMany(problems)).map((s) => s.text)).toEqual(solved.map((s) => s.text));
    loaded.dispose();
    // Plain GPT-2 BPE (no trimmed vocabulary) has no tokenizer file to save beside a llama: refused up front.
    const { Tokenizer } = await import('../src/tokenizer/index.js');
    await expect(StudentLM.create(size, new Tokenizer(), { backend })).rejects.toThrow(ModelConfigError);
  });
});
