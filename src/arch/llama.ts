import { z } from 'zod';
import { ModelConfigError } from '../errors.js';

/**
 * The Llama family (Llama 2/3, SmolLM2, Qwen2/2.5, Qwen3) with Hugging Face config.json field names, so a
 * downloaded checkpoint's config parses unchanged. Unknown HF fields are kept (passthrough).
 *
 * - `qwen3` implies per-head q/k RMSNorm before RoPE; `qwen2` implies q/k/v biases (o_proj has none).
 * - RoPE's theta is read from `rope_theta` (checkpoints saved before transformers 5) or
 *   `rope_parameters.rope_theta` (transformers 5); see ropeTheta().
 * - Only plain RoPE is implemented: llama3 / linear / dynamic / yarn scaling is refused by name.
 */
export const LLAMA_MODEL_TYPES = ['llama', 'qwen2', 'qwen3'] as const;
export type LlamaModelType = (typeof LLAMA_MODEL_TYPES)[number];

const TokenIds = z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative()).nonempty()]);

const RopeParametersSchema = z
  .object({
    rope_theta: z.number().positive().optional(),
    rope_type: z.string().optional(),
    type: z.string().optional(),
  })
  .passthrough();

export const LlamaConfigSchema = z
  .object({
    model_type: z.enum(LLAMA_MODEL_TYPES),
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    /** Default: num_attention_heads (plain multi-head attention), as in HF. */
    num_key_value_heads: z.number().int().positive().nullable().optional(),
    /** Default: hidden_size / num_attention_heads. Qwen3 sets it explicitly (and it may differ). */
    head_dim: z.number().int().positive().nullable().optional(),
    max_position_embeddings: z.number().int().positive(),
    rms_norm_eps: z.number().positive().default(1e-6),
    rope_theta: z.number().positive().optional(),
    rope_parameters: RopeParametersSchema.nullable().optional(),
    rope_scaling: RopeParametersSchema.nullable().optional(),
    hidden_act: z.literal('silu').default('silu'),
    /** HF's LlamaConfig default is false; SmolLM2 and small Qwen3 checkpoints set true. */
    tie_word_embeddings: z.boolean().default(false),
    attention_bias: z.boolean().default(false),
    mlp_bias: z.literal(false).default(false),
    initializer_range: z.number().positive().default(0.02),
    bos_token_id: TokenIds.nullable().optional(),
    eos_token_id: TokenIds.nullable().optional(),
    pad_token_id: z.number().int().nonnegative().nullable().optional(),
  })
  .passthrough()
  .superRefine((c, ctx) => {
    const issue = (path: string, message: string): void => ctx.addIssue({ code: z.ZodIssueCode.custom, path: [path], message });
    const kv = c.num_key_value_heads ?? c.num_attention_heads;
    if (c.num_attention_heads % kv !== 0) {
      issue('num_key_value_heads', `num_attention_heads (${c.num_attention_heads}) must be a multiple of num_key_value_heads (${kv})`);
    }
    if (!c.head_dim && c.hidden_size % c.num_attention_heads !== 0) {
      issue('head_dim', `hidden_size (${c.hidden_size}) is not divisible by num_attention_heads (${c.num_attention_heads}); set head_dim`);
    }
    const hd = c.head_dim ?? c.hidden_size / c.num_attention_heads;
    if (hd % 2 !== 0) issue('head_dim', `head_dim (${hd}) must be even for rotary embeddings`);
    const scaling = ropeScalingType(c);
    if (scaling !== undefined) {
      issue(
        c.rope_scaling ? 'rope_scaling' : 'rope_parameters',
        `rope type "${scaling}" is not supported (only plain RoPE, rope_type "default"); Llama-3.2 checkpoints use "llama3" scaling`,
      );
    }
    if (c.hidden_act !== 'silu') issue('hidden_act', `hidden_act must be "silu"`);
  });

export type LlamaConfig = z.infer<typeof LlamaConfigSchema>;
export type LlamaConfigInput = z.input<typeof LlamaConfigSchema>;

/** The RoPE scaling type a config asks for, or undefined for plain RoPE. */
function ropeScalingType(c: { rope_parameters?: z.infer<typeof RopeParametersSchema> | null; rope_scaling?: z.infer<typeof RopeParametersSchema> | null }): string | undefined {
  for (const p of [c.rope_parameters, c.rope_scaling]) {
    const t = p?.rope_type ?? p?.type;
    if (t !== undefined && t !== 'default') return t;
  }
  return undefined;
}

export function parseLlamaConfig(input: unknown, source = 'config'): LlamaConfig {
  const r = LlamaConfigSchema.safeParse(input);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new ModelConfigError(`${source}: invalid ${describeType(input)} config at ${first?.path.join('.') || '(root)'}: ${first?.message}`);
  }
  return r.data;
}

function describeType(input: unknown): string {
  const t = (input as { model_type?: unknown } | null)?.model_type;
  return typeof t === 'string' ? t : 'Llama-family';
}

/** Shape facts every core and the layout need, derived once from the HF fields. */
export const llamaHeadDim = (c: LlamaConfig): number => c.head_dim ?? c.hidden_size / c.num_attention_heads;
export const llamaKvHeads = (c: LlamaConfig): number => c.num_key_value_heads ?? c.num_attention_heads;
/** Qwen3 normalises q and k per head (RMSNorm over head_dim) after the projection, before RoPE. */
export const hasQkNorm = (c: LlamaConfig): boolean => c.model_type === 'qwen3';
/** Qwen2/2.5 always have q/k/v biases; Llama and Qwen3 have them when attention_bias is set (o_proj too then). */
export const qkvBias = (c: LlamaConfig): boolean => c.model_type === 'qwen2' || c.attention_bias;
export const oBias = (c: LlamaConfig): boolean => c.model_type !== 'qwen2' && c.attention_bias;
export const ropeTheta = (c: LlamaConfig): number => c.rope_parameters?.rope_theta ?? c.rope_theta ?? 10000;

/** End-of-sequence ids, first one first (HF allows a list); empty when the config names none. */
export function llamaEosIds(c: LlamaConfig): number[] {
  const e = c.eos_token_id;
  return e === undefined || e === null ? [] : Array.isArray(e) ? [...e] : [e];
}
