import type { TextTokenizer } from '../tokenizer/text-tokenizer.js';

/**
 * The text <-> id mapping a student trains with: the part of a TextTokenizer (GPT-2 BPE, a TrimmedVocab, or an HF
 * tokenizer.json) the trainer and the decoders read. Tests may pass any codec.
 * - `eosId` is appended to every completion, and the token that ends generation;
 * - `vocabSize` is the size of the id space the model's embedding must cover.
 */
export type TokenCodec = Pick<TextTokenizer, 'encode' | 'decode' | 'eosId' | 'vocabSize'>;
