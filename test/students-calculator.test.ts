import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGPT2Config } from '../src/arch/config.js';
import type { DecodeSession, TokenBatch, TransformerCore } from '../src/backend/types.js';
import { type GeneratedToken, generateTokens } from '../src/model/generate.js';
import { GPT2 } from '../src/model/gpt2.js';
import { calculatorCompletion, encodeExactly, generateBatched } from '../src/students/decode.js';
import { Tokenizer, TrimmedVocab } from '../src/tokenizer/index.js';
import type { TokenCodec } from '../src/train/codec.js';
import { UnifiedStudent, type StudentLM } from '../src/students/index.js';
import type { GenerateTextOptions } from '../src/students/decode.js';

describe('calculatorCompletion (the expression before a trailing =)', () => {
  it.each([
    ['Tom has 5 + 3 =', ' 8'],
    ['12 * 4 / 3 =', ' 16'],
    ['Each box has 10 / 4 =', ' 2.5'],
    ['That is 1 / 3 =', ' 0.33'],
    ['Ana has 3 - 5 =', ' -2'],
    ['(2 + 3) * 4 =', ' 20'],
    ['Tom had 20. 20 - 5 =', ' 15'],
    ['In step 2, 5 + 3 =', ' 8'],
    ['Each box has 3 x 4 =', ' 12'],
    ['It costs $5 + $3 =', ' 8'],
    ['Ana has 1,200 + 30 =', ' 1230'],
    ['5 + 3 = 8 and 2 * 4 =', ' 8'],
    ['Tom has 5 + 3 = <<5+3=', '8'],
  ])('%s -> %j', (text, completion) => {
    expect(calculatorCompletion(text)).toBe(completion);
  });

  it.each(['Tom has 5 =', 'Tom has 5 + 3', 'Tom has 5 + 3 = 8', 'x =', 'a <=', '5 + 3 ==', '4 / 0 =', 'Tom has apples =', 'box =', ''])('%j -> nothing', (text) => {
    expect(calculatorCompletion(text)).toBeUndefined();
  });
});

describe('encodeExactly (the forced text in the student vocabulary)', () => {
  // Training text with one calculator note, so `3` and `8` also exist without a leading space.
  const training = 'Tom has 5 + 3 = 8 apples.\nEach box has 24 / 3 = <<24/3=8>>8 pencils.';
  const tokenizer = new Tokenizer(TrimmedVocab.fromCorpus([training], { unk: true }));

  it('gives ` 8` the token it has in training text, not ` ` + `8`', () => {
    const ids = encodeExactly(tokenizer, ' 8')!;
    expect(ids).toHaveLength(1);
    expect(tokenizer.encode('Tom has 5 + 3 = 8 apples.')).toContain(ids[0]);
  });

  it('falls back to pieces the trimmed vocabulary has instead of <unk>', () => {
    const ids = encodeExactly(tokenizer, ' 83')!;
    expect(tokenizer.decode(ids)).toBe(' 83');
    expect(encodeExactly(tokenizer, ' 7')).toBeUndefined();
  });
});

/**
 * A scripted model over one-character tokens: the next character depends on the last one.
 * Left alone it writes `12+3=9.` (a wrong sum) and stops; '|' is eos.
 */
const CHARS = 'Q123459+=. |';
const NEXT: Record<string, string> = { Q: '1', '1': '2', '2': '+', '+': '3', '3': '=', '=': '9', '9': '.', '5': '.', '.': '|', ' ': '1', '4': '.' };
const codec: TokenCodec = {
  encode: (text) => [...text].map((c) => CHARS.indexOf(c)),
  decode: (ids) => ids.map((i) => CHARS[i]).join(''),
  eosId: CHARS.indexOf('|'),
  vocabSize: CHARS.length,
};
class ScriptedCore {
  readonly config = parseGPT2Config({ vocab_size: CHARS.length, n_positions: 32, n_embd: 4, n_layer: 1, n_head: 1 });
  private logits(rows: number[]): Float32Array {
    const out = new Float32Array(rows.length * CHARS.length);
    rows.forEach((id, b) => (out[b * CHARS.length + CHARS.indexOf(NEXT[CHARS[id]!] ?? '|')] = 1));
    return out;
  }
  async startDecode(prompt: TokenBatch): Promise<DecodeSession> {
    const T = prompt.seqLen;
    const logits = (rows: number[]): Float32Array => this.logits(rows);
    const session = {
      batchSize: prompt.batchSize,
      length: T,
      lastLogits: logits(Array.from({ length: prompt.batchSize }, (_, b) => prompt.inputIds[b * T + T - 1]!)),
      async step(tokens: Int32Array): Promise<Float32Array> {
        session.lastLogits = logits(Array.from(tokens));
        return session.lastLogits;
      },
      dispose() {},
    };
    return session;
  }
}
const scripted = GPT2.fromCore(new ScriptedCore() as unknown as TransformerCore);

describe('calculator option at decode', () => {
  it('writes the result after `<expression> =` and the student continues from it', async () => {
    expect(await generateBatched(scripted, codec, ['Q', '1'], { maxNewTokens: 12 })).toEqual(['12+3=9.', '2+3=9.']);
    expect(await generateBatched(scripted, codec, ['Q', '1'], { maxNewTokens: 12, calculator: true })).toEqual(['12+3= 15.', '2+3= 5.']);
  });

  it('counts forced tokens against maxNewTokens', async () => {
    expect(await generateBatched(scripted, codec, ['Q'], { maxNewTokens: 7, calculator: true })).toEqual(['12+3= 1']);
  });
});

describe('forceTokens in the generate loop (tiny real GPT-2)', () => {
  let model: GPT2;
  const prompts = [[3, 1, 4, 1, 5], [9, 2], [6, 5, 3, 5]];
  beforeAll(async () => {
    const vocab = TrimmedVocab.fromCorpus(['Tom has 5 + 3 = 8 apples.', 'Each box has 24 / 3 = 8 pencils.', 'How many?']);
    model = await GPT2.create({ vocab_size: 50257, n_positions: 48, n_embd: 16, n_layer: 2, n_head: 2 }, { seed: 4, backend: 'tfjs-cpu', vocab });
  });
  afterAll(() => model?.dispose());

  /** Row 0 gets three tokens after its 2nd token, row 2 one token after its 1st and two after its 6th. */
  const force = (row: number, tokens: readonly number[]): number[] | undefined => {
    if (row === 0 && tokens.length === 2) return [7, 8, 9];
    if (row === 2 && tokens.length === 1) return [11];
    if (row === 2 && tokens.length === 6) return [12, 13];
    return undefined;
  };

  it('writes the forced ids into their rows, one per step, and the cache path equals the full-sequence path', async () => {
    const seen: GeneratedToken[] = [];
    const cached = await model.generate(prompts, { maxNewTokens: 12, eosTokenId: null, forceTokens: force, onToken: (t) => seen.push(t) });
    const full = await model.generate(prompts, { maxNewTokens: 12, eosTokenId: null, forceTokens: force, useCache: false });
    expect(cached).toEqual(full);
    expect(cached.map((r) => r.length)).toEqual([12, 12, 12]);
    expect(cached[0]!.slice(2, 5)).toEqual([7, 8, 9]);
    expect(cached[2]![1]).toBe(11);
    expect(cached[2]!.slice(6, 8)).toEqual([12, 13]);
    expect(seen.filter((t) => t.forced).map((t) => [t.row, t.step, t.token])).toEqual([
      [2, 1, 11], [0, 2, 7], [0, 3, 8], [0, 4, 9], [2, 6, 12], [2, 7, 13],
    ].sort((a, b) => a[1]! - b[1]! || a[0]! - b[0]!));
    // The model really conditions on forced ids: without them the rows continue differently.
    const plain = await model.generate(prompts, { maxNewTokens: 12, eosTokenId: null });
    expect(plain[0]!.slice(5)).not.toEqual(cached[0]!.slice(5));
    expect(plain[1]).toEqual(cached[1]);
  });

  it('a hook that never forces (calculator off) leaves the output unchanged', async () => {
    const plain = await model.generate(prompts, { maxNewTokens: 10, eosTokenId: null });
    expect(await model.generate(prompts, { maxNewTokens: 10, eosTokenId: null, forceTokens: () => undefined })).toEqual(plain);
    const texts = ['Tom has 5 + 3', 'Each box has'];
    const lmText = (calculator?: boolean) => generateBatched(model, model.tokenizer!, texts, { maxNewTokens: 10, ...(calculator === undefined ? {} : { calculator }) });
    expect(await lmText(false)).toEqual(await lmText());
  });

  it('rejects forced ids outside the vocabulary', async () => {
    await expect(model.generate([[1, 2]], { maxNewTokens: 3, forceTokens: () => [model.config.vocab_size] })).rejects.toThrow(/forceTokens gave id/);
  });
});

describe('SolveOptions.calculator reaches the decoder', () => {
  it('single-model students pass it to generate, greedy and with self-consistency', async () => {
    const seen: GenerateTextOptions[] = [];
    const lm = { config: { n_positions: 64 }, generate: async (prompts: readonly string[], o: GenerateTextOptions) => {
      seen.push(o);
      return prompts.map(() => '#### 8');
    } };
    const student = new UnifiedStudent(lm as unknown as StudentLM);
    const problem = { id: 'p', dataset: 'synthetic' as const, question: 'Tom has 5 apples and picks 3 more. How many?', answer: 8 };
    await student.solveMany([problem], { calculator: true });
    await student.solveMany([problem], { calculator: true, selfConsistency: { k: 2 } });
    await student.solveMany([problem]);
    expect(seen.map((o) => o.calculator)).toEqual([true, true, true, undefined]);
  });
});
