export { decodeGpt2, encodeGpt2, END_OF_TEXT, GPT2_EOS_ID, GPT2_VOCAB_SIZE } from './bpe.js';
export {
  HFTokenizer,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
  TokenizerConfigJsonSchema,
  TokenizerJsonSchema,
  type HFTokenizerOptions,
  type TokenizerConfigJson,
} from './hf-tokenizer.js';
export type { TextTokenizer } from './text-tokenizer.js';
export { Tokenizer, UNK_TEXT } from './tokenizer.js';
export {
  TrimmedVocab,
  TrimmedVocabJsonSchema,
  type CorpusItem,
  type TrimmedVocabJson,
  type TrimmedVocabOptions,
} from './trimmed-vocab.js';
