import type { ModelConfig } from '../../arch/config.js';
import type { DecodeSession } from '../types.js';
import { sessionDisposeGuard, validateDecodeStep } from '../validation.js';
import type { CallQueue } from './common.js';
import type { RawCore } from './rawCore.js';

/** A prefilled decode session as RawCore.decodeStart left it. */
export interface StartedDecode {
  id: number;
  batchSize: number;
  /** The prompt length. */
  length: number;
  maxLength: number;
  /** Next-token logits after the prompt [batchSize * vocab]. */
  logits: Float32Array;
}

/** KV-cache decoding on a native core; the cache stays in native (or device) memory until dispose(). */
export class NativeDecodeSession implements DecodeSession {
  readonly batchSize: number;
  private readonly id: number;
  private readonly maxLength: number;
  private readonly guard = sessionDisposeGuard();
  private logits: Float32Array;
  private len: number;

  constructor(
    private readonly raw: RawCore,
    private readonly queue: CallQueue,
    private readonly config: ModelConfig,
    started: StartedDecode,
    private readonly onDispose: (s: NativeDecodeSession) => void,
  ) {
    this.id = started.id;
    this.batchSize = started.batchSize;
    this.len = started.length;
    this.maxLength = started.maxLength;
    this.logits = started.logits;
  }

  get length(): number {
    return this.len;
  }
  get lastLogits(): Float32Array {
    return this.logits;
  }

  async step(tokens: Int32Array, positions: Int32Array): Promise<Float32Array> {
    this.guard.check();
    validateDecodeStep(this.config, { batchSize: this.batchSize, length: this.len, maxLength: this.maxLength }, tokens, positions);
    const out = new Float32Array(this.batchSize * this.config.vocab_size);
    await this.queue.run(() => {
      this.guard.check(); // disposed while earlier calls were queued
      return this.raw.decodeStep(this.id, tokens, positions, out);
    });
    this.len += 1;
    this.logits = out;
    return out;
  }

  /** Frees the cache now; a step already running keeps it until that step is done. */
  dispose(): void {
    if (!this.guard.dispose()) return;
    this.raw.decodeFree(this.id);
    this.onDispose(this);
  }
}
