import { archDims, isGPT2Config, type GPT2ConfigInput, type ModelConfig } from '../arch/config.js';
import type { LlamaConfigInput } from '../arch/llama.js';
import { ModelConfigError } from '../errors.js';
import type { LoraOptions } from '../arch/lora.js';
import { CausalLM, type CausalLMAdapterOptions, type CausalLMBackendOption, type CausalLMSaveOptions } from '../model/causal-lm.js';
import { GPT2 } from '../model/gpt2.js';
import { Tokenizer, type TextTokenizer } from '../tokenizer/index.js';
import { generateBatched, type GenerateTextOptions, type TextGenerator } from './decode.js';

/** A GPT-2 student's size; vocab_size and eos/bos come from its tokenizer. */
export type GPT2StudentSize = Pick<GPT2ConfigInput, 'n_embd' | 'n_layer' | 'n_head' | 'n_positions'> & Partial<GPT2ConfigInput>;

/** A Llama-family student's size from scratch (model_type `llama`, `qwen2` or `qwen3`); vocab_size and the special ids come from its tokenizer. */
export type LlamaStudentSize = Pick<LlamaConfigInput, 'model_type' | 'hidden_size' | 'num_hidden_layers' | 'num_attention_heads' | 'intermediate_size' | 'max_position_embeddings'> &
  Partial<LlamaConfigInput>;

/** Model size of a student trained from scratch: GPT-2 fields (the default), or a Llama-family config with its model_type. */
export type StudentModelSize = GPT2StudentSize | LlamaStudentSize;

export type BackendChoice = NonNullable<CausalLMBackendOption['backend']>;

/** StudentLM.load's options: the backend, and a fresh (`lora`) or saved (`adapter`: its directory) LoRA adapter over the checkpoint. */
export interface StudentLMLoadOptions {
  backend?: BackendChoice;
  lora?: LoraOptions;
  /** Seed of a fresh adapter's init; default 0. */
  seed?: number;
  adapter?: string;
}

/** True for a Llama-family size (it names a model_type other than gpt2). */
export function isLlamaStudentSize(size: StudentModelSize): size is LlamaStudentSize {
  const type = (size as { model_type?: string }).model_type;
  return type !== undefined && type !== 'gpt2';
}

/**
 * The Llama student in the parameter class of a GPT-2 student of `size`: the same width, depth and query heads, two
 * query heads per KV head (as SmolLM2), a SwiGLU MLP 3x as wide, so attention (3C²) plus MLP (9C²) per layer are
 * GPT-2's 12C²; RoPE instead of learned positions (max_position_embeddings = n_positions), tied head.
 */
export function llamaStudentSize(size: GPT2StudentSize): LlamaStudentSize {
  const C = size.n_embd;
  const grouped = size.n_head % 2 === 0;
  return {
    model_type: 'llama',
    hidden_size: C,
    num_hidden_layers: size.n_layer,
    num_attention_heads: size.n_head,
    num_key_value_heads: grouped ? size.n_head / 2 : size.n_head,
    // Without grouping attention is 4C², so the MLP gets 8C² (SwiGLU's three matrices 8C/3 wide).
    intermediate_size: grouped ? 3 * C : 2 * Math.round((8 * C) / 6),
    max_position_embeddings: size.n_positions,
    rope_theta: 10000,
    tie_word_embeddings: true,
  };
}

/**
 * One causal LM (GPT-2 or Llama family) and the tokenizer it was trained with, as a student uses it: batched text
 * generation (stop strings, calculator) on top of the model. The CausalLM is the model; this adds no second one.
 * Saved in HF layout by CausalLM.save (with trimmed_vocab.json, or the model's own tokenizer files beside it).
 */
export class StudentLM implements TextGenerator {
  /** The model's own tokenizer; a GPT-2 whose vocabulary is neither GPT-2's nor trimmed falls back to plain GPT-2 BPE. */
  readonly tokenizer: TextTokenizer;

  constructor(readonly model: CausalLM) {
    const tokenizer = model.tokenizer ?? (isGPT2Config(model.config) ? new Tokenizer(model.vocab) : undefined);
    if (!tokenizer) {
      throw new ModelConfigError(`a ${model.config.model_type} student needs the model's tokenizer: a tokenizer.json beside its weights (or, from scratch, a trimmed vocabulary)`);
    }
    this.tokenizer = tokenizer;
  }

  get config(): ModelConfig {
    return this.model.config;
  }

  /** The longest sequence the model holds (n_positions, or max_position_embeddings for RoPE models). */
  get maxPositions(): number {
    return archDims(this.model.config).maxPositions;
  }

  /**
   * A fresh model sized for `tokenizer`. GPT-2 sizes take GPT-2 BPE or a trimmed vocabulary (tokenizerForTexts); a
   * Llama-family size takes a trimmed vocabulary too (from scratch, as small as a GPT-2 student's) or an HFTokenizer.
   */
  static async create(size: StudentModelSize, tokenizer: TextTokenizer, options: { backend?: BackendChoice; seed?: number } = {}): Promise<StudentLM> {
    const seed = options.seed ?? 0;
    if (isLlamaStudentSize(size)) {
      const given = tokenizer.kind === 'gpt2' ? { vocab: requireTrimmed(tokenizer as Tokenizer, size.model_type) } : { tokenizer };
      // A trimmed vocabulary sets vocab_size and the special ids; an HFTokenizer fills those the size leaves out.
      return new StudentLM(await CausalLM.create({ ...size, vocab_size: size.vocab_size ?? tokenizer.vocabSize }, { backend: options.backend, seed, ...given }));
    }
    if (tokenizer.kind !== 'gpt2') {
      throw new ModelConfigError('a GPT-2 student uses GPT-2 BPE or a trimmed vocabulary (tokenizerForTexts); an HF tokenizer.json needs a Llama-family size (model_type llama, qwen2 or qwen3)');
    }
    const config = { ...size, vocab_size: tokenizer.vocabSize, bos_token_id: tokenizer.eosId, eos_token_id: tokenizer.eosId };
    return new StudentLM(await GPT2.create(config, { backend: options.backend, seed, vocab: (tokenizer as Tokenizer).vocab }));
  }

  /**
   * Load a directory written by save(), or any HF checkpoint this library runs: GPT-2, or a Llama-family directory
   * (SmolLM2, Qwen3, ...) with its tokenizer.json, which the student then keeps (its vocabulary and special tokens).
   */
  static async load(dir: string, options: StudentLMLoadOptions = {}): Promise<StudentLM> {
    const { backend, lora, seed, adapter } = options;
    const model = await CausalLM.load(dir, { backend, ...(lora ? { lora, seed: seed ?? 0 } : {}), ...(adapter !== undefined ? { adapter } : {}) });
    try {
      return new StudentLM(model);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  /**
   * A second student model over this LoRA model's frozen base, sharing the base in memory (CausalLM.withAdapter): the
   * Iterative pair's QA beside its QG. The same tokenizer; its own adapter, fresh (`lora`, `seed`) or saved (`adapter`).
   */
  async withAdapter(options: CausalLMAdapterOptions): Promise<StudentLM> {
    return new StudentLM(await this.model.withAdapter(options));
  }

  /** HF layout via CausalLM.save: config.json, model.safetensors, and trimmed_vocab.json or the tokenizer files; a LoRA model a PEFT adapter directory. */
  save(dir: string, options: CausalLMSaveOptions = {}): Promise<void> {
    return this.model.save(dir, options);
  }

  generate(prompts: readonly string[], options: GenerateTextOptions): Promise<string[]> {
    return generateBatched(this.model, this.tokenizer, prompts, options);
  }

  dispose(): void {
    this.model.dispose();
  }
}

function requireTrimmed(tokenizer: Tokenizer, type: string): NonNullable<Tokenizer['vocab']> {
  if (!tokenizer.vocab) {
    throw new ModelConfigError(`a ${type} student from scratch takes a trimmed vocabulary (tokenizerForTexts) or an HFTokenizer; plain GPT-2 BPE has no tokenizer file to save beside it`);
  }
  return tokenizer.vocab;
}
