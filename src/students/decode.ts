import type { TransformerCore } from '../backend/types.js';
import type { TokenCodec } from '../train/codec.js';
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
 * Batched KV-cached decoding. Prompts are left-padded (mask 0, positions from 0 at
 * the first real token), so every row continues at its own position.
 */
export async function generateBatched(core: TransformerCore, codec: TokenCodec, prompts: readonly string[], options: GenerateTextOptions): Promise<string[]> {
  const out: string[] = new Array(prompts.length);
  const batchSize = Math.max(1, options.batchSize ?? 32);
  const rng = new Rng(options.seed ?? 0);
  // Sort by length so batches pad little; results go back to input order.
  const order = prompts.map((p, i) => ({ i, ids: codec.encode(p) })).sort((a, b) => a.ids.length - b.ids.length);
  for (let s = 0; s < order.length; s += batchSize) {
    const chunk = order.slice(s, s + batchSize);
    const texts = await decodeChunk(core, codec, chunk.map((c) => c.ids), options, rng);
    chunk.forEach((c, k) => (out[c.i] = texts[k]!));
  }
  return out;
}

async function decodeChunk(core: TransformerCore, codec: TokenCodec, rows: number[][], options: GenerateTextOptions, rng: Rng): Promise<string[]> {
  const B = rows.length;
  const L = Math.max(1, ...rows.map((r) => r.length));
  const V = core.config.vocab_size;
  const maxNew = Math.max(0, Math.min(options.maxNewTokens, core.config.n_positions - L));
  const inputIds = new Int32Array(B * L).fill(codec.eosId);
  const attentionMask = new Uint8Array(B * L);
  const positionIds = new Int32Array(B * L);
  rows.forEach((ids, b) => {
    const pad = L - ids.length;
    inputIds.set(ids, b * L + pad);
    attentionMask.fill(1, b * L + pad, (b + 1) * L);
    for (let t = 0; t < ids.length; t++) positionIds[b * L + pad + t] = t;
  });
  const generated: number[][] = rows.map(() => []);
  const texts: Array<string | null> = rows.map(() => null);
  const done = rows.map(() => maxNew === 0);
  if (maxNew === 0) return rows.map(() => '');
  const session = await core.startDecode({ batchSize: B, seqLen: L, inputIds, attentionMask, positionIds }, { maxLength: L + maxNew });
  try {
    let logits = session.lastLogits;
    for (let k = 0; k < maxNew; k++) {
      const next = new Int32Array(B);
      const positions = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        positions[b] = Math.min(rows[b]!.length + k, core.config.n_positions - 1);
        if (done[b]) {
          next[b] = codec.eosId;
          continue;
        }
        const tok = pickToken(logits.subarray(b * V, (b + 1) * V), options, rng);
        next[b] = tok;
        if (tok === codec.eosId) {
          done[b] = true;
          continue;
        }
        generated[b]!.push(tok);
        if (options.stopSequences?.length) {
          const text = codec.decode(generated[b]!);
          const cut = firstStop(text, options.stopSequences);
          if (cut >= 0) {
            texts[b] = text.slice(0, cut);
            done[b] = true;
          }
        }
      }
      if (done.every(Boolean) || k === maxNew - 1) break;
      logits = await session.step(next, positions);
    }
  } finally {
    session.dispose();
  }
  return rows.map((_, b) => {
    if (texts[b] !== null) return texts[b]!;
    const text = codec.decode(generated[b]!);
    const cut = options.stopSequences ? firstStop(text, options.stopSequences) : -1;
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

function pickToken(logits: Float32Array, options: GenerateTextOptions, rng: Rng): number {
  if (options.greedy !== false) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  const temperature = Math.max(1e-4, options.temperature ?? 1);
  let candidates = Array.from(logits.keys());
  if (options.topK && options.topK < logits.length) {
    candidates = candidates.sort((a, b) => logits[b]! - logits[a]!).slice(0, options.topK);
  }
  const max = Math.max(...candidates.map((i) => logits[i]!));
  const weights = candidates.map((i) => Math.exp((logits[i]! - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let r = rng.next() * total;
  for (let j = 0; j < candidates.length; j++) {
    r -= weights[j]!;
    if (r <= 0) return candidates[j]!;
  }
  return candidates[candidates.length - 1]!;
}
