import { type ModelConfig, parseModelConfig, presetConfig } from '../src/arch/config.js';

/**
 * The models the bench measures: GPT-2's presets, and a random-init model of SmolLM2-135M's shape (hidden 576,
 * 30 layers, 9 heads over 3 KV heads, head_dim 64, SwiGLU 1536, vocab 49152, tied; max_position_embeddings 2048,
 * which the bench's 512-token rows never reach).
 */
export const BENCH_CONFIGS = {
  tiny: () => presetConfig('tiny'),
  'gpt2-small': () => presetConfig('gpt2-small'),
  'smollm2-135m': () =>
    parseModelConfig(
      {
        model_type: 'llama',
        vocab_size: 49152,
        hidden_size: 576,
        intermediate_size: 1536,
        num_hidden_layers: 30,
        num_attention_heads: 9,
        num_key_value_heads: 3,
        head_dim: 64,
        max_position_embeddings: 2048,
        rms_norm_eps: 1e-5,
        rope_theta: 100000,
        tie_word_embeddings: true,
        initializer_range: 0.041666666666666664,
      },
      'bench config smollm2-135m',
    ),
} as const satisfies Record<string, () => ModelConfig>;

export type BenchConfigName = keyof typeof BENCH_CONFIGS;

export function isBenchConfig(name: string): name is BenchConfigName {
  return Object.hasOwn(BENCH_CONFIGS, name);
}

/** Training batch of the native cores (B x T): tiny 8x256, the ~125M-parameter models 4x512. */
export const TRAIN_SHAPE: Record<BenchConfigName, [number, number]> = { tiny: [8, 256], 'gpt2-small': [4, 512], 'smollm2-135m': [4, 512] };
/** tfjs steps at 8x256 take minutes on 2 cores; they train 1 row of the same length (tokens/s is per token either way). */
export const TFJS_TRAIN_SHAPE: Record<BenchConfigName, [number, number]> = { tiny: [1, 256], 'gpt2-small': [1, 512], 'smollm2-135m': [1, 512] };
/** Models whose tfjs steps take minutes: run on tfjs only when asked for by name. */
export const BIG_CONFIGS: ReadonlySet<BenchConfigName> = new Set(['gpt2-small', 'smollm2-135m']);
