import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelConfigError, ShapeError } from '../src/errors.js';
import { HFTokenizer, type TextTokenizer, Tokenizer } from '../src/tokenizer/index.js';
import { hasModernFixtures, MODERN_DIR } from './helpers/modern.js';

const TOK_DIR = join(MODERN_DIR, 'tokenizer-bpe');
const read = (name: string): unknown => JSON.parse(readFileSync(join(TOK_DIR, name), 'utf8'));

interface EncodingsJson {
  vocab_size: number;
  eos_id: number;
  pad_id: number;
  specials: Record<string, number>;
  encodings: Array<{ text: string; ids: number[]; decoded: string }>;
  chat_template_example: { text: string; ids: number[] };
}

describe.skipIf(!hasModernFixtures)('HFTokenizer (tokenizer.json through @huggingface/tokenizers) vs HF tokenizers', () => {
  const fx = hasModernFixtures ? (read('encodings.json') as EncodingsJson) : undefined;
  const tok = hasModernFixtures ? HFTokenizer.fromJSON(read('tokenizer.json'), read('tokenizer_config.json'), { source: TOK_DIR }) : undefined;

  it('has the fixture vocabulary and special ids (eos and pad from tokenizer_config.json)', () => {
    expect(fx!.encodings).toHaveLength(16);
    expect(tok!.kind).toBe('hf');
    expect(tok!.vocabSize).toBe(fx!.vocab_size);
    expect(tok!.eosId).toBe(fx!.eos_id);
    expect(tok!.eosIds).toEqual([fx!.eos_id]);
    expect(tok!.padId).toBe(fx!.pad_id);
    for (const [text, id] of Object.entries(fx!.specials)) expect(tok!.tokenToId(text)).toBe(id);
  });

  it.each((fx?.encodings ?? []).map((c, i) => [i, c] as const))('string %i encodes to the HF ids and decodes back', (_i, c) => {
    expect(tok!.encode(c.text)).toEqual(c.ids);
    expect(tok!.decode(c.ids)).toBe(c.decoded);
  });

  it('matches special tokens inside text, splits digits one by one, and encodes the chat example', () => {
    expect(tok!.encode('x<|endoftext|>y')).toEqual([90, 0, 91]);
    expect(tok!.encode('12345678')).toHaveLength(8);
    expect(tok!.encode(fx!.chat_template_example.text)).toEqual(fx!.chat_template_example.ids);
  });

  it('decodes an empty list to the empty string (the library itself throws) and refuses ids outside the vocabulary', () => {
    expect(tok!.decode([])).toBe('');
    expect(() => tok!.decode([fx!.vocab_size])).toThrow(ShapeError);
    expect(() => tok!.decode([-1])).toThrow(ShapeError);
    expect(() => tok!.decode([1.5])).toThrow(ShapeError);
  });

  it("decodes ids of the model's padded embedding rows to nothing (as HF does), and still refuses ids beyond them", () => {
    const t = HFTokenizer.fromJSON(read('tokenizer.json'), read('tokenizer_config.json'), { modelVocabSize: 1024 });
    expect(t.vocabSize).toBe(1000);
    expect(t.decode([90, 1000, 1023, 91])).toBe(t.decode([90, 91]));
    expect(t.decode([1010])).toBe('');
    expect(() => t.decode([1024])).toThrow(/not in this tokenizer's 1000 ids nor among the model's 1024/);
  });

  it('takes EOS and pad ids from the model when given, and refuses ids outside the vocabulary', () => {
    const t = HFTokenizer.fromJSON(read('tokenizer.json'), read('tokenizer_config.json'), { eosIds: [2, 0], padId: 1 });
    expect(t.eosId).toBe(2);
    expect(t.eosIds).toEqual([2, 0]);
    expect(t.padId).toBe(1);
    expect(() => HFTokenizer.fromJSON(read('tokenizer.json'), {}, { eosIds: [5000] })).toThrow(/EOS id 5000/);
  });

  it('round-trips through toFiles()', () => {
    const files = tok!.toFiles();
    const again = HFTokenizer.fromJSON(files['tokenizer.json'], files['tokenizer_config.json']);
    for (const c of fx!.encodings) expect(again.encode(c.text)).toEqual(c.ids);
  });

  it('bad files are ModelConfigErrors naming the file', () => {
    const where = '/models/x';
    const expectError = (fn: () => unknown, pattern: RegExp): void => {
      expect(fn).toThrow(ModelConfigError);
      expect(fn).toThrow(pattern);
    };
    expectError(() => HFTokenizer.fromJSON('{not json', {}, { source: where }), /\/models\/x\/tokenizer\.json: not valid JSON/);
    expectError(() => HFTokenizer.fromJSON({ version: '1.0' }, {}, { source: where }), /\/models\/x\/tokenizer\.json: invalid at model/);
    expectError(() => HFTokenizer.fromJSON({ model: { type: 'Nope' }, added_tokens: [] }, {}, { source: where }), /tokenizer\.json: @huggingface\/tokenizers cannot build/);
    expectError(() => HFTokenizer.fromJSON(read('tokenizer.json'), { eos_token: 42 }, { source: where }), /tokenizer_config\.json: invalid at eos_token/);
    expectError(() => HFTokenizer.fromJSON(read('tokenizer.json'), { eos_token: '<|nope|>' }, { source: where }), /eos_token "<\|nope\|>" is not a token/);
    expectError(() => HFTokenizer.fromJSON(read('tokenizer.json'), {}, { source: where }), /no EOS token/);
  });
});

describe('TextTokenizer', () => {
  it('is what the GPT-2 Tokenizer implements too (eos doubles as pad)', () => {
    const t: TextTokenizer = new Tokenizer();
    expect(t.kind).toBe('gpt2');
    expect(t.eosIds).toEqual([50256]);
    expect(t.padId).toBe(50256);
    expect(t.decode([])).toBe('');
  });
});
