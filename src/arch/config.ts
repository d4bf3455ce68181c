import { z } from 'zod';
import { ModelConfigError } from '../errors.js';

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
