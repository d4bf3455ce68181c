/**
 * The text <-> id mapping every student and model uses, whatever produced the ids: GPT-2 BPE (optionally through a
 * TrimmedVocab: `Tokenizer`) or a Hugging Face `tokenizer.json` (`HFTokenizer`, e.g. SmolLM2 or Qwen3).
 * Ids are always in the model's id space.
 */
export interface TextTokenizer {
  /** Which family produced the ids: GPT-2 BPE (`gpt2`, trimmed or not) or a tokenizer.json (`hf`). */
  readonly kind: 'gpt2' | 'hf';
  /**
   * Text to ids, adding no BOS/EOS of its own (students add the EOS they train with). Special tokens written inside
   * the text (`<|endoftext|>`, `<|im_end|>`) become their ids.
   */
  encode(text: string): number[];
  /**
   * Ids to text; an empty list is the empty string. Throws ShapeError on an id outside [0, vocabSize) (an HFTokenizer
   * built for a model with padded embedding rows decodes those ids to nothing instead, as HF does).
   */
  decode(ids: readonly number[]): string;
  /** The id students append to every completion and generation stops at: the first of eosIds. */
  readonly eosId: number;
  /** Every id that ends a generation (a model may have several, e.g. `<|im_end|>` and `<|endoftext|>`). */
  readonly eosIds: readonly number[];
  /** The id batches are padded with. */
  readonly padId: number;
  /** Ids are in [0, vocabSize): the model's embedding must cover at least this many rows. */
  readonly vocabSize: number;
}
