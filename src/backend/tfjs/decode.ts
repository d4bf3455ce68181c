import type { GPT2Config } from '../../arch/config.js';
import type { DecodeSession, TokenBatch } from '../types.js';
import { sessionDisposeGuard, validateDecodeLength, validateDecodeStep } from '../validation.js';
import { disposeInput, trunkInput } from './batch.js';
import { type ParamTensors, pname, trunk } from './model.js';
import { attentionBias, gelu, layerNorm, linear, mergeHeads, splitHeads } from './ops.js';
import { tf } from './runtime.js';

export interface DecodeHost {
  config: GPT2Config;
  params(): ParamTensors;
  /** wte^T [C, V] for the tied head. */
  headT(): tf.Tensor2D;
  ready(): Promise<void>;
  onDispose(session: TfjsDecodeSession): void;
}

/**
 * KV-cache decoding. Keys/values live per layer as [B, H, L, hd] and grow by one slot per step;
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
    const { config } = host;
    const { batchSize: B, seqLen: T } = prompt;
    const [logits, ...kv] = tf.tidy(() => {
      const input = trunkInput(prompt);
      const out = trunk(config, host.params(), input, { kv: true });
      const lastRows = tf.tensor1d(Int32Array.from({ length: B }, (_, b) => b * T + T - 1), 'int32');
      const last = tf.gather(out.hidden, lastRows) as tf.Tensor2D;
      const l = tf.matMul(last, host.headT());
      disposeInput(input);
      return [l, ...out.kv!.map((x) => x.k), ...out.kv!.map((x) => x.v)];
    });
    s.keys = kv.slice(0, config.n_layer) as tf.Tensor4D[];
    s.values = kv.slice(config.n_layer) as tf.Tensor4D[];
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
    const params = this.host.params();
    const P = (n: string): tf.Tensor => params.get(n)!;
    const H = config.n_head;
    const scale = 1 / Math.sqrt(config.n_embd / H);
    const eps = config.layer_norm_epsilon;
    const [logits, ...kv] = tf.tidy(() => {
      const bias = attentionBias(B, 1, L, mask, L - 1);
      let x = tf.add(
        tf.gather(P('transformer.wte.weight'), tf.tensor1d(tokens, 'int32')),
        tf.gather(P('transformer.wpe.weight'), tf.tensor1d(positions, 'int32')),
      ) as tf.Tensor2D;
      const ks: tf.Tensor4D[] = [];
      const vs: tf.Tensor4D[] = [];
      for (let l = 0; l < config.n_layer; l++) {
        const a = layerNorm(x, P(pname(l, 'ln_1.weight')), P(pname(l, 'ln_1.bias')), eps).y;
        const [qf, kf, vf] = tf.split(linear(a, P(pname(l, 'attn.c_attn.weight')), P(pname(l, 'attn.c_attn.bias'))), 3, 1);
        const k = tf.concat([this.keys[l]!, splitHeads(kf!, B, 1, H)], 2);
        const v = tf.concat([this.values[l]!, splitHeads(vf!, B, 1, H)], 2);
        const scores = tf.add(tf.mul(tf.matMul(splitHeads(qf!, B, 1, H), k, false, true), scale), bias);
        const y = mergeHeads(tf.matMul(tf.softmax(scores) as tf.Tensor4D, v));
        x = tf.add(x, linear(y, P(pname(l, 'attn.c_proj.weight')), P(pname(l, 'attn.c_proj.bias'))));
        const a2 = layerNorm(x, P(pname(l, 'ln_2.weight')), P(pname(l, 'ln_2.bias')), eps).y;
        const h = gelu(linear(a2, P(pname(l, 'mlp.c_fc.weight')), P(pname(l, 'mlp.c_fc.bias')))) as tf.Tensor2D;
        x = tf.add(x, linear(h, P(pname(l, 'mlp.c_proj.weight')), P(pname(l, 'mlp.c_proj.bias'))));
        ks.push(k);
        vs.push(v);
      }
      const hf = layerNorm(x, P('transformer.ln_f.weight'), P('transformer.ln_f.bias'), eps).y;
      return [tf.matMul(hf, this.host.headT()), ...ks, ...vs];
    });
    tf.dispose([...this.keys, ...this.values]);
    this.keys = kv.slice(0, config.n_layer) as tf.Tensor4D[];
    this.values = kv.slice(config.n_layer) as tf.Tensor4D[];
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
