import { describe, expect, it } from 'vitest';
import { parseGPT2Config } from '../src/arch/config.js';
import type { DecodeSession, TokenBatch, TransformerCore } from '../src/backend/types.js';
import { GPT2 } from '../src/model/gpt2.js';
import { generateBatched } from '../src/students/decode.js';
import type { TokenCodec } from '../src/train/codec.js';

/** One character per id; '|' (id 11) is eos. The scripted core predicts the next character of the alphabet. */
const CHARS = 'abcdefghij.|';
const V = CHARS.length;
const codec: TokenCodec = {
  encode: (text) => [...text].map((c) => CHARS.indexOf(c)),
  decode: (ids) => ids.map((i) => CHARS[i]).join(''),
  eosId: 11,
  vocabSize: V,
};

class CountingCore {
  readonly config = parseGPT2Config({ vocab_size: V, n_positions: 16, n_embd: 4, n_layer: 1, n_head: 1 });
  readonly prefills: TokenBatch[] = [];

  private oneHot(rows: number[]): Float32Array {
    const out = new Float32Array(rows.length * V);
    rows.forEach((x, b) => (out[b * V + ((x + 1) % V)] = 1));
    return out;
  }

  async startDecode(prompt: TokenBatch): Promise<DecodeSession> {
    this.prefills.push(prompt);
    const T = prompt.seqLen;
    const last = Array.from({ length: prompt.batchSize }, (_, b) => prompt.inputIds[b * T + T - 1]!);
    const oneHot = (rows: number[]): Float32Array => this.oneHot(rows);
    const session = {
      batchSize: prompt.batchSize,
      length: T,
      lastLogits: oneHot(last),
      async step(tokens: Int32Array): Promise<Float32Array> {
        session.lastLogits = oneHot(Array.from(tokens));
        return session.lastLogits;
      },
      dispose() {},
    };
    return session;
  }
}
/** generateBatched decodes through a GPT2; the scripted core stands in for its kernels. */
const asModel = (c: CountingCore): GPT2 => GPT2.fromCore(c as unknown as TransformerCore);

describe('generateBatched (students on the model generate loop)', () => {
  it('cuts text stops that span tokens, ends rows at eos, and returns rows in input order', async () => {
    const core = new CountingCore();
    const out = await generateBatched(asModel(core), codec, ['abc', 'g', 'a'], { maxNewTokens: 8, stopSequences: ['ef', 'x'], batchSize: 2 });
    expect(out).toEqual(['d', 'hij.', 'bcd']);
    // Sorted by length into chunks of 2: ['g', 'a'] then ['abc'].
    expect(core.prefills.map((p) => [p.batchSize, p.seqLen])).toEqual([
      [2, 1],
      [1, 3],
    ]);
  });

  it('left-pads a chunk (shortest row first) and caps new tokens by n_positions minus its longest prompt', async () => {
    const core = new CountingCore();
    const out = await generateBatched(asModel(core), codec, ['abcdefghijabcd', 'a'], { maxNewTokens: 10 });
    expect(out).toEqual(['ef', 'bc']);
    const { inputIds, attentionMask, positionIds } = core.prefills[0]!;
    expect(Array.from(inputIds.slice(0, 14))).toEqual([...Array(13).fill(11), 0]);
    expect(Array.from(attentionMask!.slice(0, 14))).toEqual([...Array(13).fill(0), 1]);
    expect(Array.from(positionIds!.slice(0, 14))).toEqual(Array(14).fill(0));
  });

  it('returns empty continuations when a prompt fills the context', async () => {
    const core = new CountingCore();
    expect(await generateBatched(asModel(core), codec, ['abcdefghijabcdef', 'a'], { maxNewTokens: 3 })).toEqual(['', '']);
    expect(core.prefills).toHaveLength(0);
  });
});
