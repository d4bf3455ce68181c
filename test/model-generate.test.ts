import { describe, expect, it } from 'vitest';
import { parseGPT2Config } from '../src/arch/config.js';
import type { DecodeSession, ForwardResult, TokenBatch, TransformerCore } from '../src/backend/types.js';
import { ShapeError } from '../src/errors.js';
import { type GeneratedToken, generateTokens } from '../src/model/generate.js';
import { preparePrompts } from '../src/model/prompts.js';

/**
 * A scripted "counting" language model: after token x at a real position it predicts
 * (x + 1) % V. It records every batch and decode step, so the tests can check what
 * generate feeds a core (padding, masks, positions) independently of any numeric backend.
 */
const V = 12;
class CountingCore {
  readonly config = parseGPT2Config({ vocab_size: V, n_positions: 16, n_embd: 4, n_layer: 1, n_head: 1 });
  readonly forwards: TokenBatch[] = [];
  readonly prefills: TokenBatch[] = [];
  readonly steps: Array<{ tokens: number[]; positions: number[] }> = [];
  disposedSessions = 0;

  private oneHot(rows: number[]): Float32Array {
    const out = new Float32Array(rows.length * V);
    rows.forEach((x, b) => (out[b * V + ((x + 1) % V)] = 1));
    return out;
  }

  async forward(batch: TokenBatch): Promise<ForwardResult> {
    this.forwards.push(batch);
    const { batchSize: B, seqLen: T } = batch;
    const data = this.oneHot(Array.from(batch.inputIds));
    return { logits: { shape: [B, T, V], data: async () => data, dispose: () => {} } };
  }

  async startDecode(prompt: TokenBatch, options: { maxLength: number }): Promise<DecodeSession> {
    this.prefills.push(prompt);
    const T = prompt.seqLen;
    const last = Array.from({ length: prompt.batchSize }, (_, b) => prompt.inputIds[b * T + T - 1]!);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const core = this;
    let length = T;
    const session: DecodeSession = {
      batchSize: prompt.batchSize,
      get length() {
        return length;
      },
      lastLogits: this.oneHot(last),
      async step(tokens, positions) {
        if (length + 1 > options.maxLength) throw new ShapeError('cache full');
        length++;
        core.steps.push({ tokens: Array.from(tokens), positions: Array.from(positions) });
        (session as { lastLogits: Float32Array }).lastLogits = core.oneHot(Array.from(tokens));
        return session.lastLogits;
      },
      dispose() {
        core.disposedSessions++;
      },
    };
    return session;
  }
}
const asCore = (c: CountingCore): TransformerCore => c as unknown as TransformerCore;
const defaults = { eosIds: [], padId: 0 };

describe('preparePrompts', () => {
  it('left-pads rows of different lengths with HF positions', () => {
    const { batch, nextPositions } = preparePrompts([[5, 6, 7], [8]], undefined, { vocabSize: V, nPositions: 16, maxNewTokens: 2, padId: 11 });
    expect(batch.seqLen).toBe(3);
    expect(Array.from(batch.inputIds)).toEqual([5, 6, 7, 11, 11, 8]);
    expect(Array.from(batch.attentionMask)).toEqual([1, 1, 1, 0, 0, 1]);
    expect(Array.from(batch.positionIds)).toEqual([0, 1, 2, 0, 0, 0]);
    expect(Array.from(nextPositions)).toEqual([3, 1]);
  });

  it('honours a caller mask (left padding, holes) the same way', () => {
    const { batch, nextPositions } = preparePrompts(
      [
        [0, 0, 3, 4],
        [1, 0, 2, 3],
      ],
      [
        [0, 0, 1, 1],
        [1, 0, 1, 1],
      ],
      { vocabSize: V, nPositions: 16, maxNewTokens: 1, padId: 0 },
    );
    expect(Array.from(batch.positionIds)).toEqual([0, 0, 0, 1, 0, 0, 1, 2]);
    expect(Array.from(nextPositions)).toEqual([2, 3]);
  });

  it('throws ShapeError on bad prompts', () => {
    const limits = { vocabSize: V, nPositions: 8, maxNewTokens: 2, padId: 0 };
    expect(() => preparePrompts([], undefined, limits)).toThrow(/non-empty/);
    expect(() => preparePrompts([[1], []], undefined, limits)).toThrow(/promptIds\[1\] has no real tokens/);
    expect(() => preparePrompts([[1, V]], undefined, limits)).toThrow(/promptIds\[0\]\[1\] = 12 is outside/);
    expect(() => preparePrompts([[1, -1]], undefined, limits)).toThrow(ShapeError);
    expect(() => preparePrompts([[1, 2, 3, 4, 5, 6, 7]], undefined, limits)).toThrow(/more than n_positions 8/);
    expect(() => preparePrompts([[1]], undefined, { ...limits, maxNewTokens: -1 })).toThrow(/maxNewTokens/);
    expect(() => preparePrompts([[1, 2]], [[1, 0]], limits)).toThrow(/LEFT padding/);
    expect(() => preparePrompts([[1, 2]], [[1]], limits)).toThrow(/same length/);
    expect(() => preparePrompts([[1, 2]], [[2, 1]], limits)).toThrow(/expected 0 or 1/);
    expect(() => preparePrompts([[1, 2]], [[0, 0]], limits)).toThrow(ShapeError);
  });
});

describe('generateTokens (scripted core)', () => {
  it('decodes left-padded rows with the right positions, with and without the cache', async () => {
    for (const useCache of [true, false]) {
      const core = new CountingCore();
      const out = await generateTokens(asCore(core), [[1, 2], [5]], { maxNewTokens: 3, useCache }, defaults);
      expect(out).toEqual([
        [3, 4, 5],
        [6, 7, 8],
      ]);
      if (useCache) {
        expect(core.prefills).toHaveLength(1);
        expect(Array.from(core.prefills[0]!.positionIds!)).toEqual([0, 1, 0, 0]);
        expect(core.steps).toEqual([
          { tokens: [3, 6], positions: [2, 1] },
          { tokens: [4, 7], positions: [3, 2] },
        ]);
        expect(core.disposedSessions).toBe(1);
      } else {
        const last = core.forwards.at(-1)!;
        expect(core.forwards).toHaveLength(3);
        expect(Array.from(last.inputIds)).toEqual([1, 2, 3, 4, 0, 5, 6, 7]);
        expect(Array.from(last.attentionMask!)).toEqual([1, 1, 1, 1, 0, 1, 1, 1]);
        expect(Array.from(last.positionIds!)).toEqual([0, 1, 2, 3, 0, 0, 1, 2]);
      }
    }
  });

  it('stops a row at eos (not returned) and keeps feeding pad for it', async () => {
    const core = new CountingCore();
    const out = await generateTokens(asCore(core), [[1], [5]], { maxNewTokens: 4, eosTokenId: 7 }, { eosIds: [], padId: 0 });
    expect(out).toEqual([[2, 3, 4, 5], [6]]);
    expect(core.steps.map((s) => s.tokens[1])).toEqual([6, 7, 0]); // eos is fed once, then pad
  });

  it('uses the default eos unless eosTokenId is null', async () => {
    expect(await generateTokens(asCore(new CountingCore()), [[1]], { maxNewTokens: 5 }, { eosIds: [3], padId: 0 })).toEqual([[2]]);
    expect(await generateTokens(asCore(new CountingCore()), [[1]], { maxNewTokens: 5, eosTokenId: null }, { eosIds: [3], padId: 0 })).toEqual([[2, 3, 4, 5, 6]]);
  });

  it('stops at any of several eos ids (a Llama-family model may have more than one)', async () => {
    expect(await generateTokens(asCore(new CountingCore()), [[1]], { maxNewTokens: 9 }, { eosIds: [9, 5], padId: 0 })).toEqual([[2, 3, 4]]);
    expect(await generateTokens(asCore(new CountingCore()), [[1]], { maxNewTokens: 9, eosTokenId: [6, 4] }, { eosIds: [3], padId: 0 })).toEqual([[2, 3]]);
    await expect(generateTokens(asCore(new CountingCore()), [[1]], { maxNewTokens: 2, eosTokenId: [2, 99] }, { eosIds: [], padId: 0 })).rejects.toThrow(/eosTokenId 99/);
  });

  it('trims stop sequences and stops early once every row is done', async () => {
    const core = new CountingCore();
    const out = await generateTokens(asCore(core), [[1], [8]], { maxNewTokens: 10, stopSequences: [[4, 5], [10]] }, defaults);
    expect(out).toEqual([[2, 3], [9]]);
    expect(core.steps).toHaveLength(3); // row 0 finishes at its 4th token
  });

  it('a stop sequence may span tokens generated in different steps but not the prompt', async () => {
    const out = await generateTokens(asCore(new CountingCore()), [[3]], { maxNewTokens: 4, stopSequences: [[3, 4]] }, defaults);
    expect(out).toEqual([[4, 5, 6, 7]]);
  });

  it('reports every sampled token of running rows through onToken', async () => {
    const events: GeneratedToken[] = [];
    await generateTokens(asCore(new CountingCore()), [[1], [5]], { maxNewTokens: 2, eosTokenId: 6, onToken: (e) => events.push(e) }, defaults);
    expect(events).toEqual([
      { row: 0, token: 2, step: 0 },
      { row: 1, token: 6, step: 0 },
      { row: 0, token: 3, step: 1 },
    ]);
  });

  it('shouldStop ends a row with its tokens kept, asked only after tokens that did not already stop it', async () => {
    const core = new CountingCore();
    const asked: Array<[number, number[]]> = [];
    const out = await generateTokens(
      asCore(core),
      [[1], [5]],
      { maxNewTokens: 6, eosTokenId: 8, stopSequences: [[4]], shouldStop: (row, ids) => (asked.push([row, [...ids]]), row === 1 && ids.length === 2) },
      defaults,
    );
    // row 0: 2, 3, then 4 is a stop sequence (trimmed, not asked); row 1: 6, 7 -> shouldStop (kept).
    expect(out).toEqual([[2, 3], [6, 7]]);
    expect(asked).toEqual([[0, [2]], [1, [6]], [0, [2, 3]], [1, [6, 7]]]);
    expect(core.steps).toHaveLength(2);
  });

  it('maxNewTokens 0 returns empty rows without running the core', async () => {
    const core = new CountingCore();
    expect(await generateTokens(asCore(core), [[1, 2]], { maxNewTokens: 0 }, defaults)).toEqual([[]]);
    expect(core.prefills).toHaveLength(0);
  });

  it('rejects bad stop sequences and eos ids', async () => {
    await expect(generateTokens(asCore(new CountingCore()), [[1]], { maxNewTokens: 1, stopSequences: [[]] }, defaults)).rejects.toThrow(ShapeError);
    await expect(generateTokens(asCore(new CountingCore()), [[1]], { maxNewTokens: 1, eosTokenId: V }, defaults)).rejects.toThrow(/eosTokenId/);
  });
});
