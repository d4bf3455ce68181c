import type { TransformerCore } from '../backend/types.js';
import type { TokenCodec } from '../train/codec.js';
import { generateTokens } from '../model/generate.js';
import type { SamplingOptions } from '../model/sampling.js';
import { Rng } from '../util/rng.js';

export interface GenerateTextOptions {
  /** Upper bound on new tokens per prompt (also capped by n_positions). */
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
}

/** Anything that continues prompts with text: a trained student model, or a scripted stand-in in tests. */
export interface TextGenerator {
  generate(prompts: readonly string[], options: GenerateTextOptions): Promise<string[]>;
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

/**
 * Batched KV-cached decoding through the model package's generate loop. Prompts are
 * sorted by length and decoded `batchSize` at a time (left-padded, so every row
 * continues at its own position); a row also ends once its text contains a stop string.
 */
export async function generateBatched(core: TransformerCore, codec: TokenCodec, prompts: readonly string[], options: GenerateTextOptions): Promise<string[]> {
  const out: string[] = new Array(prompts.length);
  const batchSize = Math.max(1, options.batchSize ?? 32);
  // One seed per chunk from a seeded stream: sampled output is reproducible for a given seed and batchSize.
  const chunkSeeds = new Rng(options.seed ?? 0);
  // Sort by length so batches pad little; results go back to input order.
  const order = prompts.map((p, i) => ({ i, ids: codec.encode(p) })).sort((a, b) => a.ids.length - b.ids.length);
  for (let s = 0; s < order.length; s += batchSize) {
    const chunk = order.slice(s, s + batchSize);
    const seed = Math.floor(chunkSeeds.next() * 2 ** 32);
    const texts = await decodeChunk(core, codec, chunk.map((c) => c.ids), options, seed);
    chunk.forEach((c, k) => (out[c.i] = texts[k]!));
  }
  return out;
}

async function decodeChunk(core: TransformerCore, codec: TokenCodec, rows: number[][], options: GenerateTextOptions, seed: number): Promise<string[]> {
  const L = Math.max(1, ...rows.map((r) => r.length));
  // Every row of the chunk gets the same budget, bounded by the longest prompt.
  const maxNewTokens = Math.max(0, Math.min(options.maxNewTokens, core.config.n_positions - L));
  if (maxNewTokens === 0) return rows.map(() => '');
  const stops = options.stopSequences ?? [];
  const sampling: SamplingOptions = options.greedy === false ? { greedy: false, temperature: Math.max(1e-4, options.temperature ?? 1), topK: options.topK, seed } : { greedy: true };
  // Text stops: a stop string may be split over tokens in several ways, so match on the decoded text.
  const shouldStop = stops.length ? (_row: number, ids: readonly number[]): boolean => firstStop(codec.decode(ids), stops) >= 0 : undefined;
  const generated = await generateTokens(core, rows, { ...sampling, maxNewTokens, ...(shouldStop ? { shouldStop } : {}) }, { eosId: codec.eosId, padId: codec.eosId });
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
