import type { GPT2Config, GPT2ConfigInput } from '../arch/config.js';
import type { BackendPreference, BackendReport, TransformerCore } from '../backend/types.js';
import { GPT2 } from '../model/gpt2.js';
import { Tokenizer } from '../tokenizer/index.js';
import { generateBatched, type GenerateTextOptions, type TextGenerator } from './decode.js';

/** Model size of a student; vocab_size and eos/bos come from its tokenizer. */
export type StudentModelSize = Pick<GPT2ConfigInput, 'n_embd' | 'n_layer' | 'n_head' | 'n_positions'> & Partial<GPT2ConfigInput>;

export type BackendChoice = BackendReport | BackendPreference;

/** One GPT-2 with its tokenizer: what every student is made of. Saved in HF layout (+ trimmed_vocab.json). */
export class StudentLM implements TextGenerator {
  constructor(
    readonly core: TransformerCore,
    readonly tokenizer: Tokenizer,
  ) {}

  get config(): GPT2Config {
    return this.core.config;
  }

  /** A fresh model sized for `tokenizer` (a trimmed vocabulary makes it small). */
  static async create(size: StudentModelSize, tokenizer: Tokenizer, options: { backend?: BackendChoice; seed?: number } = {}): Promise<StudentLM> {
    const config = { ...size, vocab_size: tokenizer.vocabSize, bos_token_id: tokenizer.eosId, eos_token_id: tokenizer.eosId };
    const model = await GPT2.create(config, { backend: options.backend, seed: options.seed ?? 0, vocab: tokenizer.vocab });
    return new StudentLM(model.core, tokenizer);
  }

  /** Load a directory written by save(), or any HF GPT-2 checkpoint (config.json + model.safetensors). */
  static async load(dir: string, options: { backend?: BackendChoice } = {}): Promise<StudentLM> {
    const model = await GPT2.load(dir, { backend: options.backend });
    return new StudentLM(model.core, model.tokenizer ?? new Tokenizer(model.vocab));
  }

  /** HF layout via GPT2.save: config.json, model.safetensors, trimmed_vocab.json (when trimmed). */
  async save(dir: string): Promise<void> {
    await GPT2.fromCore(this.core, this.tokenizer.vocab).save(dir);
  }

  generate(prompts: readonly string[], options: GenerateTextOptions): Promise<string[]> {
    return generateBatched(this.core, this.tokenizer, prompts, options);
  }

  dispose(): void {
    this.core.dispose();
  }
}
