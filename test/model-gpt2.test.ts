import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NamedTensors } from '../src/backend/types.js';
import { ModelConfigError } from '../src/errors.js';
import { serializeSafetensors } from '../src/io/safetensors.js';
import { selectBackend } from '../src/backend/select.js';
import { GPT2 } from '../src/model/gpt2.js';
import { TrimmedVocab } from '../src/tokenizer/trimmed-vocab.js';
import { FIXTURE_DIR, fixtureBatchJson, fixtureOutputs, fixtureWeights, hasFixtures, maxAbsDiff } from './helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'gpt2-model-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A checkpoint dir with the fixture config and the given tensors. */
function writeDir(name: string, tensors: NamedTensors, config?: Record<string, unknown>): string {
  const dir = join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  const configText = config ? JSON.stringify(config) : readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), configText);
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(tensors, { format: 'pt' }));
  return dir;
}
/** Logits of the fixture batch (row 1 right-padded) at the last 4 positions of each row. */
async function last4(model: GPT2): Promise<Float32Array> {
  const b = fixtureBatchJson();
  const logits = await model.forward(b.input_ids, { attentionMask: b.attention_mask });
  const [B, T, V] = logits.shape as [number, number, number];
  const all = await logits.data();
  logits.dispose();
  const out = new Float32Array(B * 4 * V);
  for (let r = 0; r < B; r++) out.set(all.subarray((r * T + T - 4) * V, (r * T + T) * V), r * 4 * V);
  return out;
}

describe.skipIf(!hasFixtures)('GPT2 checkpoints (tfjs-cpu)', () => {
  let model: GPT2;
  let reference: Float32Array;
  beforeAll(async () => {
    model = await GPT2.load(FIXTURE_DIR, { backend: 'tfjs-cpu' });
    reference = (await fixtureOutputs()).get('logits_last4')!.data as Float32Array;
  });
  afterAll(() => model?.dispose());

  it('loads the HF fixture and reproduces its logits', async () => {
    expect(model.info.backend).toBe('tfjs-cpu');
    expect(model.config.n_layer).toBe(2);
    expect(model.vocab).toBeUndefined();
    expect(model.tokenizer?.vocabSize).toBe(50257);
    expect(model.eosId).toBe(50256);
    expect(maxAbsDiff(await last4(model), reference)).toBeLessThan(5e-5);
  });

  it('loads names without the transformer. prefix and a tied lm_head.weight', async () => {
    const weights = await fixtureWeights();
    const stripped: NamedTensors = new Map([...weights].map(([k, v]) => [k.replace(/^transformer\./, ''), v]));
    stripped.set('lm_head.weight', weights.get('transformer.wte.weight')!);
    stripped.set('h.0.attn.bias', { shape: [1, 1, 4, 4], data: new Float32Array(16).fill(1) }); // old HF mask buffer
    const other = await GPT2.load(writeDir('stripped', stripped), { backend: 'tfjs-cpu' });
    try {
      expect(maxAbsDiff(await last4(other), reference)).toBeLessThan(5e-5);
    } finally {
      other.dispose();
    }
  });

  it('save -> load round trip gives identical logits and an HF-shaped directory', async () => {
    const dir = join(tmp, 'saved');
    await model.save(dir);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.model_type).toBe('gpt2');
    expect(config.architectures).toEqual(['GPT2LMHeadModel']);
    expect(config.n_embd).toBe(64);
    expect(config.pad_token_id).toBe(50256); // unknown HF fields survive
    const { parseSafetensors } = await import('../src/io/safetensors.js');
    const file = parseSafetensors(readFileSync(join(dir, 'model.safetensors')));
    expect(file.metadata).toEqual({ format: 'pt' });
    expect([...file.tensors.keys()].every((k) => k.startsWith('transformer.'))).toBe(true);
    expect(file.tensors.has('lm_head.weight')).toBe(false);
    expect(file.tensors.size).toBe(28);
    // Same bytes and same config as transformers' save_pretrained wrote for the fixture.
    expect(Buffer.compare(readFileSync(join(dir, 'model.safetensors')), readFileSync(join(FIXTURE_DIR, 'model.safetensors')))).toBe(0);
    expect(config).toEqual(JSON.parse(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8')));
    const again = await GPT2.load(dir, { backend: 'tfjs-cpu' });
    try {
      expect(maxAbsDiff(await last4(again), await last4(model))).toBe(0);
    } finally {
      again.dispose();
    }
  });

  it('round-trips through in-memory checkpoint files (the browser path)', async () => {
    const files = await model.toCheckpointFiles();
    expect(files.trimmedVocabJson).toBeUndefined();
    const again = await GPT2.fromCheckpointFiles(
      { config: JSON.parse(files.configJson), safetensors: files.safetensors },
      { backend: 'tfjs-cpu', where: 'https://example.test/ckpt' },
    );
    try {
      expect(maxAbsDiff(await last4(again), reference)).toBeLessThan(5e-5);
    } finally {
      again.dispose();
    }
    const broken = files.safetensors.slice(0, files.safetensors.length - 4);
    await expect(GPT2.fromCheckpointFiles({ config: JSON.parse(files.configJson), safetensors: broken }, { where: 'https://example.test/ckpt' })).rejects.toThrow(
      /https:\/\/example\.test\/ckpt\/model\.safetensors: tensor 'transformer\.wte\.weight': data_offsets .* fall outside/,
    );
  });

  it('load errors name the bad tensor and the file', async () => {
    const weights = await fixtureWeights();
    const missing = new Map(weights);
    missing.delete('transformer.h.1.mlp.c_fc.bias');
    await expect(GPT2.load(writeDir('missing', missing), { backend: 'tfjs-cpu' })).rejects.toThrow(
      /missing[/\\]model\.safetensors: missing tensor 'transformer\.h\.1\.mlp\.c_fc\.bias'/,
    );

    const misshaped = new Map(weights);
    misshaped.set('transformer.h.0.attn.c_attn.weight', { shape: [192, 64], data: weights.get('transformer.h.0.attn.c_attn.weight')!.data });
    await expect(GPT2.load(writeDir('misshaped', misshaped), { backend: 'tfjs-cpu' })).rejects.toThrow(
      /tensor 'transformer\.h\.0\.attn\.c_attn\.weight' has shape \[192, 64\] but config\.json implies \[64, 192\]/,
    );

    const extra = new Map(weights);
    extra.set('transformer.h.2.ln_1.weight', { shape: [64], data: new Float32Array(64) });
    await expect(GPT2.load(writeDir('extra', extra), { backend: 'tfjs-cpu' })).rejects.toThrow(/unexpected tensor 'transformer\.h\.2\.ln_1\.weight'/);

    const untied = new Map(weights);
    const head = Float32Array.from(weights.get('transformer.wte.weight')!.data);
    head[100] += 1;
    untied.set('lm_head.weight', { shape: [50257, 64], data: head });
    await expect(GPT2.load(writeDir('untied', untied), { backend: 'tfjs-cpu' })).rejects.toThrow(/lm_head\.weight' differs .* element 100/);

    const dup = new Map(weights);
    dup.set('wpe.weight', weights.get('transformer.wpe.weight')!);
    await expect(GPT2.load(writeDir('dup', dup), { backend: 'tfjs-cpu' })).rejects.toThrow(/both provide 'transformer\.wpe\.weight'/);

    await expect(GPT2.load(join(tmp, 'nowhere'), { backend: 'tfjs-cpu' })).rejects.toThrow(ModelConfigError);
    const badConfig = writeDir('badconfig', weights, { ...JSON.parse(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8')), n_head: 5 });
    await expect(GPT2.load(badConfig, { backend: 'tfjs-cpu' })).rejects.toThrow(/badconfig[/\\]config\.json: invalid GPT-2 config at n_head/);
  });

  it('trims a full checkpoint to a vocabulary: compact logits equal the selected full logits', async () => {
    const b = fixtureBatchJson();
    const vocab = TrimmedVocab.fromCorpus([b.input_ids[0]!], { unk: true });
    const dir = join(tmp, 'trim-src');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(FIXTURE_DIR, 'config.json'), join(dir, 'config.json'));
    copyFileSync(join(FIXTURE_DIR, 'model.safetensors'), join(dir, 'model.safetensors'));
    const small = await GPT2.load(dir, { backend: 'tfjs-cpu', vocab });
    try {
      expect(small.config.vocab_size).toBe(vocab.size);
      expect(small.config.eos_token_id).toBe(vocab.eosId);
      expect(small.tokenizer?.vocabSize).toBe(vocab.size);
      const row = b.input_ids[0]!;
      const compact = vocab.toCompact(row);
      const full = await model.forward([row]);
      const part = await small.forward([compact]);
      const fullData = await full.data();
      const partData = await part.data();
      full.dispose();
      part.dispose();
      const gpt2Ids = vocab.toJSON().gpt2Ids;
      const selected = new Float32Array(row.length * gpt2Ids.length);
      const smallRows = new Float32Array(row.length * gpt2Ids.length);
      for (let t = 0; t < row.length; t++) {
        gpt2Ids.forEach((id, j) => {
          selected[t * gpt2Ids.length + j] = fullData[t * 50257 + id]!;
          smallRows[t * gpt2Ids.length + j] = partData[t * vocab.size + j]!;
        });
      }
      expect(maxAbsDiff(smallRows, selected)).toBeLessThan(1e-5);
      // Saved with its vocabulary, and loaded back with it.
      const savedDir = join(tmp, 'trim-saved');
      await small.save(savedDir);
      const back = await GPT2.load(savedDir, { backend: 'tfjs-cpu' });
      expect(back.vocab?.toJSON()).toEqual(vocab.toJSON());
      back.dispose();
      // Re-saving without a vocabulary removes the stale vocabulary file.
      await model.save(savedDir);
      const plain = await GPT2.load(savedDir, { backend: 'tfjs-cpu' });
      expect(plain.vocab).toBeUndefined();
      plain.dispose();
    } finally {
      small.dispose();
    }
  });
});

describe('GPT2.create / fromCore', () => {
  it('creates a seeded model whose weights match across instances, with a trimmed vocabulary', async () => {
    const vocab = TrimmedVocab.fromCorpus(['Question: 2 + 3?\nAnswer: 5<|endoftext|>']);
    const config = { vocab_size: 50257, n_positions: 32, n_embd: 16, n_layer: 1, n_head: 2 };
    const a = await GPT2.create(config, { seed: 3, backend: 'tfjs-cpu', vocab });
    const b = await GPT2.create(config, { seed: 3, backend: 'tfjs-cpu', vocab });
    try {
      expect(a.config.vocab_size).toBe(vocab.size);
      expect(a.config.eos_token_id).toBe(vocab.eosId);
      const ids = a.tokenizer!.encode('Question: 2 + 3?');
      const la = await a.forward([ids]);
      const lb = await b.forward([ids]);
      expect(la.shape).toEqual([1, ids.length, vocab.size]);
      expect(maxAbsDiff(await la.data(), await lb.data())).toBe(0);
      la.dispose();
      lb.dispose();
      const core = await (await selectBackend('tfjs-cpu')).createCore(a.config, { weights: await a.training.getWeights() });
      const wrapped = GPT2.fromCore(core, vocab);
      expect(wrapped.eosId).toBe(vocab.eosId);
      expect(() => GPT2.fromCore(core, TrimmedVocab.fromCorpus(['x']))).toThrow(ModelConfigError);
      wrapped.dispose();
      const [text] = await a.generateText(['Question: 2 + 3?'], { maxNewTokens: 3, eosTokenId: null });
      expect(typeof text).toBe('string');
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
