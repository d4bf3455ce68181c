import type { GPT2Config } from '../../arch/config.js';
import { ShapeError } from '../../errors.js';
import type { DecodeSession, TokenBatch } from '../types.js';
import type { RawCore, RawKVCache } from './addon.js';
import type { CallQueue } from './common.js';
import { checkBatch } from './batch.js';

/** KV-cache decoding on the native core; the cache lives in native memory until dispose(). */
export class NativeDecodeSession implements DecodeSession {
  private cache: RawKVCache | undefined;
  private logits: Float32Array;
  private len = 0;

  constructor(
    private readonly raw: RawCore,
    private readonly queue: CallQueue,
    private readonly config: GPT2Config,
    readonly batchSize: number,
    private readonly maxLength: number,
    private readonly onDispose: (s: NativeDecodeSession) => void,
  ) {
    this.cache = raw.newCache(batchSize, maxLength);
    this.logits = new Float32Array(batchSize * config.vocab_size);
  }

  get length(): number {
    return this.len;
  }
  get lastLogits(): Float32Array {
    return this.logits;
  }

  bytes(): number {
    return this.cache ? this.cache.bytes() : 0;
  }

  private live(): RawKVCache {
    if (!this.cache) throw new ShapeError('decode session was disposed');
    return this.cache;
  }

  async prefill(prompt: TokenBatch): Promise<void> {
    const out = new Float32Array(this.batchSize * this.config.vocab_size);
    await this.queue.run(() =>
      this.raw.decode(this.live(), prompt.inputIds, prompt.attentionMask ?? null, prompt.positionIds ?? null, this.batchSize, prompt.seqLen, out),
    );
    this.len = prompt.seqLen;
    this.logits = out;
  }

  async step(tokens: Int32Array, positions: Int32Array): Promise<Float32Array> {
    const B = this.batchSize;
    if (tokens.length !== B || positions.length !== B) {
      throw new ShapeError(`decode step: expected ${B} tokens and ${B} positions, got ${tokens.length} and ${positions.length}`);
    }
    if (this.len >= this.maxLength) throw new ShapeError(`decode step: the cache is full (maxLength ${this.maxLength})`);
    checkBatch({ batchSize: B, seqLen: 1, inputIds: tokens, positionIds: positions }, this.config, 'decode step');
    const out = new Float32Array(B * this.config.vocab_size);
    await this.queue.run(() => this.raw.decode(this.live(), tokens, null, positions, B, 1, out));
    this.len += 1;
    this.logits = out;
    return out;
  }

  dispose(): void {
    if (!this.cache) return;
    this.cache.dispose();
    this.cache = undefined;
    this.onDispose(this);
  }
}
