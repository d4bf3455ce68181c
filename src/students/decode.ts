import { archDims } from '../arch/config.js';
import type { CausalLM } from '../model/causal-lm.js';
import type { SamplingOptions } from '../model/sampling.js';
import type { TextTokenizer } from '../tokenizer/text-tokenizer.js';
import type { TokenCodec } from '../train/codec.js';
import { Rng } from '../util/rng.js';
import { tryEvaluate } from '../verify/expr.js';

export interface GenerateTextOptions {
  /** Upper bound on new tokens per prompt (also capped by the model's positions: n_positions, max_position_embeddings). */
  maxNewTokens: number;
  /** Default true. When false, sample with temperature / topK. */
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  seed?: number;
  /** Generation of a row ends when its text contains one of these (the stop text is cut off). EOS always ends it. */
  stopSequences?: readonly string[];
  /** Prompts decoded together in one KV-cached batch. Default 32. */
  batchSize?: number;
  /**
   * Calculator (default false): when a row's text ends with an arithmetic expression and `=`
   * (`Tom has 5 + 3 =`), the safe expression parser computes it and ` 8` is written in as if the
   * model had, the way GSM8K's calculator annotations were meant to be used. Inside a calculator
   * note (`<<5+3=`) the result goes in without the space. Fires once per `=`.
   */
  calculator?: boolean;
}

/** Anything that continues prompts with text: a trained student model, or a scripted stand-in in tests. */
export interface TextGenerator {
  generate(prompts: readonly string[], options: GenerateTextOptions): Promise<string[]>;
  /** Frees what the generator holds (a model's weights); scripted stand-ins need none. */
  dispose?(): void;
}

/**
 * The two turns of a Socratic solution. The Iterative pair has one model per turn; the Unified
 * student writes both turns with one model. Used to probe either kind turn by turn.
 */
export interface TurnModels {
  /** Writes the next `Q:` line (or the end marker) after a history. */
  proposer: TextGenerator;
  /** Writes the `A:` line after a history and a subquestion. */
  answerer: TextGenerator;
}

/** A codec that may end generation at several ids and pad with its own (a TextTokenizer); by default its eosId does both. */
export type DecodeCodec = TokenCodec & Partial<Pick<TextTokenizer, 'eosIds' | 'padId'>>;

/**
 * Batched KV-cached decoding through the model package's generate loop. Prompts are
 * sorted by length and decoded `batchSize` at a time (left-padded, so every row
 * continues at its own position); a row also ends once its text contains a stop string.
 */
export async function generateBatched(model: CausalLM, codec: DecodeCodec, prompts: readonly string[], options: GenerateTextOptions): Promise<string[]> {
  const out: string[] = new Array(prompts.length);
  const batchSize = Math.max(1, options.batchSize ?? 32);
  // One seed per chunk from a seeded stream: sampled output is reproducible for a given seed and batchSize.
  const chunkSeeds = new Rng(options.seed ?? 0);
  // Sort by length so batches pad little; results go back to input order.
  const order = prompts.map((p, i) => ({ i, ids: codec.encode(p) })).sort((a, b) => a.ids.length - b.ids.length);
  for (let s = 0; s < order.length; s += batchSize) {
    const chunk = order.slice(s, s + batchSize);
    const seed = Math.floor(chunkSeeds.next() * 2 ** 32);
    const texts = await decodeChunk(model, codec, chunk.map((c) => c.ids), options, seed);
    chunk.forEach((c, k) => (out[c.i] = texts[k]!));
  }
  return out;
}

async function decodeChunk(model: CausalLM, codec: DecodeCodec, rows: number[][], options: GenerateTextOptions, seed: number): Promise<string[]> {
  const L = Math.max(1, ...rows.map((r) => r.length));
  // Every row of the chunk gets the same budget, bounded by the longest prompt.
  const maxNewTokens = Math.max(0, Math.min(options.maxNewTokens, archDims(model.config).maxPositions - L));
  if (maxNewTokens === 0) return rows.map(() => '');
  const stops = options.stopSequences ?? [];
  const sampling: SamplingOptions = options.greedy === false ? { greedy: false, temperature: Math.max(1e-4, options.temperature ?? 1), topK: options.topK, seed } : { greedy: true };
  // Text stops: a stop string may be split over tokens in several ways, so match on the decoded text.
  const shouldStop = stops.length ? (_row: number, ids: readonly number[]): boolean => firstStop(codec.decode(ids), stops) >= 0 : undefined;
  const forceTokens = options.calculator ? calculatorTokens(codec) : undefined;
  // The model's own generate loop, with the student's codec deciding eos and padding (every EOS id of a tokenizer that has several).
  const generated = await model.generate(rows, {
    ...sampling, maxNewTokens, eosTokenId: codec.eosIds ?? codec.eosId, padTokenId: codec.padId ?? codec.eosId,
    ...(shouldStop ? { shouldStop } : {}), ...(forceTokens ? { forceTokens } : {}),
  });
  return generated.map((ids) => {
    const text = codec.decode(ids);
    const cut = firstStop(text, stops);
    return cut >= 0 ? text.slice(0, cut) : text;
  });
}

function firstStop(text: string, stops: readonly string[]): number {
  let best = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** Characters an arithmetic expression may contain (those the safe parser reads). */
const EXPRESSION_CHAR = /[\d.,+\-*/^() $x×÷]/;
/** Where an expression may begin: a number, a sign, a bracket or a currency sign. */
const EXPRESSION_START = /[\d.(\-$]/;
/** A binary operator between two operands: `5 + 3`, `(2)*4`, `3 x 4`. */
const BINARY_OPERATOR = /[\d)]\s*[-+*/^x×÷]\s*[-\d.($]/;

/**
 * What the calculator writes after `text`, or undefined when `text` does not end with
 * `<expression> =`. The expression is the longest arithmetic suffix before the `=` that the safe
 * parser accepts and that has at least one operator. Results are written like the training
 * data: integers without decimals, otherwise at most 2 decimals (`2.5`, `0.33`).
 */
export function calculatorCompletion(text: string): string | undefined {
  if (!text.endsWith('=') || /[=<>!]$/.test(text.slice(0, -1))) return undefined;
  const before = text.slice(0, -1);
  let from = before.length;
  while (from > 0 && EXPRESSION_CHAR.test(before[from - 1]!)) from--;
  for (let i = from; i < before.length; i++) {
    // Start at a word boundary, so the `x` of `box` is not read as a multiplication sign.
    if (!EXPRESSION_START.test(before[i]!) || (i > 0 && /[\p{L}\d]/u.test(before[i - 1]!))) continue;
    const expression = before.slice(i).trim();
    if (!BINARY_OPERATOR.test(expression)) continue;
    const value = tryEvaluate(expression);
    if (value === undefined) continue;
    const result = formatResult(value);
    if (result === undefined) return undefined;
    // In a `<<5+3=8>>` note the result follows the `=` directly; in a sentence after a space.
    return before.slice(0, i).endsWith('<<') ? result : ` ${result}`;
  }
  return undefined;
}

function formatResult(value: number): string | undefined {
  const rounded = Number(value.toFixed(2));
  if (!Number.isFinite(rounded) || Math.abs(rounded) >= 1e15) return undefined;
  return String(rounded === 0 ? 0 : rounded);
}

/**
 * The generate loop's forceTokens hook for the calculator. The text is only decoded when the
 * newest token contains `=`, and each `=` fires at most once per row.
 */
function calculatorTokens(codec: TokenCodec): (row: number, ids: readonly number[]) => number[] | undefined {
  const firedAt = new Map<number, number>();
  return (row, ids) => {
    if (!codec.decode(ids.slice(-1)).includes('=')) return undefined;
    const text = codec.decode(ids);
    if ((firedAt.get(row) ?? -1) >= text.length - 1) return undefined;
    const completion = calculatorCompletion(text);
    if (completion === undefined) return undefined;
    firedAt.set(row, text.length - 1);
    return encodeExactly(codec, completion);
  };
}

/**
 * Ids that decode back to exactly `text`. GPT-2 BPE splits ` 124` the same way alone as inside a
 * sentence (numbers are their own pre-tokens), so the whole text is tried first; a trimmed
 * vocabulary may lack that token (it would become `<unk>`), so then the longest pieces it does have.
 */
export function encodeExactly(codec: TokenCodec, text: string): number[] | undefined {
  const exact = (t: string): number[] | undefined => {
    try {
      const ids = codec.encode(t);
      return codec.decode(ids) === t ? ids : undefined;
    } catch {
      return undefined;
    }
  };
  const out: number[] = [];
  for (let i = 0; i < text.length; ) {
    let j = text.length;
    let ids: number[] | undefined;
    for (; j > i && !(ids = exact(text.slice(i, j))); j--);
    if (!ids) return undefined;
    out.push(...ids);
    i = j;
  }
  return out;
}
