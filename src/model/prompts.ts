import { ShapeError } from '../errors.js';
import type { TokenBatch } from '../backend/types.js';

export interface PromptLimits {
  vocabSize: number;
  nPositions: number;
  maxNewTokens: number;
  /** Id written into left-padding slots (masked, so any valid id works). */
  padId: number;
}

/** A left-padded prompt batch plus the position each row's next token takes. */
export interface PreparedPrompts {
  batch: TokenBatch & { attentionMask: Uint8Array; positionIds: Int32Array };
  /** Position of the next token per row: number of real tokens so far (= max position + 1). */
  nextPositions: Int32Array;
}

/**
 * Turn per-row prompts into one left-padded batch with HF generate semantics:
 * mask 0 on pads, positions = cumsum(mask) - 1 with pads at 0. Rows of different
 * lengths are padded here; with `attentionMask` the caller's padding is honoured
 * instead (rows must then have equal lengths and end with a real token).
 */
export function preparePrompts(promptIds: readonly (readonly number[])[], attentionMask: readonly (readonly number[])[] | undefined, limits: PromptLimits): PreparedPrompts {
  if (!Array.isArray(promptIds as unknown) || promptIds.length === 0) throw new ShapeError('generate: promptIds must be a non-empty array of rows');
  const { maxNewTokens, nPositions, vocabSize, padId } = limits;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new ShapeError(`generate: maxNewTokens must be an integer >= 0, got ${maxNewTokens}`);
  const B = promptIds.length;
  promptIds.forEach((row, b) => {
    if (!Array.isArray(row as unknown)) throw new ShapeError(`generate: promptIds[${b}] must be an array of token ids`);
  });
  const masks: number[][] = attentionMask ? checkMask(promptIds, attentionMask) : promptIds.map((row) => row.map(() => 1));
  const T = Math.max(...promptIds.map((row) => row.length));
  const ids = new Int32Array(B * T).fill(padId);
  const mask = new Uint8Array(B * T);
  const positions = new Int32Array(B * T);
  const nextPositions = new Int32Array(B);
  promptIds.forEach((row, b) => {
    const real = masks[b]!.reduce((n: number, m: number) => n + m, 0);
    if (real === 0) throw new ShapeError(`generate: promptIds[${b}] has no real tokens; a prompt needs at least one`);
    if (real + maxNewTokens > nPositions) {
      throw new ShapeError(`generate: promptIds[${b}] has ${real} tokens + maxNewTokens ${maxNewTokens} = ${real + maxNewTokens}, more than n_positions ${nPositions}`);
    }
    const pad = T - row.length;
    let seen = 0;
    row.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new ShapeError(`generate: promptIds[${b}][${t}] = ${id} is outside the vocabulary [0, ${vocabSize})`);
      }
      const m = masks[b]![t]!;
      const i = b * T + pad + t;
      ids[i] = id;
      mask[i] = m;
      positions[i] = m ? seen : 0;
      seen += m;
    });
    nextPositions[b] = seen;
  });
  return { batch: { batchSize: B, seqLen: T, inputIds: ids, attentionMask: mask, positionIds: positions }, nextPositions };
}

function checkMask(promptIds: readonly (readonly number[])[], attentionMask: readonly (readonly number[])[]): number[][] {
  if (!Array.isArray(attentionMask as unknown) || attentionMask.length !== promptIds.length) {
    throw new ShapeError(`generate: attentionMask has ${attentionMask?.length} rows but promptIds has ${promptIds.length}`);
  }
  const T = promptIds[0]?.length ?? 0;
  return promptIds.map((row, b) => {
    const m = attentionMask[b];
    if (!Array.isArray(m as unknown) || m === undefined || m.length !== row.length || row.length !== T) {
      throw new ShapeError(`generate: with an attentionMask every row of promptIds and attentionMask must have the same length (row ${b})`);
    }
    m.forEach((v, t) => {
      if (v !== 0 && v !== 1) throw new ShapeError(`generate: attentionMask[${b}][${t}] = ${v}; expected 0 or 1`);
    });
    if (m.length > 0 && m[m.length - 1] === 0) {
      throw new ShapeError(`generate: attentionMask[${b}] ends with padding; generation needs LEFT padding (or pass unpadded rows without a mask)`);
    }
    return [...m];
  });
}
