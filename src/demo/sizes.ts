import { archDims, GPT2ConfigSchema, type ModelConfig } from '../arch/config.js';
import { LlamaConfigSchema } from '../arch/llama.js';
import { InvalidOptionError } from '../errors.js';
import { llamaStudentSize, type GPT2StudentSize, type StudentModelSize } from '../students/lm.js';
import type { DemoConfig } from './config.js';

/** The size every from-scratch model of the run gets: `size` itself (GPT-2), or its Llama equivalent. */
export function studentSize(config: Pick<DemoConfig, 'size' | 'arch'>): StudentModelSize {
  return config.arch === 'llama' ? llamaStudentSize(config.size) : config.size;
}

/**
 * Refuses a from-scratch size its architecture's schema rejects (the rules live in arch/), so a bad size fails
 * before the teacher runs, not when the first model is built. The GPT-2 schema speaks DemoConfig.size's terms
 * (a width that does not split into the heads); the Llama one adds rotary's rules (an even head width).
 */
export function checkStudentSize(config: Pick<DemoConfig, 'size' | 'arch'>): void {
  const withVocab = { vocab_size: 1 };
  const issues = [...(GPT2ConfigSchema.safeParse({ ...config.size, ...withVocab }).error?.issues ?? [])];
  if (config.arch === 'llama') issues.push(...(LlamaConfigSchema.safeParse({ ...studentSize(config), ...withVocab }).error?.issues ?? []));
  const first = issues[0];
  if (first) throw new InvalidOptionError('size', `must suit a ${config.arch ?? 'gpt2'} student: ${first.message}`);
}

/** A checkpoint's shape in DemoConfig.size's terms (positions: n_positions or max_position_embeddings). */
export function checkpointSize(config: ModelConfig): GPT2StudentSize {
  const d = archDims(config);
  return { n_embd: d.hidden, n_layer: d.layers, n_head: d.heads, n_positions: d.maxPositions, vocab_size: d.vocab };
}
