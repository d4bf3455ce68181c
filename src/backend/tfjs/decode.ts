import type { ModelConfig } from '../../arch/config.js';
import type { DecodeSession, TokenBatch } from '../types.js';
import { sessionDisposeGuard, validateDecodeLength, validateDecodeStep } from '../validation.js';
import { disposeInput, trunkInput } from './batch.js';
import { attentionBias } from './ops.js';
import { tf } from './runtime.js';
import type { ParamTensors, TfjsTrunk } from './trunk.js';

export interface DecodeHost {
  config: ModelConfig;
  trunk: TfjsTrunk;
  params(): ParamTensors;
  /** The head weight transposed, [C, V]. */
  headT(): tf.Tensor2D;
  ready(): Promise<void>;
  onDispose(session: TfjsDecodeSession): void;
}

/**
 * KV-cache decoding. Keys/values live per layer as [B, KV heads, L, hd] and grow by one slot per step;
 * the key mask is kept in JS so pads of the prompt stay masked as keys for the whole session.
 */
export class TfjsDecodeSession implements DecodeSession {
  readonly batchSize: number;
  lastLogits: Float32Array = new Float32Array(0);
  private keys: tf.Tensor4D[] = [];
  private values: tf.Tensor4D[] = [];
  private keyMask: Uint8Array;
  private readonly guard = sessionDisposeGuard();

  private constructor(
    private readonly host: DecodeHost,
    prompt: TokenBatch,
    private readonly maxLength: number,
  ) {
    this.batchSize = prompt.batchSize;
    this.keyMask = prompt.attentionMask ? Uint8Array.from(prompt.attentionMask) : new Uint8Array(prompt.batchSize * prompt.seqLen).fill(1);
  }

  static async start(host: DecodeHost, prompt: TokenBatch, maxLength: number): Promise<TfjsDecodeSession> {
    validateDecodeLength(maxLength, prompt.seqLen);
    const s = new TfjsDecodeSession(host, prompt, maxLength);
    const { trunk } = host;
    const { batchSize: B, seqLen: T } = prompt;
    const [logits, ...kv] = tf.tidy(() => {
      const input = trunkInput(prompt);
      const out = trunk.forward(host.params(), input, { kv: true });
      const lastRows = tf.tensor1d(Int32Array.from({ length: B }, (_, b) => b * T + T - 1), 'int32');
      const last = tf.gather(out.hidden, lastRows) as tf.Tensor2D;
      const l = tf.matMul(last, host.headT());
      disposeInput(input);
      return [l, ...out.kv!.map((x) => x.k), ...out.kv!.map((x) => x.v)];
    });
    s.keys = kv.slice(0, trunk.layers) as tf.Tensor4D[];
    s.values = kv.slice(trunk.layers) as tf.Tensor4D[];
    s.lastLogits = (await logits!.data()) as Float32Array;
    logits!.dispose();
    return s;
  }

  get length(): number {
    return this.keyMask.length / this.batchSize;
  }

  bytes(): number {
    return [...this.keys, ...this.values].reduce((n, t) => n + t.size * 4, 0);
  }

  async step(tokens: Int32Array, positions: Int32Array): Promise<Float32Array> {
    this.guard.check();
    await this.host.ready();
    const { config } = this.host;
    const B = this.batchSize;
    validateDecodeStep(config, { batchSize: B, length: this.length, maxLength: this.maxLength }, tokens, positions);
    const L = this.length + 1;
    const mask = new Uint8Array(B * L);
    for (let b = 0; b < B; b++) {
      mask.set(this.keyMask.subarray(b * (L - 1), (b + 1) * (L - 1)), b * L);
      mask[b * L + L - 1] = 1;
    }
    const { trunk } = this.host;
    const [logits, ...kv] = tf.tidy(() => {
      const input = { batch: B, seqLen: 1, ids: tf.tensor1d(tokens, 'int32'), positions: tf.tensor1d(positions, 'int32'), bias: attentionBias(B, 1, L, mask, L - 1) };
      const past = this.keys.map((k, l) => ({ k, v: this.values[l]! }));
      const out = trunk.decodeStep(this.host.params(), input, past);
      return [tf.matMul(out.hidden, this.host.headT()), ...out.kv.map((x) => x.k), ...out.kv.map((x) => x.v)];
    });
    tf.dispose([...this.keys, ...this.values]);
    this.keys = kv.slice(0, trunk.layers) as tf.Tensor4D[];
    this.values = kv.slice(trunk.layers) as tf.Tensor4D[];
    this.keyMask = mask;
    this.lastLogits = (await logits!.data()) as Float32Array;
    logits!.dispose();
    return this.lastLogits;
  }

  dispose(): void {
    if (!this.guard.dispose()) return;
    tf.dispose([...this.keys, ...this.values]);
    this.keys = [];
    this.values = [];
    this.host.onDispose(this);
  }
}
