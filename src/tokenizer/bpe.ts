import { decode, encode } from 'gpt-tokenizer/encoding/r50k_base';
import { ShapeError } from '../errors.js';

/** GPT-2's only special token; it doubles as eos and pad. */
export const END_OF_TEXT = '<|endoftext|>';
export const GPT2_EOS_ID = 50256;
export const GPT2_VOCAB_SIZE = 50257;

/**
 * GPT-2 BPE (r50k_base). `<|endoftext|>` becomes 50256 wherever it appears:
 * gpt-tokenizer 4.0.0 only recognises it at the very start of a string, so the
 * text is split on the literal, each piece encoded as plain text, and the
 * pieces joined with 50256.
 */
export function encodeGpt2(text: string): number[] {
  const pieces = text.split(END_OF_TEXT);
  const out: number[] = [];
  pieces.forEach((piece, i) => {
    if (i > 0) out.push(GPT2_EOS_ID);
    if (piece.length > 0) for (const id of encode(piece)) out.push(id);
  });
  return out;
}

/** Inverse of encodeGpt2 for any id in [0, 50257); 50256 decodes to `<|endoftext|>`. */
export function decodeGpt2(ids: readonly number[]): string {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= GPT2_VOCAB_SIZE) {
      throw new ShapeError(`token id ${id} at index ${i} is not a GPT-2 id (0..${GPT2_VOCAB_SIZE - 1})`);
    }
  }
  return decode(ids);
}
