import { decodeGpt2, encodeGpt2, GPT2_EOS_ID, GPT2_VOCAB_SIZE } from './bpe.js';
import type { TextTokenizer } from './text-tokenizer.js';
import type { TrimmedVocab } from './trimmed-vocab.js';

/** How `<unk>` (a trimmed-vocabulary id with no GPT-2 token) is rendered by decode. */
export const UNK_TEXT = '<unk>';

/**
 * The GPT-2 tokenizer students call: GPT-2 BPE, optionally renumbered through a
 * TrimmedVocab. Ids in and out are always in the model's id space.
 */
export class Tokenizer implements TextTokenizer {
  readonly kind = 'gpt2';

  constructor(readonly vocab?: TrimmedVocab) {}

  /** Id of `<|endoftext|>` (eos and pad) in the model's id space. */
  get eosId(): number {
    return this.vocab ? this.vocab.eosId : GPT2_EOS_ID;
  }

  /** GPT-2 has one special token: `<|endoftext|>` ends a text and pads a batch. */
  get eosIds(): readonly number[] {
    return [this.eosId];
  }

  get padId(): number {
    return this.eosId;
  }

  get vocabSize(): number {
    return this.vocab ? this.vocab.size : GPT2_VOCAB_SIZE;
  }

  /** `<|endoftext|>` anywhere in the text becomes eosId. */
  encode(text: string): number[] {
    const ids = encodeGpt2(text);
    return this.vocab ? this.vocab.toCompact(ids) : ids;
  }

  decode(ids: readonly number[]): string {
    const vocab = this.vocab;
    if (!vocab) return decodeGpt2(ids);
    if (vocab.unkId === undefined) return decodeGpt2(vocab.toFull(ids));
    // Decode the runs between <unk> ids separately so each <unk> shows up as text.
    const parts: string[] = [];
    let run: number[] = [];
    for (const id of ids) {
      if (id === vocab.unkId) {
        parts.push(decodeGpt2(vocab.toFull(run)), UNK_TEXT);
        run = [];
      } else run.push(id);
    }
    parts.push(decodeGpt2(vocab.toFull(run)));
    return parts.join('');
  }
}
