/**
 * HF Llama-family checkpoints in and out, without a core: config.json (rope_theta and rope_parameters), single and
 * sharded safetensors in F32 / BF16 / F16, the tokenizer and generation files, EOS resolution, and save -> load.
 * Hostile directories (shard names outside the directory, missing or misplaced tensors, dtypes or shapes that
 * disagree with config.json) are in model-checkpoint-hostile.test.ts.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { archDims, type ModelConfig, parseModelConfig } from '../src/arch/config.js';
import type { NamedTensors } from '../src/arch/tensors.js';
import { ModelConfigError } from '../src/errors.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { checkpointAssets } from '../src/model/assets.js';
import { checkpointFiles, parseCheckpoint } from '../src/model/checkpoint.js';
import { readCheckpoint, writeCheckpoint } from '../src/model/checkpoint-fs.js';
import { HFTokenizer } from '../src/tokenizer/hf-tokenizer.js';
import { encodeAll, type EncodedTensor, safetensorsOf, sameWeights } from './helpers/checkpoints.js';
import { asFloat } from './helpers/fixtures.js';
import { hasModernFixtures, MODERN_DIR } from './helpers/modern.js';

const tmp = mkdtempSync(join(tmpdir(), 'llama-ckpt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SIDE_FILES = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'chat_template.jinja'];
const fixtureDir = (name: string): string => join(MODERN_DIR, name);
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const fileWeights = async (path: string): Promise<NamedTensors> => asFloat((await readSafetensors(path)).tensors);

/** A fresh directory with the fixture's side files and config (edited by `config`), without weights. */
function dirLike(name: string, from: string, config: (c: Record<string, unknown>) => Record<string, unknown> = (c) => c): string {
  const dir = join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of SIDE_FILES) copyFileSync(join(fixtureDir(from), f), join(dir, f));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config(readJson(join(fixtureDir(from), 'config.json'))), null, 2));
  return dir;
}

/** Split tensors into two shards (alternating, so each shard holds tensors of every kind) with an HF index. */
function writeSharded(dir: string, tensors: ReadonlyMap<string, EncodedTensor>): void {
  const names = [...tensors.keys()];
  const shardOf = (i: number): string => `model-0000${(i % 2) + 1}-of-00002.safetensors`;
  const weightMap: Record<string, string> = {};
  names.forEach((n, i) => (weightMap[n] = shardOf(i)));
  for (const shard of [shardOf(0), shardOf(1)]) {
    writeFileSync(join(dir, shard), safetensorsOf(new Map(names.filter((n) => weightMap[n] === shard).map((n) => [n, tensors.get(n)!]))));
  }
  const total = [...tensors.values()].reduce((n, t) => n + t.bytes.length, 0);
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
}

describe.skipIf(!hasModernFixtures)('Llama-family checkpoints: reading', () => {
  it('reads the llama fixture: rope_parameters, tied head (no lm_head), GQA shapes, weights as in the file', async () => {
    const ckpt = await readCheckpoint(fixtureDir('llama'));
    const d = archDims(ckpt.config);
    expect(ckpt.config.model_type).toBe('llama');
    expect(d).toMatchObject({ arch: 'llama', heads: 4, kvHeads: 2, headDim: 16, tied: true, ropeTheta: 10000, qkNorm: false });
    expect(ckpt.weights.has('lm_head.weight')).toBe(false);
    expect(ckpt.weights.get('model.embed_tokens.weight')!.shape).toEqual([1000, 64]);
    expect(ckpt.weights.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([32, 64]);
    expect(sameWeights(ckpt.weights, await fileWeights(join(fixtureDir('llama'), 'model.safetensors')))).toBe(true);
    expect(Object.keys(ckpt.assets ?? {}).sort()).toEqual([...SIDE_FILES].sort());
  });

  it('reads the qwen3 fixture: q/k norms, an untied lm_head, theta 1e6', async () => {
    const ckpt = await readCheckpoint(fixtureDir('qwen3'));
    expect(archDims(ckpt.config)).toMatchObject({ qkNorm: true, tied: false, ropeTheta: 1e6 });
    expect(ckpt.weights.get('lm_head.weight')!.shape).toEqual([1000, 64]);
    expect(ckpt.weights.get('model.layers.1.self_attn.q_norm.weight')!.shape).toEqual([16]);
    expect(sameWeights(ckpt.weights, await fileWeights(join(fixtureDir('qwen3'), 'model.safetensors')))).toBe(true);
  });

  it('reads a top-level rope_theta (checkpoints from before transformers 5, as SmolLM2 and Qwen3 ship) the same', async () => {
    const dir = dirLike('rope-theta', 'qwen3', ({ rope_parameters: _, ...c }) => ({ ...c, rope_theta: 1e6 }));
    copyFileSync(join(fixtureDir('qwen3'), 'model.safetensors'), join(dir, 'model.safetensors'));
    const ckpt = await readCheckpoint(dir);
    expect(archDims(ckpt.config).ropeTheta).toBe(1e6);
    const saved = readJson(await saveTo('rope-theta-saved', ckpt));
    expect(saved.rope_theta).toBe(1e6);
    expect(saved.rope_parameters).toBeUndefined();
  });

  it('loads a bf16 copy to exactly the bf16-rounded weights, and an f16 copy to the f16-rounded ones', async () => {
    const f32 = await fileWeights(join(fixtureDir('llama'), 'model.safetensors'));
    for (const [dtype, torchDtype] of [['BF16', 'bfloat16'], ['F16', 'float16']] as const) {
      const { tensors, expected } = encodeAll(f32, dtype);
      const dir = dirLike(`half-${dtype}`, 'llama', ({ dtype: _, ...c }) => ({ ...c, torch_dtype: torchDtype }));
      writeFileSync(join(dir, 'model.safetensors'), safetensorsOf(tensors));
      const ckpt = await readCheckpoint(dir);
      expect(sameWeights(ckpt.weights, expected), dtype).toBe(true);
      // The rounding really happened (the copy is not the f32 file).
      expect(sameWeights(ckpt.weights, f32), dtype).toBe(false);
      // Saved back as float32, declared so.
      const saved = await saveTo(`half-${dtype}-saved`, ckpt);
      expect(readJson(saved).torch_dtype).toBe('float32');
      expect(sameWeights((await readCheckpoint(join(tmp, `half-${dtype}-saved`))).weights, expected)).toBe(true);
    }
  });

  it('loads a sharded copy (2 shards + model.safetensors.index.json) to identical weights, from disk and from memory', async () => {
    const single = await readCheckpoint(fixtureDir('qwen3'));
    const { tensors } = encodeAll(await fileWeights(join(fixtureDir('qwen3'), 'model.safetensors')), 'F32');
    const dir = dirLike('sharded', 'qwen3');
    writeSharded(dir, tensors);
    const sharded = await readCheckpoint(dir);
    expect(sameWeights(sharded.weights, single.weights)).toBe(true);
    expect([...sharded.weights.keys()]).toEqual([...single.weights.keys()]);
    const index = readJson(join(dir, 'model.safetensors.index.json'));
    const shards = Object.fromEntries(
      ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'].map((s) => [s, new Uint8Array(readFileSync(join(dir, s)))]),
    );
    const inMemory = parseCheckpoint({ config: readJson(join(dir, 'config.json')), index, shards }, 'https://example.test/qwen3');
    expect(sameWeights(inMemory.weights, single.weights)).toBe(true);
  });
});

/** writeCheckpoint into tmp/name; returns the path of its config.json. */
async function saveTo(name: string, ckpt: Awaited<ReturnType<typeof readCheckpoint>>): Promise<string> {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  await writeCheckpoint(dir, ckpt);
  return join(dir, 'config.json');
}

describe.skipIf(!hasModernFixtures)('Llama-family checkpoints: saving', () => {
  it.each(['llama', 'qwen3'])('%s: save -> load gives byte-identical weights, an HF config and the tokenizer files', async (name) => {
    const ckpt = await readCheckpoint(fixtureDir(name));
    const configPath = await saveTo(`saved-${name}`, ckpt);
    const dir = join(tmp, `saved-${name}`);
    // The weights file is byte for byte what transformers' save_pretrained wrote for the fixture.
    expect(Buffer.compare(readFileSync(join(dir, 'model.safetensors')), readFileSync(join(fixtureDir(name), 'model.safetensors')))).toBe(0);
    const config = readJson(configPath);
    const original = readJson(join(fixtureDir(name), 'config.json'));
    expect(config.architectures).toEqual(original.architectures);
    expect(config.model_type).toBe(name);
    expect(config.torch_dtype).toBe('float32');
    // HF defaults that differ between model types are written out, so transformers builds the same shapes.
    expect(config).toMatchObject({ head_dim: 16, num_key_value_heads: 2, tie_word_embeddings: name === 'llama', rope_parameters: original.rope_parameters });
    expect(parseModelConfig(config, 'saved')).toEqual({ ...ckpt.config, torch_dtype: 'float32' });
    for (const f of SIDE_FILES) expect(readFileSync(join(dir, f), 'utf8'), f).toBe(readFileSync(join(fixtureDir(name), f), 'utf8'));
    const back = await readCheckpoint(dir);
    expect(sameWeights(back.weights, ckpt.weights)).toBe(true);
    expect(back.assets).toEqual(ckpt.assets);
    // And once more: a second save is identical to the first.
    const files = checkpointFiles(back);
    expect(Buffer.compare(Buffer.from(files.safetensors), readFileSync(join(dir, 'model.safetensors')))).toBe(0);
    expect(files.configJson).toBe(readFileSync(configPath, 'utf8'));
  });

  it('a save removes side files and a shard index the model does not have (they would describe another model)', async () => {
    const { tensors } = encodeAll(await fileWeights(join(fixtureDir('llama'), 'model.safetensors')), 'F32');
    const dir = dirLike('stale', 'llama');
    writeSharded(dir, tensors);
    const ckpt = await readCheckpoint(dir);
    writeFileSync(join(dir, 'special_tokens_map.json'), '{}'); // stale: not part of the model being saved
    const { 'chat_template.jinja': _, ...assets } = ckpt.assets!;
    await writeCheckpoint(dir, { ...ckpt, assets });
    const back = await readCheckpoint(dir);
    expect(Object.keys(back.assets!).sort()).toEqual(['generation_config.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(sameWeights(back.weights, ckpt.weights)).toBe(true);
    expect(() => readFileSync(join(dir, 'model.safetensors.index.json'))).toThrow(/ENOENT/);
  });
});

describe.skipIf(!hasModernFixtures)('Llama-family checkpoints: tokenizer and special ids', () => {
  const withFiles = async (name: string, edit: (assets: Record<string, string>, config: ModelConfig) => ModelConfig | void) => {
    const ckpt = await readCheckpoint(fixtureDir('llama'));
    const assets = { ...ckpt.assets! };
    const config = edit(assets, ckpt.config) ?? ckpt.config;
    return checkpointAssets({ ...ckpt, config, assets }, name);
  };

  it("keeps the model's own tokenizer and special tokens", async () => {
    const assets = checkpointAssets(await readCheckpoint(fixtureDir('llama')), fixtureDir('llama'));
    expect(assets.tokenizer).toBeInstanceOf(HFTokenizer);
    expect(assets.tokenizer!.vocabSize).toBe(1000);
    expect(assets.tokenizer!.encode('x<|endoftext|>y')).toEqual([90, 0, 91]);
    expect(assets.eosIds).toEqual([0]);
    expect(assets.padId).toBe(0);
    expect(assets.vocab).toBeUndefined();
  });

  it('EOS comes from generation_config.json, then config.json, then tokenizer_config.json', async () => {
    const gen = (eos: unknown) => JSON.stringify({ eos_token_id: eos, pad_token_id: 1 });
    expect((await withFiles('gen', (a) => void (a['generation_config.json'] = gen([2, 0])))).eosIds).toEqual([2, 0]);
    const fromGen = await withFiles('gen', (a) => void (a['generation_config.json'] = gen(2)));
    expect([fromGen.eosIds, fromGen.padId, fromGen.tokenizer!.eosId]).toEqual([[2], 1, 2]);
    const fromConfig = await withFiles('config', (a, c) => {
      delete a['generation_config.json'];
      return { ...c, eos_token_id: 1 } as ModelConfig;
    });
    expect(fromConfig.eosIds).toEqual([1]);
    const fromTokenizer = await withFiles('tokenizer', (a, c) => {
      delete a['generation_config.json'];
      a['tokenizer_config.json'] = JSON.stringify({ eos_token: '<|im_end|>' });
      return { ...c, eos_token_id: null, pad_token_id: null } as ModelConfig;
    });
    expect([fromTokenizer.eosIds, fromTokenizer.padId]).toEqual([[2], 2]);
  });

  it('a model without tokenizer files has none, and keeps its config EOS', async () => {
    const none = await withFiles('none', (a) => {
      for (const f of Object.keys(a)) delete a[f];
    });
    expect(none.tokenizer).toBeUndefined();
    expect(none.eosIds).toEqual([0]);
  });

  it('bad side files are ModelConfigErrors naming the file', async () => {
    await expect(withFiles('/m/badgen', (a) => void (a['generation_config.json'] = '{'))).rejects.toThrow(/\/m\/badgen\/generation_config\.json: not valid JSON/);
    await expect(withFiles('/m/badgen2', (a) => void (a['generation_config.json'] = '{"eos_token_id": "x"}'))).rejects.toThrow(
      /\/m\/badgen2\/generation_config\.json: invalid at eos_token_id/,
    );
    await expect(withFiles('/m/badtok', (a) => void (a['tokenizer.json'] = '[]'))).rejects.toThrow(/\/m\/badtok\/tokenizer\.json: invalid/);
    // A tokenizer with more ids than the embedding has rows would index past it.
    await expect(withFiles('/m/small', (_a, c) => ({ ...c, vocab_size: 500 }) as ModelConfig)).rejects.toThrow(
      /\/m\/small\/tokenizer\.json: the tokenizer has 1000 ids but config\.json's vocab_size is 500/,
    );
    await expect(withFiles('/m/x', () => undefined)).resolves.toBeDefined();
    await expect(withFiles('/m/badtok', (a) => void (a['tokenizer.json'] = '[]'))).rejects.toBeInstanceOf(ModelConfigError);
  });
});
