import type { GPT2Config, GPT2ConfigInput } from '../arch/config.js';
import { GPT2, type GPT2BackendOption } from '../model/gpt2.js';
import { Tokenizer } from '../tokenizer/index.js';
import { generateBatched, type GenerateTextOptions, type TextGenerator } from './decode.js';

/** Model size of a student; vocab_size and eos/bos come from its tokenizer. */
export type StudentModelSize = Pick<GPT2ConfigInput, 'n_embd' | 'n_layer' | 'n_head' | 'n_positions'> & Partial<GPT2ConfigInput>;

export type BackendChoice = NonNullable<GPT2BackendOption['backend']>;

/**
 * One GPT-2 and the tokenizer it was trained with, as a student uses it: batched text generation
 * (stop strings, calculator) on top of the model. The GPT2 is the model; this adds no second one.
 * Saved in HF layout (+ trimmed_vocab.json) by GPT2.save.
 */
export class StudentLM implements TextGenerator {
  /** The model's own tokenizer; a GPT-2 whose vocabulary is neither GPT-2's nor trimmed falls back to plain GPT-2 BPE. */
  readonly tokenizer: Tokenizer;

  constructor(readonly model: GPT2) {
    this.tokenizer = model.tokenizer ?? new Tokenizer(model.vocab);
  }

  get config(): GPT2Config {
    return this.model.config;
  }

  /** A fresh model sized for `tokenizer` (a trimmed vocabulary makes it small). */
  static async create(size: StudentModelSize, tokenizer: Tokenizer, options: { backend?: BackendChoice; seed?: number } = {}): Promise<StudentLM> {
    const config = { ...size, vocab_size: tokenizer.vocabSize, bos_token_id: tokenizer.eosId, eos_token_id: tokenizer.eosId };
    return new StudentLM(await GPT2.create(config, { backend: options.backend, seed: options.seed ?? 0, vocab: tokenizer.vocab }));
  }

  /** Load a directory written by save(), or any HF GPT-2 checkpoint (config.json + model.safetensors). */
  static async load(dir: string, options: { backend?: BackendChoice } = {}): Promise<StudentLM> {
    return new StudentLM(await GPT2.load(dir, { backend: options.backend }));
  }

  /** HF layout via GPT2.save: config.json, model.safetensors, trimmed_vocab.json (when trimmed). */
  save(dir: string): Promise<void> {
    return this.model.save(dir);
  }

  generate(prompts: readonly string[], options: GenerateTextOptions): Promise<string[]> {
    return generateBatched(this.model, this.tokenizer, prompts, options);
  }

  dispose(): void {
    this.model.dispose();
  }
}
