import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import type { BackendPreference } from '../src/backend/types.js';
import { GPT2 } from '../src/model/gpt2.js';
import { FIXTURE_DIR, fixtureJson, hasFixtures } from './helpers/fixtures.js';

interface GenerateJson {
  single: { prompt: number[]; new_tokens: number[] };
  batch_left_padded: { input_ids: number[][]; attention_mask: number[][]; new_tokens: number[][] };
}

const backends: BackendPreference[] = ['tfjs-cpu', 'wasm'];
if (probeNativeCpu().ok) backends.push('native');

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
