/**
 * The text <-> id mapping a student trains with. The project's Tokenizer (GPT-2 BPE,
 * optionally through a TrimmedVocab) satisfies it; tests may pass any codec.
 */
export interface TokenCodec {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** Appended to every completion, and the token that ends generation. */
  readonly eosId: number;
  /** Size of the id space the model's embedding must cover. */
  readonly vocabSize: number;
}
