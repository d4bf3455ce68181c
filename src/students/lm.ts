import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseGPT2Config, type GPT2Config, type GPT2ConfigInput } from '../arch/config.js';
import { paramLayout } from '../arch/layout.js';
import type { BackendPreference, BackendReport, NamedTensors, TransformerCore } from '../backend/types.js';
import { CheckpointError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { Tokenizer, TrimmedVocab } from '../tokenizer/index.js';
import { generateBatched, type GenerateTextOptions, type TextGenerator } from './decode.js';

/** Model size of a student; vocab_size and eos/bos come from its tokenizer. */
export type StudentModelSize = Pick<GPT2ConfigInput, 'n_embd' | 'n_layer' | 'n_head' | 'n_positions'> & Partial<GPT2ConfigInput>;

export type BackendChoice = BackendReport | BackendPreference;

async function resolveBackend(choice: BackendChoice | undefined): Promise<BackendReport> {
  if (choice && typeof choice !== 'string') return choice;
  const { selectBackend } = await import('../backend/select.js');
  return selectBackend(choice ?? 'auto');
}

const CONFIG_FILE = 'config.json';
const WEIGHTS_FILE = 'model.safetensors';
const VOCAB_FILE = 'trimmed_vocab.json';

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
    const config = parseGPT2Config({ ...size, vocab_size: tokenizer.vocabSize, bos_token_id: tokenizer.eosId, eos_token_id: tokenizer.eosId }, 'student config');
    const backend = await resolveBackend(options.backend);
    return new StudentLM(await backend.createCore(config, { seed: options.seed ?? 0 }), tokenizer);
  }

  /** Load a directory written by save(), or any HF GPT-2 checkpoint (config.json + model.safetensors). */
  static async load(dir: string, options: { backend?: BackendChoice } = {}): Promise<StudentLM> {
    const config = parseGPT2Config(await readJson(dir, CONFIG_FILE), join(dir, CONFIG_FILE));
    let tokenizer = new Tokenizer();
    const vocabJson = await readJson(dir, VOCAB_FILE, true);
    if (vocabJson !== undefined) tokenizer = new Tokenizer(TrimmedVocab.fromJSON(vocabJson, join(dir, VOCAB_FILE)));
    if (tokenizer.vocabSize !== config.vocab_size) {
      throw new CheckpointError(dir, `config vocab_size ${config.vocab_size} does not match the tokenizer's ${tokenizer.vocabSize} ids`);
    }
    const weights = await readHfWeights(join(dir, WEIGHTS_FILE), config);
    const backend = await resolveBackend(options.backend);
    return new StudentLM(await backend.createCore(config, { weights }), tokenizer);
  }

  async save(dir: string): Promise<void> {
    await writeSafetensors(join(dir, WEIGHTS_FILE), await this.core.getWeights(), { format: 'pt' });
    const vocab = this.tokenizer.vocab;
    if (vocab) await writeFileAtomic(join(dir, VOCAB_FILE), JSON.stringify(vocab.toJSON()));
    await writeFileAtomic(join(dir, CONFIG_FILE), JSON.stringify({ architectures: ['GPT2LMHeadModel'], ...this.config }, null, 2));
  }

  generate(prompts: readonly string[], options: GenerateTextOptions): Promise<string[]> {
    return generateBatched(this.core, this.tokenizer, prompts, options);
  }

  dispose(): void {
    this.core.dispose();
  }
}

async function readJson(dir: string, file: string, optional = false): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(join(dir, file), 'utf8');
  } catch (err) {
    if (optional) return undefined;
    throw new CheckpointError(dir, `missing ${file}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(dir, `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** HF checkpoints may omit the `transformer.` prefix and carry lm_head / attention-bias buffers; keep the layout's params. */
async function readHfWeights(path: string, config: GPT2Config): Promise<NamedTensors> {
  const file = await readSafetensors(path);
  const out: NamedTensors = new Map();
  for (const spec of paramLayout(config)) {
    const t = file.tensors.get(spec.name) ?? file.tensors.get(spec.name.replace(/^transformer\./, ''));
    if (!t) throw new CheckpointError(path, `missing parameter ${spec.name}`);
    if (t.shape.join(',') !== spec.shape.join(',')) throw new CheckpointError(path, `${spec.name} has shape [${t.shape}] but the config needs [${spec.shape}]`);
    out.set(spec.name, { shape: [...spec.shape], data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data) });
  }
  return out;
}
