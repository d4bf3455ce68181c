import type { GPT2Config } from '../../arch/config.js';
import { loraDelta, loraDeltaBackward, type TrunkLora } from './lora.js';
import { tf } from './runtime.js';
import { type LayerKV, param, type ParamTensors, type TfjsTrunk, type TrunkInput, type TrunkOutput } from './trunk.js';
import {
  type LayerNormSaved,
  gelu,
  geluBackward,
  layerNorm,
  layerNormBackward,
  linear,
  linearBackward,
  mergeHeads,
  splitHeads,
} from './ops.js';

/** What one block's backward step reads; saved only when gradients are wanted. */
type BlockSaved = {
  ln1: LayerNormSaved;
  a1: tf.Tensor2D;
  q: tf.Tensor4D;
  k: tf.Tensor4D;
  v: tf.Tensor4D;
  att: tf.Tensor4D;
  y: tf.Tensor2D;
  ln2: LayerNormSaved;
  a2: tf.Tensor2D;
  pre: tf.Tensor2D;
  act: tf.Tensor2D;
};

type Gpt2Saved = { blocks: BlockSaved[]; lnf: LayerNormSaved };

/**
 * GPT-2's trunk for TfjsCore: learned positions, LayerNorm, gelu_new MLP, tied head. With `lora`, the targeted
 * Conv1D layers (c_attn, both c_proj, c_fc) add their adapter's output and the base is frozen: backward returns the
 * adapter gradients alone and computes no weight gradient of the base.
 */
export function gpt2Trunk(config: GPT2Config, lora?: TrunkLora): TfjsTrunk<Gpt2Saved> {
  return {
    layers: config.n_layer,
    headName: 'transformer.wte.weight',
    storedTransposed: new Set(), // Conv1D weights are already [in, out]
    forward: (params, input, want) => trunk(config, lora, params, input, want),
    backward: (params, input, saved, dHidden) => trunkBackward(config, lora, params, input, saved, dHidden),
    decodeStep: (params, input, past) => decodeStep(config, lora, params, input, past),
  };
}

const pname = (l: number, rest: string): string => `transformer.h.${l}.${rest}`;

/** Conv1D `role` of layer l (x W + b), plus its adapter's output when it has one. */
function conv(lora: TrunkLora | undefined, params: ParamTensors, l: number, role: string, x: tf.Tensor2D): tf.Tensor2D {
  const w = pname(l, `${role}.weight`);
  const y = linear(x, param(params, w), param(params, pname(l, `${role}.bias`)));
  const delta = loraDelta(lora, params, w, x);
  return delta ? (tf.add(y, delta) as tf.Tensor2D) : y;
}

/** Embeddings + blocks + ln_f. Call inside tf.tidy; the caller keeps what it returns. */
function trunk(
  config: GPT2Config,
  lora: TrunkLora | undefined,
  params: ParamTensors,
  input: TrunkInput,
  want: { save?: boolean; hiddenStates?: boolean; kv?: boolean } = {},
): TrunkOutput<Gpt2Saved> {
  const { batch: B, seqLen: T } = input;
  const H = config.n_head;
  const P = (n: string): tf.Tensor => param(params, n);
  const scale = 1 / Math.sqrt(config.n_embd / H);
  const eps = config.layer_norm_epsilon;

  let x = tf.add(tf.gather(P('transformer.wte.weight'), input.ids), tf.gather(P('transformer.wpe.weight'), input.positions)) as tf.Tensor2D;
  const hiddenStates: tf.Tensor2D[] = [];
  const blocks: BlockSaved[] = [];
  const kv: LayerKV[] = [];
  if (want.hiddenStates) hiddenStates.push(x);

  for (let l = 0; l < config.n_layer; l++) {
    // One tidy per block: its temporaries die here, only the residual and what backward reads survive.
    const block = tf.tidy(() => {
      const ln1 = layerNorm(x, P(pname(l, 'ln_1.weight')), P(pname(l, 'ln_1.bias')), eps);
      const qkv = conv(lora, params, l, 'attn.c_attn', ln1.y);
      const [qf, kf, vf] = tf.split(qkv, 3, 1);
      const q = splitHeads(qf!, B, T, H);
      const k = splitHeads(kf!, B, T, H);
      const v = splitHeads(vf!, B, T, H);
      const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), scale), input.bias);
      const att = tf.softmax(scores) as tf.Tensor4D;
      const y = mergeHeads(tf.matMul(att, v));
      const x2 = tf.add(x, conv(lora, params, l, 'attn.c_proj', y)) as tf.Tensor2D;
      const ln2 = layerNorm(x2, P(pname(l, 'ln_2.weight')), P(pname(l, 'ln_2.bias')), eps);
      const pre = conv(lora, params, l, 'mlp.c_fc', ln2.y);
      const act = gelu(pre) as tf.Tensor2D;
      const out = tf.add(x2, conv(lora, params, l, 'mlp.c_proj', act)) as tf.Tensor2D;
      const saved: BlockSaved | undefined = want.save ? { ln1: ln1.saved, a1: ln1.y, q, k, v, att, y, ln2: ln2.saved, a2: ln2.y, pre, act } : undefined;
      return { out, saved, kv: want.kv ? { k, v } : undefined };
    });
    if (!want.hiddenStates) x.dispose(); // otherwise it is a returned hidden state
    x = block.out;
    if (block.saved) blocks.push(block.saved);
    if (block.kv) kv.push(block.kv);
    if (want.hiddenStates && l < config.n_layer - 1) hiddenStates.push(x);
  }
  const lnf = layerNorm(x, P('transformer.ln_f.weight'), P('transformer.ln_f.bias'), eps);
  if (want.hiddenStates) hiddenStates.push(lnf.y);
  const out: TrunkOutput<Gpt2Saved> = { hidden: lnf.y };
  if (want.hiddenStates) out.hiddenStates = hiddenStates;
  if (want.kv) out.kv = kv;
  if (want.save) out.saved = { blocks, lnf: lnf.saved };
  return out;
}

/**
 * Backward through ln_f, the blocks and both embeddings, given d(loss)/d(ln_f output).
 * Returns gradients by parameter name; the wte entry holds only the embedding part. With LoRA the base is frozen:
 * only the input gradients flow through it, and the adapters get their gradients.
 */
function trunkBackward(
  config: GPT2Config,
  lora: TrunkLora | undefined,
  params: ParamTensors,
  input: TrunkInput,
  saved: Gpt2Saved,
  dHidden: tf.Tensor2D,
): Map<string, tf.Tensor> {
  const { batch: B, seqLen: T } = input;
  const H = config.n_head;
  const C = config.n_embd;
  const P = (n: string): tf.Tensor => param(params, n);
  const scale = 1 / Math.sqrt(C / H);
  const grads = new Map<string, tf.Tensor>();
  const train = !lora; // the base's own gradients

  const f = layerNormBackward(dHidden, saved.lnf, P('transformer.ln_f.weight'), train);
  if (f.dgamma && f.dbeta) grads.set('transformer.ln_f.weight', f.dgamma).set('transformer.ln_f.bias', f.dbeta);
  let dx = f.dx;

  for (let l = config.n_layer - 1; l >= 0; l--) {
    const s = saved.blocks[l]!;
    const dxIn = dx;
    const step = tf.tidy(() => {
      const g: Record<string, tf.Tensor> = {}; // by full parameter name
      const convGrad = (role: string, dy: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor2D => {
        const w = pname(l, `${role}.weight`);
        const r = linearBackward(dy, x, P(w), !train);
        if (r.dw && r.db) [g[w], g[pname(l, `${role}.bias`)]] = [r.dw, r.db];
        const dxLora = loraDeltaBackward(lora, params, w, x, dy, g);
        return dxLora ? (tf.add(r.dx, dxLora) as tf.Tensor2D) : r.dx;
      };
      const normGrad = (role: string, dy: tf.Tensor2D, norm: LayerNormSaved): tf.Tensor2D => {
        const r = layerNormBackward(dy, norm, P(pname(l, `${role}.weight`)), train);
        if (r.dgamma && r.dbeta) [g[pname(l, `${role}.weight`)], g[pname(l, `${role}.bias`)]] = [r.dgamma, r.dbeta];
        return r.dx;
      };
      const dPre = geluBackward(convGrad('mlp.c_proj', dxIn, s.act), s.pre) as tf.Tensor2D;
      const dx2 = tf.add(dxIn, normGrad('ln_2', convGrad('mlp.c_fc', dPre, s.a2), s.ln2)) as tf.Tensor2D;

      const dY = splitHeads(convGrad('attn.c_proj', dx2, s.y), B, T, H);
      const dAtt = tf.matMul(dY, s.v, false, true);
      const dV = tf.matMul(s.att, dY, true, false);
      const dScores = tf.mul(tf.mul(s.att, tf.sub(dAtt, tf.sum(tf.mul(dAtt, s.att), -1, true))), scale) as tf.Tensor4D;
      const dQ = tf.matMul(dScores, s.k);
      const dK = tf.matMul(dScores, s.q, true, false);
      const dQkv = tf.concat([mergeHeads(dQ), mergeHeads(dK), mergeHeads(dV)], 1) as tf.Tensor2D;
      return { dx: tf.add(dx2, normGrad('ln_1', convGrad('attn.c_attn', dQkv, s.a1), s.ln1)) as tf.Tensor2D, g };
    });
    // Free this block's activations and the consumed gradient now rather than at the end of the caller's tidy.
    tf.dispose([dxIn, s.a1, s.q, s.k, s.v, s.att, s.y, s.a2, s.pre, s.act, s.ln1.xhat, s.ln1.rstd, s.ln2.xhat, s.ln2.rstd]);
    dx = step.dx;
    for (const [k, t] of Object.entries(step.g)) grads.set(k, t);
  }
  if (!train) {
    dx.dispose();
    return grads;
  }
  // Embedding gradients by scatter-add: tfjs's gather gradient needs UnsortedSegmentSum, which wasm lacks.
  const n = B * T;
  grads.set('transformer.wte.weight', tf.scatterND(tf.reshape(input.ids, [n, 1]), dx, [config.vocab_size, C]));
  grads.set('transformer.wpe.weight', tf.scatterND(tf.reshape(input.positions, [n, 1]), dx, [config.n_positions, C]));
  return grads;
}

/** One KV-cache step (T = 1): the same block as trunk(), with each layer's keys/values appended to its cache. */
function decodeStep(config: GPT2Config, lora: TrunkLora | undefined, params: ParamTensors, input: TrunkInput, past: LayerKV[]): { hidden: tf.Tensor2D; kv: LayerKV[] } {
  const B = input.batch;
  const P = (n: string): tf.Tensor => param(params, n);
  const H = config.n_head;
  const scale = 1 / Math.sqrt(config.n_embd / H);
  const eps = config.layer_norm_epsilon;
  let x = tf.add(tf.gather(P('transformer.wte.weight'), input.ids), tf.gather(P('transformer.wpe.weight'), input.positions)) as tf.Tensor2D;
  const kv: LayerKV[] = [];
  for (let l = 0; l < config.n_layer; l++) {
    const a = layerNorm(x, P(pname(l, 'ln_1.weight')), P(pname(l, 'ln_1.bias')), eps).y;
    const [qf, kf, vf] = tf.split(conv(lora, params, l, 'attn.c_attn', a), 3, 1);
    const k = tf.concat([past[l]!.k, splitHeads(kf!, B, 1, H)], 2);
    const v = tf.concat([past[l]!.v, splitHeads(vf!, B, 1, H)], 2);
    const scores = tf.add(tf.mul(tf.matMul(splitHeads(qf!, B, 1, H), k, false, true), scale), input.bias);
    const y = mergeHeads(tf.matMul(tf.softmax(scores) as tf.Tensor4D, v));
    x = tf.add(x, conv(lora, params, l, 'attn.c_proj', y));
    const a2 = layerNorm(x, P(pname(l, 'ln_2.weight')), P(pname(l, 'ln_2.bias')), eps).y;
    const h = gelu(conv(lora, params, l, 'mlp.c_fc', a2)) as tf.Tensor2D;
    x = tf.add(x, conv(lora, params, l, 'mlp.c_proj', h));
    kv.push({ k, v });
  }
  return { hidden: layerNorm(x, P('transformer.ln_f.weight'), P('transformer.ln_f.bias'), eps).y, kv };
}
