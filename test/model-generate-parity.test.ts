import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeNativeCpu, probeNativeCuda } from '../src/backend/native/probe.js';
import type { BackendPreference } from '../src/backend/types.js';
import { GPT2 } from '../src/model/gpt2.js';
import { FIXTURE_DIR, fixtureJson, hasFixtures } from './helpers/fixtures.js';

interface GenerateJson {
  single: { prompt: number[]; new_tokens: number[] };
  batch_left_padded: { input_ids: number[][]; attention_mask: number[][]; new_tokens: number[][] };
}

const backends: BackendPreference[] = ['tfjs-cpu', 'wasm'];
if (probeNativeCpu().ok) backends.push('native');
if (probeNativeCuda().ok) backends.push('cuda');

describe.skipIf(!hasFixtures).each(backends)('greedy generate matches HF generate.json on %s', (backend) => {
  let model: GPT2;
  let gen: GenerateJson;
  beforeAll(async () => {
    gen = fixtureJson<GenerateJson>('generate.json');
    model = await GPT2.load(FIXTURE_DIR, { backend });
  });
  afterAll(() => model?.dispose());

  it.each([true, false])('single prompt (useCache %s)', async (useCache) => {
    const out = await model.generate([gen.single.prompt], { maxNewTokens: 20, greedy: true, eosTokenId: null, useCache });
    expect(out).toEqual([gen.single.new_tokens]);
  });

  it.each([true, false])('unpadded prompts of different lengths are left-padded internally (useCache %s)', async (useCache) => {
    const [rowA, rowB] = gen.batch_left_padded.input_ids.map((row, i) => row.filter((_, t) => gen.batch_left_padded.attention_mask[i]![t] === 1));
    expect(rowA).toHaveLength(8);
    expect(rowB).toHaveLength(5);
    const out = await model.generate([rowA!, rowB!], { maxNewTokens: 20, eosTokenId: null, useCache });
    expect(out).toEqual(gen.batch_left_padded.new_tokens);
  });

  it('a caller-padded batch with its attentionMask gives the same tokens', async () => {
    const { input_ids, attention_mask, new_tokens } = gen.batch_left_padded;
    const out = await model.generate(input_ids, { maxNewTokens: 20, eosTokenId: null, attentionMask: attention_mask });
    expect(out).toEqual(new_tokens);
  });
});

describe.skipIf(!hasFixtures)('sampling and stopping on the fixture model (tfjs-cpu)', () => {
  let model: GPT2;
  let gen: GenerateJson;
  beforeAll(async () => {
    gen = fixtureJson<GenerateJson>('generate.json');
    model = await GPT2.load(FIXTURE_DIR, { backend: 'tfjs-cpu' });
  });
  afterAll(() => model?.dispose());

  it('seeded sampling is reproducible, differs across seeds, and topK = 1 is greedy', async () => {
    const prompts = [gen.single.prompt, gen.single.prompt.slice(0, 3)];
    const opts = { maxNewTokens: 12, temperature: 1.5, topP: 0.95, eosTokenId: null };
    const a = await model.generate(prompts, { ...opts, seed: 11 });
    const b = await model.generate(prompts, { ...opts, seed: 11 });
    const c = await model.generate(prompts, { ...opts, seed: 12 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a[0]).not.toEqual(gen.single.new_tokens.slice(0, 12));
    const top1 = await model.generate([gen.single.prompt], { maxNewTokens: 20, topK: 1, temperature: 0.8, seed: 5, eosTokenId: null });
    expect(top1).toEqual([gen.single.new_tokens]);
  });

  it('trims stop sequences and eos from the returned ids', async () => {
    const ref = gen.single.new_tokens;
    const stopped = await model.generate([gen.single.prompt], { maxNewTokens: 20, eosTokenId: null, stopSequences: [[ref[4]!, ref[5]!], [99, 98]] });
    expect(stopped).toEqual([ref.slice(0, 4)]);
    const eos = await model.generate([gen.single.prompt], { maxNewTokens: 20, eosTokenId: ref[2]! });
    expect(eos).toEqual([ref.slice(0, 2)]);
  });

  it('throws ShapeError for empty prompts, out-of-vocabulary ids and too long requests', async () => {
    const { ShapeError } = await import('../src/errors.js');
    await expect(model.generate([], { maxNewTokens: 1 })).rejects.toThrow(ShapeError);
    await expect(model.generate([[]], { maxNewTokens: 1 })).rejects.toThrow(/no real tokens/);
    await expect(model.generate([[1, 50257]], { maxNewTokens: 1 })).rejects.toThrow(/promptIds\[0\]\[1\] = 50257/);
    await expect(model.generate([gen.single.prompt], { maxNewTokens: 121 })).rejects.toThrow(/more than n_positions 128/);
  });
});
