import { archDims, type GPT2Config, innerDim, isGPT2Config, type ModelConfig } from './config.js';
import type { LlamaConfig } from './llama.js';

/**
 * One parameter tensor: HF name and shape. GPT-2's Conv1D weights are [in, out] as HF stores them; Llama's
 * nn.Linear weights are [out, in] (y = x W^T), as HF stores them.
 */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** True for 2-D weights: they get AdamW weight decay (nanoGPT/GPT recipe; PEFT/torch fixtures decay ndim >= 2). */
  readonly decay: boolean;
  /** GPT-2's residual projections are initialised with std / sqrt(2 * n_layer). */
  readonly residual: boolean;
  /** The name without its model/layer prefix (`attn.c_attn.weight`, `self_attn.q_proj.weight`, `wte.weight`): the native cores' slot. */
  readonly role: string;
  /** Block index, or -1 for a tensor outside the blocks. */
  readonly layer: number;
}

/**
 * The canonical parameter list of any architecture, in the order every core lays them out in one contiguous
 * buffer. This is the only definition of a layout: the native cores receive it as a table (nativeLayoutTable).
 */
export function paramLayout(c: ModelConfig): ParamSpec[] {
  return isGPT2Config(c) ? gpt2Layout(c) : llamaLayout(c);
}

function spec(prefix: string, layer: number, role: string, shape: number[], residual = false): ParamSpec {
  const name = layer < 0 ? `${prefix}${role}` : `${prefix}${layer}.${role}`;
  return { name, shape, decay: shape.length >= 2, residual, role, layer };
}

/** HF GPT2LMHeadModel names; lm_head is tied to wte. */
function gpt2Layout(c: GPT2Config): ParamSpec[] {
  const C = c.n_embd;
  const F = innerDim(c);
  const top = (role: string, shape: number[]): ParamSpec => spec('transformer.', -1, role, shape);
  const specs: ParamSpec[] = [top('wte.weight', [c.vocab_size, C]), top('wpe.weight', [c.n_positions, C])];
  for (let l = 0; l < c.n_layer; l++) {
    const p = (role: string, shape: number[], residual = false): ParamSpec => spec('transformer.h.', l, role, shape, residual);
    specs.push(
      p('ln_1.weight', [C]),
      p('ln_1.bias', [C]),
      p('attn.c_attn.weight', [C, 3 * C]),
      p('attn.c_attn.bias', [3 * C]),
      p('attn.c_proj.weight', [C, C], true),
      p('attn.c_proj.bias', [C]),
      p('ln_2.weight', [C]),
      p('ln_2.bias', [C]),
      p('mlp.c_fc.weight', [C, F]),
      p('mlp.c_fc.bias', [F]),
      p('mlp.c_proj.weight', [F, C], true),
      p('mlp.c_proj.bias', [C]),
    );
  }
  specs.push(top('ln_f.weight', [C]), top('ln_f.bias', [C]));
  return specs;
}

/** HF LlamaForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM names; `lm_head.weight` only when untied. */
function llamaLayout(c: LlamaConfig): ParamSpec[] {
  const d = archDims(c);
  const C = d.hidden;
  const Q = d.heads * d.headDim;
  const KV = d.kvHeads * d.headDim;
  const specs: ParamSpec[] = [spec('model.', -1, 'embed_tokens.weight', [d.vocab, C])];
  for (let l = 0; l < d.layers; l++) {
    const p = (role: string, shape: number[]): ParamSpec => spec('model.layers.', l, role, shape);
    specs.push(p('input_layernorm.weight', [C]), p('self_attn.q_proj.weight', [Q, C]));
    if (d.qkvBias) specs.push(p('self_attn.q_proj.bias', [Q]));
    specs.push(p('self_attn.k_proj.weight', [KV, C]));
    if (d.qkvBias) specs.push(p('self_attn.k_proj.bias', [KV]));
    specs.push(p('self_attn.v_proj.weight', [KV, C]));
    if (d.qkvBias) specs.push(p('self_attn.v_proj.bias', [KV]));
    specs.push(p('self_attn.o_proj.weight', [C, Q]));
    if (d.oBias) specs.push(p('self_attn.o_proj.bias', [C]));
    if (d.qkNorm) specs.push(p('self_attn.q_norm.weight', [d.headDim]), p('self_attn.k_norm.weight', [d.headDim]));
    specs.push(
      p('post_attention_layernorm.weight', [C]),
      p('mlp.gate_proj.weight', [d.inner, C]),
      p('mlp.up_proj.weight', [d.inner, C]),
      p('mlp.down_proj.weight', [C, d.inner]),
    );
  }
  specs.push(spec('model.', -1, 'norm.weight', [C]));
  if (!d.tied) specs.push(spec('', -1, 'lm_head.weight', [d.vocab, C]));
  return specs;
}

/** Norm weights start at 1 (LayerNorm and RMSNorm alike). */
export const isNormWeight = (s: ParamSpec): boolean => /(^|\.)(ln_[12f]|input_layernorm|post_attention_layernorm|norm|q_norm|k_norm)\.weight$/.test(s.role);

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function countParams(c: ModelConfig): number {
  return paramLayout(c).reduce((n, s) => n + numel(s.shape), 0);
}

/** One row of the layout table the native cores are built from (see native/README.md). */
export interface NativeTensorRow {
  role: string;
  layer: number;
  numel: number;
  decay: boolean;
}

/** The layout as the native cores read it: one row per tensor, in buffer order. */
export function nativeLayoutTable(c: ModelConfig): NativeTensorRow[] {
  return paramLayout(c).map((s) => ({ role: s.role, layer: s.layer, numel: numel(s.shape), decay: s.decay }));
}
