import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelConfigError, ShapeError } from '../src/errors.js';
import { decodeGpt2, encodeGpt2, GPT2_EOS_ID, Tokenizer, TrimmedVocab, UNK_TEXT } from '../src/tokenizer/index.js';
import { FIXTURE_DIR } from './helpers/fixtures.js';

const hasTokFixtures = existsSync(join(FIXTURE_DIR, 'tokenizer.json'));
const read = <T>(name: string): T => JSON.parse(readFileSync(join(FIXTURE_DIR, name), 'utf8')) as T;

describe.skipIf(!hasTokFixtures)('GPT-2 BPE vs the gpt-tokenizer fixtures', () => {
  const cases = hasTokFixtures ? read<Array<{ text: string; ids: number[] }>>('tokenizer.json') : [];

  it('has all 14 fixture strings', () => {
    expect(cases).toHaveLength(14);
  });

  it.each(cases.map((c, i) => [i, c] as const))('case %i encodes to the fixture ids and decodes back', (_i, c) => {
    expect(encodeGpt2(c.text)).toEqual(c.ids);
    expect(decodeGpt2(c.ids)).toBe(c.text);
    const tok = new Tokenizer();
    expect(tok.encode(c.text)).toEqual(c.ids);
    expect(tok.decode(tok.encode(c.text))).toBe(c.text);
  });

  it('maps <|endoftext|> to 50256 anywhere in the string (workaround for gpt-tokenizer 4.0.0)', () => {
    const special = read<{
      text: string;
      workaround_split_join: number[];
      decode_50256: string;
      decode_mixed: string;
      allowedSpecial_all_cases: Record<string, number[]>;
    }>('tokenizer_special.json');
    expect(encodeGpt2(special.text)).toEqual(special.workaround_split_join);
    expect(decodeGpt2([GPT2_EOS_ID])).toBe(special.decode_50256);
    expect(decodeGpt2(special.workaround_split_join)).toBe(special.decode_mixed);
    // At the start gpt-tokenizer already gets it right; our encoder must agree there.
    expect(encodeGpt2('<|endoftext|>')).toEqual(special.allowedSpecial_all_cases['<|endoftext|>']);
    expect(encodeGpt2('<|endoftext|>a')).toEqual(special.allowedSpecial_all_cases['<|endoftext|>a']);
    // Elsewhere the library splits it into plain text; we must not.
    expect(encodeGpt2('a<|endoftext|>')).toEqual([64, GPT2_EOS_ID]);
    const mid = encodeGpt2('hi <|endoftext|> there');
    expect(mid.filter((id) => id === GPT2_EOS_ID)).toHaveLength(1);
    expect(decodeGpt2(mid)).toBe('hi <|endoftext|> there');
  });
});

describe('GPT-2 BPE edge cases', () => {
  it('handles repeated and adjacent end-of-text markers and the empty string', () => {
    expect(encodeGpt2('')).toEqual([]);
    expect(encodeGpt2('<|endoftext|><|endoftext|>')).toEqual([GPT2_EOS_ID, GPT2_EOS_ID]);
    const ids = encodeGpt2('Q: 1+1?<|endoftext|>A: 2<|endoftext|>');
    expect(ids.at(-1)).toBe(GPT2_EOS_ID);
    expect(decodeGpt2(ids)).toBe('Q: 1+1?<|endoftext|>A: 2<|endoftext|>');
    // A partial marker stays plain text.
    expect(encodeGpt2('<|endoftext|')).not.toContain(GPT2_EOS_ID);
  });

  it('rejects ids outside the GPT-2 vocabulary with ShapeError', () => {
    expect(() => decodeGpt2([50257])).toThrow(ShapeError);
    expect(() => decodeGpt2([-1])).toThrow(ShapeError);
    expect(() => decodeGpt2([1.5])).toThrow(/index 0/);
  });
});

describe('TrimmedVocab', () => {
  const corpus = ['Question: Tom has 12 apples.\nAnswer: 12<|endoftext|>', 'How many apples does Tom have?'];

  it('maps the corpus tokens to a compact id space that round-trips to GPT-2 ids', () => {
    const vocab = TrimmedVocab.fromCorpus(corpus);
    const used = new Set(corpus.flatMap((t) => encodeGpt2(t)));
    used.add(GPT2_EOS_ID);
    expect(vocab.size).toBe(used.size);
    expect(vocab.unkId).toBeUndefined();
    for (const text of corpus) {
      const full = encodeGpt2(text);
      const compact = vocab.toCompact(full);
      expect(Math.max(...compact)).toBeLessThan(vocab.size);
      expect(vocab.toFull(compact)).toEqual(full);
    }
    // Compact ids follow GPT-2 id order, so 50256 (the largest id) is last.
    expect(vocab.eosId).toBe(vocab.size - 1);
    expect(vocab.toFull([vocab.eosId])).toEqual([GPT2_EOS_ID]);
  });

  it('always includes eos even when the corpus never uses it, and accepts pre-encoded ids', () => {
    const vocab = TrimmedVocab.fromCorpus([[15496, 995], 'Hello']);
    expect(vocab.has(GPT2_EOS_ID)).toBe(true);
    expect(vocab.toFull([0, 1, 2])).toEqual([995, 15496, GPT2_EOS_ID]);
  });

  it('throws ShapeError on unseen tokens without <unk>, maps them to <unk> with it', () => {
    const strict = TrimmedVocab.fromCorpus(['apples and pears']);
    expect(() => strict.toCompact(encodeGpt2('bananas'))).toThrow(ShapeError);
    expect(() => strict.toCompact(encodeGpt2('bananas'))).toThrow(/unk: true/);

    const loose = TrimmedVocab.fromCorpus(['apples and pears'], { unk: true });
    expect(loose.unkId).toBe(loose.size - 1);
    const ids = loose.toCompact(encodeGpt2('apples and bananas'));
    expect(ids).toContain(loose.unkId);
    expect(() => loose.toFull(ids)).toThrow(/unk/);
    expect(loose.toFull(ids, 0)).toContain(0);
  });

  it('minCount drops rare tokens into <unk> and requires unk', () => {
    expect(() => TrimmedVocab.fromCorpus(['a a b'], { minCount: 2 })).toThrow(ShapeError);
    const vocab = TrimmedVocab.fromCorpus(['x y y', ' y'], { minCount: 2, unk: true });
    const y = encodeGpt2(' y')[0]!;
    expect(vocab.has(y)).toBe(true);
    expect(vocab.has(encodeGpt2('x')[0]!)).toBe(false);
    expect(vocab.size).toBe(3); // ' y', eos, <unk>
  });

  it('round-trips through JSON and rejects malformed files with ModelConfigError', () => {
    const vocab = TrimmedVocab.fromCorpus(corpus, { unk: true });
    const back = TrimmedVocab.fromJSON(JSON.parse(JSON.stringify(vocab)));
    expect(back.toJSON()).toEqual(vocab.toJSON());
    expect(back.size).toBe(vocab.size);
    const base = vocab.toJSON();
    expect(() => TrimmedVocab.fromJSON({ ...base, gpt2Ids: [5, 3, 50256] }, 'x.json')).toThrow(ModelConfigError);
    expect(() => TrimmedVocab.fromJSON({ ...base, gpt2Ids: [1, 2] }, 'x.json')).toThrow(/50256/);
    expect(() => TrimmedVocab.fromJSON({ ...base, gpt2Ids: [1, 50257] }, 'x.json')).toThrow(/x\.json/);
    expect(() => TrimmedVocab.fromJSON({ ...base, version: 2 })).toThrow(ModelConfigError);
  });

  it('rejects corpus ids that are not GPT-2 ids', () => {
    expect(() => TrimmedVocab.fromCorpus([[1, 2], [70000]])).toThrow(/corpus item 1/);
  });
});

describe('Tokenizer facade', () => {
  it('without a vocabulary it is plain GPT-2', () => {
    const tok = new Tokenizer();
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eosId).toBe(GPT2_EOS_ID);
    expect(tok.encode('a<|endoftext|>b')).toEqual([64, GPT2_EOS_ID, 65]);
  });

  it('with a vocabulary it speaks compact ids and renders <unk>', () => {
    const vocab = TrimmedVocab.fromCorpus(['The answer is 42.<|endoftext|>'], { unk: true });
    const tok = new Tokenizer(vocab);
    expect(tok.vocabSize).toBe(vocab.size);
    expect(tok.eosId).toBe(vocab.eosId);
    const ids = tok.encode('The answer is 42.<|endoftext|>');
    expect(ids.every((id) => id < vocab.size)).toBe(true);
    expect(ids.at(-1)).toBe(tok.eosId);
    expect(tok.decode(ids)).toBe('The answer is 42.<|endoftext|>');
    const withUnk = tok.encode('The answer is 43.');
    expect(tok.decode(withUnk)).toBe(`The answer is${UNK_TEXT}.`);
  });
});
