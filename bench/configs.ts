import { type ModelConfig, parseModelConfig, presetConfig } from '../src/arch/config.js';

/**
 * The models the bench measures: GPT-2's presets, a random-init model of SmolLM2-135M's shape (hidden 576,
 * 30 layers, 9 heads over 3 KV heads, head_dim 64, SwiGLU 1536, vocab 49152, tied; max_position_embeddings 2048,
 * which the bench's 512-token rows never reach), and one of Qwen3-0.6B's (hidden 1024, 28 layers, 16 heads over 8
 * KV heads, head_dim 128, SwiGLU 3072, vocab 151936, tied, q/k norms), measured by the fine-tuning section only
 * (bench/finetune.ts: full and LoRA, memory-checked child processes).
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
  'qwen3-0.6b': () =>
    parseModelConfig(
      {
        model_type: 'qwen3',
        vocab_size: 151936,
        hidden_size: 1024,
        intermediate_size: 3072,
        num_hidden_layers: 28,
        num_attention_heads: 16,
        num_key_value_heads: 8,
        head_dim: 128,
        max_position_embeddings: 40960,
        rms_norm_eps: 1e-6,
        rope_theta: 1000000,
        tie_word_embeddings: true,
        initializer_range: 0.02,
      },
      'bench config qwen3-0.6b',
    ),
} as const satisfies Record<string, () => ModelConfig>;

export type BenchConfigName = keyof typeof BENCH_CONFIGS;

export function isBenchConfig(name: string): name is BenchConfigName {
  return Object.hasOwn(BENCH_CONFIGS, name);
}

/** Training batch of the native cores (B x T): tiny 8x256, the ~125M-parameter models 4x512. */
export const TRAIN_SHAPE: Record<BenchConfigName, [number, number]> = { tiny: [8, 256], 'gpt2-small': [4, 512], 'smollm2-135m': [4, 512], 'qwen3-0.6b': [4, 512] };
/** tfjs steps at 8x256 take minutes on 2 cores; they train 1 row of the same length (tokens/s is per token either way). */
export const TFJS_TRAIN_SHAPE: Record<BenchConfigName, [number, number]> = { tiny: [1, 256], 'gpt2-small': [1, 512], 'smollm2-135m': [1, 512], 'qwen3-0.6b': [1, 512] };
/** Models whose tfjs steps take minutes: run on tfjs only when asked for by name. */
export const BIG_CONFIGS: ReadonlySet<BenchConfigName> = new Set(['gpt2-small', 'smollm2-135m', 'qwen3-0.6b']);
/**
 * Models too big for the general section (a full core in the bench's own process, every backend): only the
 * fine-tuning section measures them, each case in a child process after a memory estimate.
 */
export const FINETUNE_ONLY: ReadonlySet<BenchConfigName> = new Set(['qwen3-0.6b']);
/** The models the fine-tuning section (full and LoRA, memory and speed) measures when they are asked for. */
export const FINETUNE_CONFIGS: ReadonlySet<BenchConfigName> = new Set(['smollm2-135m', 'qwen3-0.6b']);

/** The fine-tuning section's adapters: LoRA r 16, alpha 32, on every projection (PEFT's usual recipe for a 0.5B student). */
export const LORA_BENCH = { r: 16, alpha: 32 } as const;
/** The fine-tuning section's shapes (B x T). */
export const FINETUNE_SHAPES: ReadonlyArray<[number, number]> = [
  [1, 512],
  [4, 512],
];
