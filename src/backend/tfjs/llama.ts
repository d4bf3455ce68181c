import { archDims, type ArchDims } from '../../arch/config.js';
import { paramLayout } from '../../arch/layout.js';
import type { LlamaConfig } from '../../arch/llama.js';
import {
  applyRope,
  applyRopeBackward,
  dense,
  denseBackward,
  type RmsNormSaved,
  rmsNorm,
  rmsNormBackward,
  type RopeTables,
  ropeTables,
  swiglu,
  swigluBackward,
} from './llama-ops.js';
import { loraDelta, loraDeltaBackward, type TrunkLora } from './lora.js';
import { mergeHeads, splitHeads } from './ops.js';
import { tf } from './runtime.js';
import { type LayerKV, param, type ParamTensors, type TfjsTrunk, type TrunkInput, type TrunkOutput } from './trunk.js';

/**
 * The Llama family's trunk (llama, qwen2, qwen3) for TfjsCore: RMSNorm, RoPE from the position ids, SwiGLU,
 * grouped-query attention, optional q/k/v (and o) biases, Qwen3's per-head q/k RMSNorm before RoPE.
 *
 * GQA without repeating K/V: query head h uses KV head h / G (G = heads / kvHeads), and the G query heads of one KV
 * head are consecutive, so [B, H, T, hd] reshapes to [B, KV, G*T, hd] — G*T query rows against one KV head's keys.
 * The mask bias is tiled to match; the backward's K/V gradients then sum over the group by the matmul itself.
 * The blocks' nn.Linear weights live on the device as W^T [in, out] (storedTransposed), and so do their gradients.
 * With `lora`, the targeted projections add their adapter's output and the base is frozen: backward returns the
 * adapter gradients alone and computes no weight gradient of the base.
 */
export function llamaTrunk(config: LlamaConfig, lora?: TrunkLora): TfjsTrunk<LlamaSaved> {
  const d = archDims(config);
  const linears = paramLayout(config).filter((s) => s.layer >= 0 && s.shape.length === 2);
  const ctx: Ctx = { d, lora };
  return {
    layers: d.layers,
    storedTransposed: new Set(linears.map((s) => s.name)),
    headName: d.tied ? EMBED : 'lm_head.weight',
    forward: (params, input, want) => forward(ctx, params, input, want),
    backward: (params, input, saved, dHidden) => backward(ctx, params, input, saved, dHidden),
    decodeStep: (params, input, past) => {
      const out = forward(ctx, params, input, { kv: true }, past);
      return { hidden: out.hidden, kv: out.kv! };
    },
  };
}

const EMBED = 'model.embed_tokens.weight';
type Ctx = { d: ArchDims; lora: TrunkLora | undefined };
const pname = (l: number, rest: string): string => `model.layers.${l}.${rest}`;

/** What one block's backward reads. Rotated, grouped q [B, KV, G*T, hd]; k, v [B, KV, T, hd]. */
type BlockSaved = {
  n1: RmsNormSaved;
  a1: tf.Tensor2D;
  qNorm?: RmsNormSaved;
  kNorm?: RmsNormSaved;
  q: tf.Tensor4D;
  k: tf.Tensor4D;
  v: tf.Tensor4D;
  att: tf.Tensor4D;
  y: tf.Tensor2D;
  n2: RmsNormSaved;
  a2: tf.Tensor2D;
  gate: tf.Tensor2D;
  up: tf.Tensor2D;
  h: tf.Tensor2D;
};

type LlamaSaved = { blocks: BlockSaved[]; norm: RmsNormSaved; rope: RopeTables };

/** Per-head RMSNorm over head_dim of x [N, heads*hd]: rows of hd. */
function headNorm(x: tf.Tensor2D, w: tf.Tensor, d: ArchDims): { y: tf.Tensor2D; saved: RmsNormSaved } {
  const r = rmsNorm(tf.reshape(x, [-1, d.headDim]), w, d.eps);
  return { y: tf.reshape(r.y, x.shape), saved: r.saved };
}

/**
 * Embedding + blocks + final norm, over `input.seqLen` new tokens. With `past` (decoding), each layer's new keys and
 * values are appended to its cache and input.bias spans the whole cache. Call inside tf.tidy.
 */
function forward(
  { d, lora }: Ctx,
  params: ParamTensors,
  input: TrunkInput,
  want: { save?: boolean; hiddenStates?: boolean; kv?: boolean },
  past?: LayerKV[],
): TrunkOutput<LlamaSaved> {
  const { batch: B, seqLen: T } = input;
  const { heads: H, kvHeads: KV, headDim: hd } = d;
  const G = H / KV;
  const P = (n: string): tf.Tensor => param(params, n);
  const opt = (n: string): tf.Tensor | undefined => params.get(n);
  /** nn.Linear `role` of layer l, plus its adapter's output when it has one. */
  const proj = (l: number, role: string, x: tf.Tensor2D): tf.Tensor2D => {
    const y = dense(x, P(pname(l, `${role}.weight`)), opt(pname(l, `${role}.bias`)));
    const delta = loraDelta(lora, params, pname(l, `${role}.weight`), x);
    return delta ? (tf.add(y, delta) as tf.Tensor2D) : y;
  };
  const scale = 1 / Math.sqrt(hd);
  const rope = ropeTables(input.positions, B, T, hd, d.ropeTheta);
  const bias = G === 1 ? input.bias : tf.tile(input.bias, [1, 1, G, 1]);

  let x = tf.gather(P(EMBED), input.ids) as tf.Tensor2D;
  const hiddenStates: tf.Tensor2D[] = [];
  const blocks: BlockSaved[] = [];
  const kv: LayerKV[] = [];
  if (want.hiddenStates) hiddenStates.push(x);

  for (let l = 0; l < d.layers; l++) {
    // One tidy per block: its temporaries die here, only the residual and what backward reads survive.
    const block = tf.tidy(() => {
      const n1 = rmsNorm(x, P(pname(l, 'input_layernorm.weight')), d.eps);
      let qf = proj(l, 'self_attn.q_proj', n1.y);
      let kf = proj(l, 'self_attn.k_proj', n1.y);
      const vf = proj(l, 'self_attn.v_proj', n1.y);
      let qNorm: RmsNormSaved | undefined;
      let kNorm: RmsNormSaved | undefined;
      if (d.qkNorm) {
        const qn = headNorm(qf, P(pname(l, 'self_attn.q_norm.weight')), d);
        const kn = headNorm(kf, P(pname(l, 'self_attn.k_norm.weight')), d);
        [qf, kf, qNorm, kNorm] = [qn.y, kn.y, qn.saved, kn.saved];
      }
      const q = tf.reshape(applyRope(splitHeads(qf, B, T, H), rope), [B, KV, G * T, hd]) as tf.Tensor4D;
      const kNew = applyRope(splitHeads(kf, B, T, KV), rope);
      const vNew = splitHeads(vf, B, T, KV);
      const k = past ? tf.concat([past[l]!.k, kNew], 2) : kNew;
      const v = past ? tf.concat([past[l]!.v, vNew], 2) : vNew;
      const att = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), scale), bias)) as tf.Tensor4D;
      const y = mergeHeads(tf.reshape(tf.matMul(att, v), [B, H, T, hd]));
      const x2 = tf.add(x, proj(l, 'self_attn.o_proj', y)) as tf.Tensor2D;
      const n2 = rmsNorm(x2, P(pname(l, 'post_attention_layernorm.weight')), d.eps);
      const gate = proj(l, 'mlp.gate_proj', n2.y);
      const up = proj(l, 'mlp.up_proj', n2.y);
      const h = swiglu(gate, up);
      const out = tf.add(x2, proj(l, 'mlp.down_proj', h)) as tf.Tensor2D;
      const saved: BlockSaved | undefined = want.save
        ? { n1: n1.saved, a1: n1.y, qNorm, kNorm, q, k, v, att, y, n2: n2.saved, a2: n2.y, gate, up, h }
        : undefined;
      return { out, saved, kv: want.kv ? { k, v } : undefined };
    });
    if (!want.hiddenStates) x.dispose(); // otherwise it is a returned hidden state
    x = block.out;
    if (block.saved) blocks.push(block.saved);
    if (block.kv) kv.push(block.kv);
    if (want.hiddenStates && l < d.layers - 1) hiddenStates.push(x);
  }
  const norm = rmsNorm(x, P('model.norm.weight'), d.eps);
  if (want.hiddenStates) hiddenStates.push(norm.y);
  const out: TrunkOutput<LlamaSaved> = { hidden: norm.y };
  if (want.hiddenStates) out.hiddenStates = hiddenStates;
  if (want.kv) out.kv = kv;
  if (want.save) out.saved = { blocks, norm: norm.saved, rope };
  return out;
}

/**
 * Backward through the final norm, the blocks and the embedding, given d(loss)/d(final norm output). With LoRA the
 * base is frozen: only the input gradients flow through it, and the adapters get their gradients.
 */
function backward({ d, lora }: Ctx, params: ParamTensors, input: TrunkInput, saved: LlamaSaved, dHidden: tf.Tensor2D): Map<string, tf.Tensor> {
  const { batch: B, seqLen: T } = input;
  const { heads: H, kvHeads: KV, headDim: hd } = d;
  const G = H / KV;
  const P = (n: string): tf.Tensor => param(params, n);
  const scale = 1 / Math.sqrt(hd);
  const { rope } = saved;
  const grads = new Map<string, tf.Tensor>();
  const train = !lora; // the base's own gradients

  const f = rmsNormBackward(dHidden, saved.norm, P('model.norm.weight'), train);
  if (f.dw) grads.set('model.norm.weight', f.dw);
  let dx = f.dx;

  for (let l = d.layers - 1; l >= 0; l--) {
    const s = saved.blocks[l]!;
    const dxIn = dx;
    const step = tf.tidy(() => {
      const g: Record<string, tf.Tensor> = {}; // by full parameter name
      const linearGrad = (role: string, dy: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor2D => {
        const w = pname(l, `${role}.weight`);
        const r = denseBackward(dy, x, P(w), params.has(pname(l, `${role}.bias`)), !train);
        if (r.dwT) g[w] = r.dwT;
        if (r.db) g[pname(l, `${role}.bias`)] = r.db;
        const dxLora = loraDeltaBackward(lora, params, w, x, dy, g);
        return dxLora ? (tf.add(r.dx, dxLora) as tf.Tensor2D) : r.dx;
      };
      const normGrad = (role: string, dy: tf.Tensor2D, norm: RmsNormSaved): tf.Tensor2D => {
        const r = rmsNormBackward(dy, norm, P(pname(l, `${role}.weight`)), train);
        if (r.dw) g[pname(l, `${role}.weight`)] = r.dw;
        return r.dx;
      };
      // MLP: out = x2 + down(silu(gate(a2)) * up(a2))
      const dh = linearGrad('mlp.down_proj', dxIn, s.h);
      const sw = swigluBackward(dh, s.gate, s.up);
      const da2 = tf.add(linearGrad('mlp.gate_proj', sw.dGate, s.a2), linearGrad('mlp.up_proj', sw.dUp, s.a2)) as tf.Tensor2D;
      const dx2 = tf.add(dxIn, normGrad('post_attention_layernorm', da2, s.n2)) as tf.Tensor2D;

      // Attention, on the grouped layout [B, KV, G*T, hd].
      const dY = tf.reshape(splitHeads(linearGrad('self_attn.o_proj', dx2, s.y), B, T, H), [B, KV, G * T, hd]) as tf.Tensor4D;
      const dAtt = tf.matMul(dY, s.v, false, true);
      const dV = tf.matMul(s.att, dY, true, false);
      const dScores = tf.mul(tf.mul(s.att, tf.sub(dAtt, tf.sum(tf.mul(dAtt, s.att), -1, true))), scale) as tf.Tensor4D;
      const dQ = applyRopeBackward(tf.reshape(tf.matMul(dScores, s.k), [B, H, T, hd]) as tf.Tensor4D, rope);
      const dK = applyRopeBackward(tf.matMul(dScores, s.q, true, false), rope);
      let dq = mergeHeads(dQ);
      let dk = mergeHeads(dK);
      if (s.qNorm && s.kNorm) {
        dq = tf.reshape(normGrad('self_attn.q_norm', tf.reshape(dq, [-1, hd]), s.qNorm), dq.shape);
        dk = tf.reshape(normGrad('self_attn.k_norm', tf.reshape(dk, [-1, hd]), s.kNorm), dk.shape);
      }
      const da1 = tf.addN([
        linearGrad('self_attn.q_proj', dq, s.a1),
        linearGrad('self_attn.k_proj', dk, s.a1),
        linearGrad('self_attn.v_proj', mergeHeads(dV), s.a1),
      ]) as tf.Tensor2D;
      return { dx: tf.add(dx2, normGrad('input_layernorm', da1, s.n1)) as tf.Tensor2D, g };
    });
    // Free this block's activations and the consumed gradient now rather than at the end of the caller's tidy.
    const norms = [s.n1, s.n2, ...(s.qNorm ? [s.qNorm] : []), ...(s.kNorm ? [s.kNorm] : [])];
    tf.dispose([dxIn, s.a1, s.q, s.k, s.v, s.att, s.y, s.a2, s.gate, s.up, s.h, ...norms.flatMap((n) => [n.xhat, n.rstd])]);
    dx = step.dx;
    for (const [k, t] of Object.entries(step.g)) grads.set(k, t);
  }
  // Embedding gradient by scatter-add: tfjs's gather gradient needs UnsortedSegmentSum, which wasm lacks.
  if (train) grads.set(EMBED, tf.scatterND(tf.reshape(input.ids, [B * T, 1]), dx, [d.vocab, d.hidden]));
  else dx.dispose();
  return grads;
}
