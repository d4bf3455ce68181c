import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../src/io/safetensors.js';
import { encodeAll, safetensorsOf } from './checkpoints.js';
import { asFloat } from './fixtures.js';
import { MODERN_DIR, type ModernName } from './modern.js';

/** The files of a downloaded HF model directory (HuggingFaceTB/SmolLM2-135M's layout) that the fixtures have. */
export const HF_DIR_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'] as const;

export interface CopyOptions {
  /** Re-encode the weights in bf16 and declare torch_dtype bfloat16, as SmolLM2 and Qwen3 ship. Default float32. */
  bf16?: boolean;
  /**
   * max_position_embeddings of the copy. The fixtures hold 128 (their golden batches are short); SmolLM2 holds 8192.
   * RoPE models have no position table, so raising it changes no weight and no logit, only the longest sequence allowed.
   */
  positions?: number;
  /** Edit the config.json of the copy. */
  config?: (c: Record<string, unknown>) => Record<string, unknown>;
}

/** A copy of a modern fixture model laid out as a user's downloaded directory, in `dir` (created). */
export async function copyModernFixture(name: ModernName, dir: string, options: CopyOptions = {}): Promise<string> {
  const from = join(MODERN_DIR, name);
  mkdirSync(dir, { recursive: true });
  for (const f of HF_DIR_FILES) if (f !== 'model.safetensors' && f !== 'config.json' && existsSync(join(from, f))) copyFileSync(join(from, f), join(dir, f));
  let config = JSON.parse(readFileSync(join(from, 'config.json'), 'utf8')) as Record<string, unknown>;
  if (options.positions !== undefined) config.max_position_embeddings = options.positions;
  if (options.bf16) {
    const { dtype: _, ...rest } = config;
    config = { ...rest, torch_dtype: 'bfloat16' };
    const f32 = asFloat((await readSafetensors(join(from, 'model.safetensors'))).tensors);
    writeFileSync(join(dir, 'model.safetensors'), safetensorsOf(encodeAll(f32, 'BF16').tensors));
  } else {
    copyFileSync(join(from, 'model.safetensors'), join(dir, 'model.safetensors'));
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(options.config ? options.config(config) : config, null, 2));
  return dir;
}
