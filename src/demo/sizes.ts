import { archDims, type ModelConfig } from '../arch/config.js';
import { llamaStudentSize, type GPT2StudentSize, type StudentModelSize } from '../students/lm.js';
import type { DemoConfig } from './config.js';

/** The size every from-scratch model of the run gets: `size` itself (GPT-2), or its Llama equivalent. */
export function studentSize(config: Pick<DemoConfig, 'size' | 'arch'>): StudentModelSize {
  return config.arch === 'llama' ? llamaStudentSize(config.size) : config.size;
}

/** A checkpoint's shape in DemoConfig.size's terms (positions: n_positions or max_position_embeddings). */
export function checkpointSize(config: ModelConfig): GPT2StudentSize {
  const d = archDims(config);
  return { n_embd: d.hidden, n_layer: d.layers, n_head: d.heads, n_positions: d.maxPositions, vocab_size: d.vocab };
}
