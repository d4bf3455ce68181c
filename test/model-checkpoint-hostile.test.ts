/**
 * Hostile checkpoint directories (beside the safetensors hostile cases of safetensors.test.ts): each gets a typed
 * ModelConfigError that names the file at fault, never a crash, and a shard index never makes the loader read a file
 * outside the checkpoint directory.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NamedTensors } from '../src/arch/tensors.js';
import { ModelConfigError } from '../src/errors.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { parseCheckpoint } from '../src/model/checkpoint.js';
import { readCheckpoint } from '../src/model/checkpoint-fs.js';
import { isPlainFileName } from '../src/model/checkpoint-shards.js';
import { encodeAll, type EncodedTensor, safetensorsOf } from './helpers/checkpoints.js';
import { asFloat } from './helpers/fixtures.js';
import { hasModernFixtures, MODERN_DIR } from './helpers/modern.js';

const root = mkdtempSync(join(tmpdir(), 'hostile-ckpt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const LLAMA = join(MODERN_DIR, 'llama');
const SHARD_A = 'model-00001-of-00002.safetensors';
const SHARD_B = 'model-00002-of-00002.safetensors';

let weights: NamedTensors;
let encoded: Map<string, EncodedTensor>;
async function fixture(): Promise<void> {
  weights ??= asFloat((await readSafetensors(join(LLAMA, 'model.safetensors'))).tensors);
  encoded ??= encodeAll(weights, 'F32').tensors;
}

/** A directory with the llama fixture's config (edited) and no weights yet; `ckpt/` inside a parent we also control. */
function freshDir(name: string, config: (c: Record<string, unknown>) => Record<string, unknown> = (c) => c): string {
  const dir = join(root, name, 'ckpt');
  rmSync(join(root, name), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const json = JSON.parse(readFileSync(join(LLAMA, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config(json)));
  return dir;
}

/** model.safetensors from the fixture tensors with `edit` applied. */
function writeSingle(dir: string, edit: (t: Map<string, EncodedTensor>) => void): void {
  const t = new Map(encoded);
  edit(t);
  writeFileSync(join(dir, 'model.safetensors'), safetensorsOf(t));
}

/** Two shards split by name parity and an index whose weight_map `edit` may change. */
function writeShards(dir: string, edit: (map: Record<string, string>) => void = () => {}): Record<string, string> {
  const names = [...encoded.keys()];
  const map: Record<string, string> = {};
  names.forEach((n, i) => (map[n] = i % 2 ? SHARD_B : SHARD_A));
  for (const shard of [SHARD_A, SHARD_B]) writeFileSync(join(dir, shard), safetensorsOf(new Map(names.filter((n) => map[n] === shard).map((n) => [n, encoded.get(n)!]))));
  edit(map);
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: map }));
  return map;
}

async function expectRefused(dir: string, message: RegExp, file: string): Promise<void> {
  let caught: unknown;
  try {
    await readCheckpoint(dir);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'must throw').toBeInstanceOf(ModelConfigError);
  const text = (caught as Error).message;
  expect(text).toMatch(message);
  expect(text, 'names the file').toContain(join(dir, file));
}

describe('shard names', () => {
  it('only plain file names inside the directory are shards', () => {
    expect([SHARD_A, 'weights.safetensors', 'a..b.safetensors'].every(isPlainFileName)).toBe(true);
    expect(['', '.', '..', '../x.safetensors', '/etc/passwd', 'sub/x.safetensors', '..\\x.safetensors', 'C:x.safetensors', 'x\0.safetensors'].some(isPlainFileName)).toBe(false);
  });
});

describe.skipIf(!hasModernFixtures)('hostile checkpoint directories', () => {
  it('a weight_map naming ../x is refused before anything is read (a valid shard waits there)', async () => {
    await fixture();
    const dir = freshDir('dotdot');
    const map = writeShards(dir);
    // A complete, valid shard just outside the directory: reading it would make the load succeed.
    writeFileSync(join(dir, '..', 'outside.safetensors'), safetensorsOf(new Map([...encoded].filter(([n]) => map[n] === SHARD_B))));
    writeShards(dir, (m) => {
      for (const n of Object.keys(m)) if (m[n] === SHARD_B) m[n] = '../outside.safetensors';
    });
    await expectRefused(dir, /weight_map puts '.*' in "\.\.\/outside\.safetensors", which is not a file name inside the checkpoint directory/, 'model.safetensors.index.json');
  });

  it('a weight_map naming an absolute path is refused', async () => {
    await fixture();
    const dir = freshDir('absolute');
    const elsewhere = join(root, 'absolute', 'elsewhere.safetensors');
    writeShards(dir, (m) => {
      for (const n of Object.keys(m)) if (m[n] === SHARD_B) m[n] = elsewhere;
    });
    writeFileSync(elsewhere, readFileSync(join(dir, SHARD_B)));
    await expectRefused(dir, /not a file name inside the checkpoint directory/, 'model.safetensors.index.json');
  });

  it('a tensor the index lists but no shard holds', async () => {
    await fixture();
    const dir = freshDir('missing-everywhere');
    writeShards(dir, (m) => void (m['model.layers.9.mlp.up_proj.weight'] = SHARD_A));
    await expectRefused(dir, /tensor 'model\.layers\.9\.mlp\.up_proj\.weight' is missing from every shard/, 'model.safetensors.index.json');
  });

  it('a parameter in no shard and not in the index', async () => {
    await fixture();
    const dir = freshDir('missing-param');
    const names = [...encoded.keys()];
    const dropped = 'model.layers.1.mlp.down_proj.weight';
    const kept = names.filter((n) => n !== dropped);
    writeFileSync(join(dir, SHARD_A), safetensorsOf(new Map(kept.map((n) => [n, encoded.get(n)!]))));
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: Object.fromEntries(kept.map((n) => [n, SHARD_A])) }));
    await expectRefused(dir, /missing tensor 'model\.layers\.1\.mlp\.down_proj\.weight'/, 'model.safetensors.index.json');
  });

  it('a tensor in another shard than the index says, or in a shard but not in the index', async () => {
    await fixture();
    const moved = freshDir('moved');
    writeShards(moved, (m) => void (m['model.norm.weight'] = m['model.norm.weight'] === SHARD_A ? SHARD_B : SHARD_A));
    await expectRefused(moved, /holds tensor 'model\.norm\.weight', which .*index\.json puts in model-0000/, 'model-0000');
    const unlisted = freshDir('unlisted');
    writeShards(unlisted, (m) => void delete m['model.norm.weight']);
    await expectRefused(unlisted, /tensor 'model\.norm\.weight' is not in the weight_map/, 'model-0000');
  });

  it('a shard the index names that is not there, and an index that is not an index', async () => {
    await fixture();
    const gone = freshDir('gone');
    writeShards(gone);
    rmSync(join(gone, SHARD_B));
    await expectRefused(gone, /cannot load the weights: .*model-00002-of-00002\.safetensors: cannot read file/, SHARD_B);
    const notJson = freshDir('not-json');
    writeFileSync(join(notJson, 'model.safetensors.index.json'), '{"weight_map": ');
    await expectRefused(notJson, /not valid JSON/, 'model.safetensors.index.json');
    const noMap = freshDir('no-map');
    writeFileSync(join(noMap, 'model.safetensors.index.json'), JSON.stringify({ weight_map: ['x'] }));
    await expectRefused(noMap, /not a shard index: weight_map/, 'model.safetensors.index.json');
    const nothing = freshDir('nothing');
    await expectRefused(nothing, /no model\.safetensors nor model\.safetensors\.index\.json/, '');
  });

  it('embed_tokens not [vocab, hidden] (here transposed), and a k_proj sized for MHA instead of GQA', async () => {
    await fixture();
    const transposed = freshDir('transposed');
    writeSingle(transposed, (t) => t.set('model.embed_tokens.weight', { ...t.get('model.embed_tokens.weight')!, shape: [64, 1000] }));
    await expectRefused(transposed, /tensor 'model\.embed_tokens\.weight' has shape \[64, 1000\] but config\.json implies \[1000, 64\]/, 'model.safetensors');
    const mha = freshDir('mha', (c) => ({ ...c, num_key_value_heads: 4 }));
    writeSingle(mha, () => {});
    await expectRefused(mha, /tensor 'model\.layers\.0\.self_attn\.k_proj\.weight' has shape \[32, 64\] but config\.json implies \[64, 64\]/, 'model.safetensors');
  });

  it('a dtype that disagrees with config.json, an integer tensor, an unsupported torch_dtype', async () => {
    await fixture();
    const declaredBf16 = freshDir('declared-bf16', ({ dtype: _, ...c }) => ({ ...c, torch_dtype: 'bfloat16' }));
    writeSingle(declaredBf16, () => {});
    await expectRefused(declaredBf16, /tensor 'model\.embed_tokens\.weight' is F32 but .*config\.json declares BF16 weights/, 'model.safetensors');
    const integer = freshDir('integer');
    writeSingle(integer, (t) => t.set('model.norm.weight', { ...t.get('model.norm.weight')!, dtype: 'I32' }));
    await expectRefused(integer, /tensor 'model\.norm\.weight' has dtype I32; weights must be floating point/, 'model.safetensors');
    const quantized = freshDir('quantized', (c) => ({ ...c, dtype: 'int8' }));
    writeSingle(quantized, () => {});
    await expectRefused(quantized, /torch_dtype "int8" is not supported/, 'config.json');
  });

  it('a tied head that differs from the embedding, a trimmed vocabulary beside a llama tokenizer, an unsupported model_type', async () => {
    await fixture();
    const head = freshDir('head');
    writeSingle(head, (t) => {
      const data = Float32Array.from(weights.get('model.embed_tokens.weight')!.data);
      data[7] += 1;
      t.set('lm_head.weight', { dtype: 'F32', shape: [1000, 64], bytes: new Uint8Array(data.buffer) });
    });
    await expectRefused(head, /'lm_head\.weight' differs from model\.embed_tokens\.weight at element 7 .* \(set tie_word_embeddings false/, 'model.safetensors');
    // A trimmed vocabulary is a from-scratch student's; beside the model's own tokenizer.json it is refused.
    const trimmed = freshDir('trimmed');
    writeSingle(trimmed, () => {});
    copyFileSync(join(LLAMA, 'tokenizer.json'), join(trimmed, 'tokenizer.json'));
    writeFileSync(join(trimmed, 'trimmed_vocab.json'), JSON.stringify({ format: 'socratic-distill/trimmed-vocab', version: 1, gpt2Ids: [50256], unk: false }));
    await expectRefused(trimmed, /a llama model has either its own tokenizer\.json \(pretrained\) or a trimmed vocabulary \(a from-scratch student\), not both/, 'trimmed_vocab.json');
    // Alone, it must cover config.json's vocab_size.
    rmSync(join(trimmed, 'tokenizer.json'));
    await expectRefused(trimmed, /the trimmed vocabulary has 1 ids but .*config\.json says vocab_size 1000/, 'trimmed_vocab.json');
    const mistral = freshDir('mistral', (c) => ({ ...c, model_type: 'mistral' }));
    copyFileSync(join(LLAMA, 'model.safetensors'), join(mistral, 'model.safetensors'));
    await expectRefused(mistral, /model_type "mistral" is not supported; supported: gpt2, llama, qwen2, qwen3/, 'config.json');
    const llama3 = freshDir('llama3', (c) => ({ ...c, rope_parameters: { rope_type: 'llama3', rope_theta: 5e5, factor: 32 } }));
    await expectRefused(llama3, /rope type "llama3" is not supported/, 'config.json');
  });

  it('in memory: a shard missing from the files given, and a hostile index', async () => {
    await fixture();
    const config = JSON.parse(readFileSync(join(LLAMA, 'config.json'), 'utf8')) as unknown;
    const where = 'https://example.test/m';
    const index = { weight_map: Object.fromEntries([...encoded.keys()].map((n) => [n, SHARD_A])) };
    expect(() => parseCheckpoint({ config, index, shards: {} }, where)).toThrow(/https:\/\/example\.test\/m\/model\.safetensors\.index\.json: shard model-00001-of-00002\.safetensors is not among the files given/);
    const hostile = { weight_map: { 'model.norm.weight': '../../secret' } };
    expect(() => parseCheckpoint({ config, index: hostile, shards: { '../../secret': new Uint8Array(8) } }, where)).toThrow(ModelConfigError);
    expect(() => parseCheckpoint({ config }, where)).toThrow(/https:\/\/example\.test\/m: no model\.safetensors nor/);
  });
});
