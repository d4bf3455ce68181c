import type { GPT2Config } from '../../arch/config.js';
import { ShapeError } from '../../errors.js';
import type { DecodeSession } from '../types.js';
import { checkBatch } from './batch.js';
import type { CallQueue } from './common.js';
import type { RawCudaGpt } from './cudaAddon.js';

/** KV-cache decoding on the GPU; the cache stays in device memory until dispose(). */
export class CudaDecodeSession implements DecodeSession {
  private id: number | undefined;
  private logits: Float32Array;
  private len: number;

  constructor(
    private readonly raw: RawCudaGpt,
    private readonly queue: CallQueue,
    private readonly config: GPT2Config,
    readonly batchSize: number,
    promptLength: number,
    private readonly maxLength: number,
    started: { id: number; logits: Float32Array },
    private readonly onDispose: (s: CudaDecodeSession) => void,
  ) {
    this.id = started.id;
    this.logits = started.logits;
    this.len = promptLength;
  }

  get length(): number {
    return this.len;
  }
  get lastLogits(): Float32Array {
    return this.logits;
  }

  async step(tokens: Int32Array, positions: Int32Array): Promise<Float32Array> {
    const B = this.batchSize;
    if (this.id === undefined) throw new ShapeError('decode session was disposed');
    if (tokens.length !== B || positions.length !== B) {
      throw new ShapeError(`decode step: expected ${B} tokens and ${B} positions, got ${tokens.length} and ${positions.length}`);
    }
    if (this.len >= this.maxLength) throw new ShapeError(`decode step: the cache is full (maxLength ${this.maxLength})`);
    checkBatch({ batchSize: B, seqLen: 1, inputIds: tokens, positionIds: positions }, this.config, 'decode step');
    const id = this.id;
    const out = new Float32Array(B * this.config.vocab_size);
    await this.queue.run(() => this.raw.decodeStep(id, tokens, positions, out));
    this.len += 1;
    this.logits = out;
    return out;
  }

  dispose(): void {
    if (this.id === undefined) return;
    const id = this.id;
    this.id = undefined;
    void this.queue.run(() => this.raw.decodeFree(id));
    this.onDispose(this);
  }
}
