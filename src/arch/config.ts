import { z } from 'zod';
import { ModelConfigError } from '../errors.js';
import {
  hasQkNorm,
  LLAMA_MODEL_TYPES,
  type LlamaConfig,
  llamaHeadDim,
  llamaEosIds,
  llamaKvHeads,
  oBias,
  parseLlamaConfig,
  qkvBias,
  ropeTheta,
} from './llama.js';

/**
 * GPT-2 hyper-parameters with Hugging Face GPT2Config field names, so that
 * `config.json` files move between this library and `transformers` unchanged.
 * Unknown HF fields are kept (passthrough) so a round trip loses nothing.
 */
export const GPT2ConfigSchema = z
  .object({
    model_type: z.literal('gpt2').default('gpt2'),
    vocab_size: z.number().int().positive(),
    n_positions: z.number().int().positive(),
    n_embd: z.number().int().positive(),
    n_layer: z.number().int().positive(),
    n_head: z.number().int().positive(),
    n_inner: z.number().int().positive().nullable().default(null),
    layer_norm_epsilon: z.number().positive().default(1e-5),
    activation_function: z.literal('gelu_new').default('gelu_new'),
    tie_word_embeddings: z.literal(true).default(true),
    initializer_range: z.number().positive().default(0.02),
    bos_token_id: z.number().int().nonnegative().default(50256),
    eos_token_id: z.number().int().nonnegative().default(50256),
  })
  .passthrough()
  .superRefine((c, ctx) => {
    if (c.n_embd % c.n_head !== 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['n_head'], message: `n_embd (${c.n_embd}) must be divisible by n_head (${c.n_head})` });
    }
  });

export type GPT2Config = z.infer<typeof GPT2ConfigSchema>;
export type GPT2ConfigInput = z.input<typeof GPT2ConfigSchema>;

export function parseGPT2Config(input: unknown, source = 'config'): GPT2Config {
  const r = GPT2ConfigSchema.safeParse(input);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new ModelConfigError(`${source}: invalid GPT-2 config at ${first?.path.join('.') || '(root)'}: ${first?.message}`);
  }
  return r.data;
}

export const innerDim = (c: GPT2Config): number => c.n_inner ?? 4 * c.n_embd;
export const headDim = (c: GPT2Config): number => c.n_embd / c.n_head;

/** Named presets. `tiny` is the benchmark config used across the docs and bench/. */
export const PRESETS = {
  tiny: { vocab_size: 50257, n_positions: 256, n_embd: 256, n_layer: 4, n_head: 4 },
  'gpt2-small': { vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12 },
} as const satisfies Record<string, GPT2ConfigInput>;

export type PresetName = keyof typeof PRESETS;

export function presetConfig(name: PresetName, overrides: Partial<GPT2ConfigInput> = {}): GPT2Config {
  return parseGPT2Config({ ...PRESETS[name], ...overrides }, `preset ${name}`);
}

// ---- every architecture -------------------------------------------------------------------------------------

/** Every architecture the library has: GPT-2, and the Llama family (llama, qwen2, qwen3). */
export type ModelConfig = GPT2Config | LlamaConfig;

/** The model_type values config.json may carry. */
export const SUPPORTED_MODEL_TYPES = ['gpt2', ...LLAMA_MODEL_TYPES] as const;

export const isLlamaConfig = (c: ModelConfig): c is LlamaConfig => c.model_type !== 'gpt2';
export const isGPT2Config = (c: ModelConfig): c is GPT2Config => c.model_type === 'gpt2';

/**
 * Parse an HF config.json of any supported architecture, chosen by its model_type (a config with none is GPT-2,
 * as this library's earlier checkpoints were written). An unsupported model_type gets one error listing the supported ones.
 */
export function parseModelConfig(input: unknown, source = 'config'): ModelConfig {
  const type = (input as { model_type?: unknown } | null)?.model_type;
  if (type === undefined || type === 'gpt2') return parseGPT2Config(input, source);
  if (typeof type === 'string' && (LLAMA_MODEL_TYPES as readonly string[]).includes(type)) return parseLlamaConfig(input, source);
  throw new ModelConfigError(`${source}: model_type ${JSON.stringify(type)} is not supported; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
}

/**
 * The shape facts of any architecture in one flat record: what the cores, the layout and batch validation read,
 * so none of them branches on HF field names. `kvHeads === heads` and `headDim === hidden / heads` for GPT-2.
 */
export interface ArchDims {
  arch: 'gpt2' | 'llama';
  vocab: number;
  /** Longest position id + 1: n_positions (GPT-2's learned table) or max_position_embeddings (RoPE). */
  maxPositions: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** MLP width: GPT-2's n_inner (4 * n_embd), Llama's intermediate_size. */
  inner: number;
  /** LayerNorm (GPT-2) or RMSNorm (Llama) epsilon. */
  eps: number;
  /** Llama only (0 / false for GPT-2). */
  ropeTheta: number;
  qkNorm: boolean;
  qkvBias: boolean;
  oBias: boolean;
  /** lm_head shares the embedding matrix (always for GPT-2). */
  tied: boolean;
}

export function archDims(c: ModelConfig): ArchDims {
  if (isGPT2Config(c)) {
    return {
      arch: 'gpt2',
      vocab: c.vocab_size,
      maxPositions: c.n_positions,
      hidden: c.n_embd,
      layers: c.n_layer,
      heads: c.n_head,
      kvHeads: c.n_head,
      headDim: headDim(c),
      inner: innerDim(c),
      eps: c.layer_norm_epsilon,
      ropeTheta: 0,
      qkNorm: false,
      qkvBias: true,
      oBias: true,
      tied: true,
    };
  }
  return {
    arch: 'llama',
    vocab: c.vocab_size,
    maxPositions: c.max_position_embeddings,
    hidden: c.hidden_size,
    layers: c.num_hidden_layers,
    heads: c.num_attention_heads,
    kvHeads: llamaKvHeads(c),
    headDim: llamaHeadDim(c),
    inner: c.intermediate_size,
    eps: c.rms_norm_eps,
    ropeTheta: ropeTheta(c),
    qkNorm: hasQkNorm(c),
    qkvBias: qkvBias(c),
    oBias: oBias(c),
    tied: c.tie_word_embeddings,
  };
}

/** End-of-sequence ids inside the vocabulary, the config's first one first (HF allows a list). */
export function eosTokenIds(c: ModelConfig): number[] {
  const raw = isGPT2Config(c) ? [c.eos_token_id] : llamaEosIds(c);
  return raw.filter((id) => id < c.vocab_size);
}

/** The id that pads batches: pad_token_id where a Llama-family config has one, else the first EOS, else 0. */
export function padTokenId(c: ModelConfig): number {
  if (isLlamaConfig(c) && typeof c.pad_token_id === 'number' && c.pad_token_id < c.vocab_size) return c.pad_token_id;
  return eosTokenIds(c)[0] ?? 0;
}
