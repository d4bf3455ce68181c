/**
 * CausalLM, the one model class: GPT-2 through it, and the Llama family end to end (load, logits, bf16 and sharded
 * copies, generation through its own tokenizer, save -> load, create with an HF tokenizer) on the tfjs core once it
 * runs Llama, and until then on a float64 JS reference core (test/helpers/reference-llama.ts) whose logits are
 * checked against the HF fixture first.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/arch/config.js';
import type { NamedTensors } from '../src/arch/tensors.js';
import { ModelConfigError } from '../src/errors.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { createdAssets, filesToSave } from '../src/model/assets.js';
import { CausalLM, sizedConfig } from '../src/model/causal-lm.js';
import { GPT2 } from '../src/model/gpt2.js';
import { HFTokenizer } from '../src/tokenizer/hf-tokenizer.js';
import { Tokenizer } from '../src/tokenizer/tokenizer.js';
import { TrimmedVocab } from '../src/tokenizer/trimmed-vocab.js';
import { encodeAll, safetensorsOf, sameWeights } from './helpers/checkpoints.js';
import { asFloat, FIXTURE_DIR, fixtureBatchJson, hasFixtures, maxAbsDiff } from './helpers/fixtures.js';
import { hasModernFixtures, loadModernFixture, MODERN_DIR, modelLastFourReal, type ModernName } from './helpers/modern.js';
import { referenceBackend } from './helpers/reference-llama.js';

const tmp = mkdtempSync(join(tmpdir(), 'causal-lm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const BACKEND = 'tfjs-cpu';
const modern = (name: string): string => join(MODERN_DIR, name);
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

/** Whether the tfjs core runs Llama-family models yet (its branch adds it); anything else that fails is a real failure. */
async function llamaCoreRuns(): Promise<boolean> {
  if (!hasModernFixtures) return false;
  try {
    (await CausalLM.load(modern('llama'), { backend: BACKEND })).dispose();
    return true;
  } catch (err) {
    if (/does not run (llama|qwen\d) models yet/.test((err as Error).message)) return false;
    throw err;
  }
}
const LLAMA_CORE = await llamaCoreRuns();
const LLAMA_BACKEND = LLAMA_CORE ? BACKEND : referenceBackend;
const LLAMA_LABEL = LLAMA_CORE ? BACKEND : 'float64 reference core (the tfjs core does not run Llama yet)';

const last4 = modelLastFourReal;

const fixtureLogits = async (name: ModernName): Promise<Float32Array> =>
  (await readSafetensors(join(modern(name), 'outputs.safetensors'))).tensors.get('logits_last4_real')!.data as Float32Array;

/** A copy of a fixture directory with other weights (and config edits). */
function copyWith(name: string, from: ModernName, weights: Uint8Array, config: (c: Record<string, unknown>) => Record<string, unknown> = (c) => c): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(join(modern(from), f), join(dir, f));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config(readJson(join(modern(from), 'config.json')))));
  writeFileSync(join(dir, 'model.safetensors'), weights);
  return dir;
}

describe.skipIf(!hasFixtures)('CausalLM runs GPT-2 as GPT2 does', () => {
  it('loads the GPT-2 fixture to the same logits as GPT2.load; a GPT2 is a CausalLM', async () => {
    const b = fixtureBatchJson();
    const lm = await CausalLM.load(FIXTURE_DIR, { backend: BACKEND });
    const gpt2 = await GPT2.load(FIXTURE_DIR, { backend: BACKEND });
    try {
      expect(gpt2).toBeInstanceOf(CausalLM);
      expect(lm.config.model_type).toBe('gpt2');
      expect(lm.tokenizer).toBeInstanceOf(Tokenizer);
      expect([lm.eosId, lm.eosIds, lm.padId]).toEqual([50256, [50256], 50256]);
      expect(lm.info.backend).toBe(BACKEND);
      const a = await lm.forward(b.input_ids, { attentionMask: b.attention_mask });
      const g = await gpt2.forward(b.input_ids, { attentionMask: b.attention_mask });
      expect(maxAbsDiff(await a.data(), await g.data())).toBe(0);
      a.dispose();
      g.dispose();
      expect(sameWeights(await lm.training.getWeights(), await gpt2.training.getWeights())).toBe(true);
    } finally {
      lm.dispose();
      gpt2.dispose();
    }
  });
});

describe.skipIf(!hasModernFixtures)('CausalLM without a Llama core: what is checked before one is built', () => {
  it('GPT2.load refuses a Llama-family directory and points to CausalLM', async () => {
    await expect(GPT2.load(modern('llama'), { backend: BACKEND })).rejects.toThrow(/llama checkpoint; load it with CausalLM\.load/);
  });

  it('a Llama config created for an HF tokenizer takes its vocabulary size and EOS/pad ids where it names none', () => {
    const tok = HFTokenizer.fromJSON(readJson(join(modern('tokenizer-bpe'), 'tokenizer.json')), readJson(join(modern('tokenizer-bpe'), 'tokenizer_config.json')), { eosIds: [2, 0] });
    const base = { model_type: 'llama', hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 64 };
    const config = parseModelConfig(sizedConfig(base as never, { tokenizer: tok }), 'test');
    expect(config).toMatchObject({ vocab_size: 1000, eos_token_id: [2, 0], pad_token_id: 0 });
    const assets = createdAssets(config, { tokenizer: tok });
    expect([assets.eosIds, assets.padId]).toEqual([[2, 0], 0]);
    // Saved beside it: the tokenizer files and a generation_config.json with the same ids.
    const files = filesToSave(config, assets)!;
    expect(Object.keys(files).sort()).toEqual(['generation_config.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(JSON.parse(files['generation_config.json']!)).toMatchObject({ eos_token_id: [2, 0], pad_token_id: 0 });
    expect(HFTokenizer.fromJSON(files['tokenizer.json'], files['tokenizer_config.json']).encode('x<|endoftext|>y')).toEqual([90, 0, 91]);
    // A trimmed vocabulary (a from-scratch student's, GPT-2 or Llama) must size the model; GPT-2 BPE alone is for GPT-2.
    expect(() => createdAssets(config, { vocab: TrimmedVocab.fromCorpus(['a']) })).toThrow(/the trimmed vocabulary has 2 ids but the model's vocab_size is 1000/);
    expect(() => createdAssets(config, { tokenizer: new Tokenizer() })).toThrow(ModelConfigError);
    const gpt2 = parseModelConfig({ vocab_size: 1000, n_positions: 8, n_embd: 8, n_layer: 1, n_head: 1 }, 'test');
    expect(() => createdAssets(gpt2, { tokenizer: tok })).toThrow(/an HF tokenizer\.json needs a Llama-family config/);
    expect(() => createdAssets({ ...config, vocab_size: 10 }, { tokenizer: tok })).toThrow(/the tokenizer has 1000 ids but the config's vocab_size is 10/);
    expect(() => createdAssets({ ...config, eos_token_id: 1 }, { tokenizer: tok })).toThrow(/eos_token_id \[1\] differs from the tokenizer's EOS ids \[2,0\]/);
  });
});

describe.skipIf(!hasModernFixtures)(`CausalLM on Llama-family checkpoints (${LLAMA_LABEL})`, () => {
  it.each(['llama', 'qwen3'] as const)('%s: loads the HF directory and reproduces its logits (5e-5), with its own tokenizer', async (name) => {
    const model = await CausalLM.load(modern(name), { backend: LLAMA_BACKEND });
    try {
      expect(model.config.model_type).toBe(name);
      expect(model.tokenizer).toBeInstanceOf(HFTokenizer);
      expect([model.eosIds, model.padId]).toEqual([[0], 0]);
      expect(maxAbsDiff(await last4(model, name), await fixtureLogits(name))).toBeLessThan(5e-5);
    } finally {
      model.dispose();
    }
  });

  it('a bf16 copy gives the logits of its rounded weights exactly, and the f32 logits within bf16 rounding', async () => {
    const f32: NamedTensors = asFloat((await readSafetensors(join(modern('llama'), 'model.safetensors'))).tensors);
    const { tensors, expected } = encodeAll(f32, 'BF16');
    const bf16Dir = copyWith('bf16', 'llama', safetensorsOf(tensors), ({ dtype: _, ...c }) => ({ ...c, torch_dtype: 'bfloat16' }));
    const roundedDir = copyWith('bf16-as-f32', 'llama', safetensorsOf(encodeAll(expected, 'F32').tensors));
    const bf16 = await CausalLM.load(bf16Dir, { backend: LLAMA_BACKEND });
    const rounded = await CausalLM.load(roundedDir, { backend: LLAMA_BACKEND });
    try {
      const logits = await last4(bf16, 'llama');
      expect(maxAbsDiff(logits, await last4(rounded, 'llama'))).toBeLessThanOrEqual(1e-6);
      // bf16 weights move these logits (|logit| <= 3.6) by up to 0.061 from HF's f32 ones (measured with a float64
      // numpy forward of the same rounded weights); 0.1 bounds it, while a wrong widening would be off by whole units.
      const diff = maxAbsDiff(logits, await fixtureLogits('llama'));
      expect(diff).toBeLessThan(0.1);
      expect(diff).toBeGreaterThan(1e-4); // the copy really is bf16
    } finally {
      bf16.dispose();
      rounded.dispose();
    }
  });

  it('a sharded copy gives identical weights and logits', async () => {
    const { tensors } = encodeAll(asFloat((await readSafetensors(join(modern('qwen3'), 'model.safetensors'))).tensors), 'F32');
    const dir = copyWith('sharded', 'qwen3', new Uint8Array(0));
    rmSync(join(dir, 'model.safetensors'));
    const names = [...tensors.keys()];
    const shard = (i: number): string => `model-0000${(i % 2) + 1}-of-00002.safetensors`;
    const weightMap = Object.fromEntries(names.map((n, i) => [n, shard(i)]));
    for (const s of [shard(0), shard(1)]) writeFileSync(join(dir, s), safetensorsOf(new Map(names.filter((n) => weightMap[n] === s).map((n) => [n, tensors.get(n)!]))));
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const sharded = await CausalLM.load(dir, { backend: LLAMA_BACKEND });
    const single = await CausalLM.load(modern('qwen3'), { backend: LLAMA_BACKEND });
    try {
      expect(sameWeights(await sharded.training.getWeights(), await single.training.getWeights())).toBe(true);
      expect(maxAbsDiff(await last4(sharded, 'qwen3'), await last4(single, 'qwen3'))).toBe(0);
    } finally {
      sharded.dispose();
      single.dispose();
    }
  });

  it('greedy generation matches HF generate, and generateText goes through the model tokenizer', async () => {
    const fx = await loadModernFixture('llama');
    const model = await CausalLM.load(modern('llama'), { backend: LLAMA_BACKEND });
    try {
      const { prompt } = fx.generate.single;
      const want = (fx.generate.single as unknown as { new_tokens: number[] }).new_tokens;
      expect(await model.generate([prompt], { maxNewTokens: want.length, eosTokenId: null })).toEqual([want]);
      // Left-padded batch (the pad id is also the EOS here, so EOS stopping is off as in the fixture).
      const batch = fx.generate.batch_left_padded as unknown as { input_ids: number[][]; attention_mask: number[][]; new_tokens: number[][] };
      expect(await model.generate(batch.input_ids, { attentionMask: batch.attention_mask, maxNewTokens: 20, eosTokenId: null })).toEqual(batch.new_tokens);
      // Unpadded rows of different lengths are left-padded by generate itself, to the same tokens.
      const unpadded = batch.input_ids.map((r, b) => r.filter((_, t) => batch.attention_mask[b]![t] === 1));
      expect(await model.generate(unpadded, { maxNewTokens: 20, eosTokenId: null })).toEqual(batch.new_tokens);
      const tok = model.tokenizer!;
      const text = tok.decode(prompt);
      expect(tok.encode(text)).toEqual(prompt);
      expect(await model.generateText([text], { maxNewTokens: want.length, eosTokenId: null })).toEqual([tok.decode(want)]);
    } finally {
      model.dispose();
    }
  });

  it.each(['llama', 'qwen3'] as const)('%s: save -> load keeps weights bit for bit, logits, tokenizer and EOS', async (name) => {
    const model = await CausalLM.load(modern(name), { backend: LLAMA_BACKEND });
    const dir = join(tmp, `saved-${name}`);
    try {
      await model.save(dir);
      const files = await model.toCheckpointFiles();
      expect(Object.keys(files.assets ?? {}).sort()).toEqual(['chat_template.jinja', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']);
      const back = await CausalLM.load(dir, { backend: LLAMA_BACKEND });
      const again = await CausalLM.fromCheckpointFiles(
        { config: JSON.parse(files.configJson), safetensors: files.safetensors, ...(files.assets ? { assets: files.assets } : {}) },
        { backend: LLAMA_BACKEND, where: 'memory' },
      );
      try {
        for (const other of [back, again]) {
          expect(sameWeights(await other.training.getWeights(), await model.training.getWeights())).toBe(true);
          expect(maxAbsDiff(await last4(other, name), await last4(model, name))).toBe(0);
          expect(other.eosIds).toEqual(model.eosIds);
          expect(other.tokenizer!.encode('x<|im_end|>y 12')).toEqual(model.tokenizer!.encode('x<|im_end|>y 12'));
        }
      } finally {
        back.dispose();
        again.dispose();
      }
    } finally {
      model.dispose();
    }
  });

  it('creates a seeded Llama for an HF tokenizer, saves it with the tokenizer files, and loads it back', async () => {
    const tok = HFTokenizer.fromJSON(readJson(join(modern('tokenizer-bpe'), 'tokenizer.json')), readJson(join(modern('tokenizer-bpe'), 'tokenizer_config.json')));
    const config = { model_type: 'qwen3', hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, vocab_size: 1000 } as const;
    const a = await CausalLM.create(config, { backend: LLAMA_BACKEND, seed: 5, tokenizer: tok });
    const dir = join(tmp, 'created');
    try {
      expect(a.tokenizer).toBe(tok);
      await a.save(dir);
      const saved = readJson(join(dir, 'config.json'));
      expect(saved).toMatchObject({ architectures: ['Qwen3ForCausalLM'], head_dim: 8, num_key_value_heads: 2, eos_token_id: 0, torch_dtype: 'float32' });
      const b = await CausalLM.load(dir, { backend: LLAMA_BACKEND });
      try {
        expect(sameWeights(await b.training.getWeights(), await a.training.getWeights())).toBe(true);
        expect(b.tokenizer!.encode('Question: 12 + 3?')).toEqual(tok.encode('Question: 12 + 3?'));
        expect(b.eosIds).toEqual([0]);
      } finally {
        b.dispose();
      }
    } finally {
      a.dispose();
    }
  });
});
