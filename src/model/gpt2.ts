import { type GPT2Config, type GPT2ConfigInput, isGPT2Config, parseGPT2Config } from '../arch/config.js';
import type { BackendPreference, BackendReport, LogitsTensor, TransformerCore } from '../backend/types.js';
import { ModelConfigError, ShapeError } from '../errors.js';
import { GPT2_VOCAB_SIZE } from '../tokenizer/bpe.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import type { TrimmedVocab } from '../tokenizer/trimmed-vocab.js';
import { type Checkpoint, type CheckpointFiles, checkpointFiles, parseCheckpoint, trimCheckpoint } from './checkpoint.js';
import { type GPT2GenerateOptions, generateTokens } from './generate.js';

export interface GPT2BackendOption {
  /** A preference for selectBackend (default 'auto'), or an already selected backend. */
  backend?: BackendPreference | BackendReport;
}

export interface GPT2LoadOptions extends GPT2BackendOption {
  /** Trim a full-vocabulary checkpoint to this vocabulary while loading (wte rows are selected). */
  vocab?: TrimmedVocab;
}

export interface GPT2CreateOptions extends GPT2BackendOption {
  /** Seed of the GPT-2 init (same weights on every backend). Default 0. */
  seed?: number;
  /** Use this vocabulary; vocab_size is then taken from it. */
  vocab?: TrimmedVocab;
}

export interface GPT2ForwardOptions {
  /** 1 = real, 0 = pad (masked as a key). Default all ones. */
  attentionMask?: number[][];
  /** Default 0..T-1 per row (HF forward semantics); pass cumsum(mask)-1 for left-padded rows. */
  positionIds?: number[][];
}

async function resolveBackend(backend: BackendPreference | BackendReport | undefined): Promise<BackendReport> {
  if (backend !== undefined && typeof backend === 'object') return backend;
  // Lazy: selectBackend probes native addons, which a browser bundle must never load.
  const { selectBackend } = await import('../backend/select.js');
  return selectBackend(backend ?? 'auto');
}

/**
 * A GPT-2 language model: HF checkpoints in and out, forward, and generation.
 * Every numeric kernel lives in the TransformerCore it wraps (tfjs or native).
 */
export class GPT2 {
  /** Tokenizer matching this model's ids; undefined for a model whose vocabulary is neither GPT-2 nor trimmed. */
  readonly tokenizer: Tokenizer | undefined;

  private constructor(
    readonly core: TransformerCore,
    readonly vocab: TrimmedVocab | undefined,
  ) {
    if (!isGPT2Config(core.config)) throw new ModelConfigError(`GPT2: the core runs a ${core.config.model_type} model`);
    if (vocab && vocab.size !== core.config.vocab_size) {
      throw new ModelConfigError(`the trimmed vocabulary has ${vocab.size} ids but the model's vocab_size is ${core.config.vocab_size}`);
    }
    this.tokenizer = vocab || core.config.vocab_size >= GPT2_VOCAB_SIZE ? new Tokenizer(vocab) : undefined;
  }

  get config(): GPT2Config {
    return this.core.config as GPT2Config;
  }

  /** Id that ends a generation by default: `<|endoftext|>` in this model's id space, or null when it has none. */
  get eosId(): number | null {
    if (this.vocab) return this.vocab.eosId;
    const eos = this.config.eos_token_id;
    return eos < this.config.vocab_size ? eos : null;
  }

  /** Read an HF GPT-2 directory (config.json + model.safetensors [+ trimmed_vocab.json]). Node only. */
  static async load(dir: string, options: GPT2LoadOptions = {}): Promise<GPT2> {
    const { readCheckpoint } = await import('./checkpoint-fs.js');
    return GPT2.fromCheckpoint(await readCheckpoint(dir), options);
  }

  /** Same as load, from the directory's files already in memory (e.g. fetched in a browser). */
  static async fromCheckpointFiles(files: CheckpointFiles, options: GPT2LoadOptions & { where?: string } = {}): Promise<GPT2> {
    return GPT2.fromCheckpoint(parseCheckpoint(files, options.where ?? 'checkpoint'), options);
  }

  private static async fromCheckpoint(checkpoint: Checkpoint, options: GPT2LoadOptions): Promise<GPT2> {
    const ckpt = options.vocab ? trimCheckpoint(checkpoint, options.vocab) : checkpoint;
    const report = await resolveBackend(options.backend);
    const core = await report.createCore(ckpt.config, { weights: ckpt.weights });
    return new GPT2(core, ckpt.vocab);
  }

  /** A freshly initialised GPT-2 (seeded, identical on every backend). */
  static async create(config: GPT2ConfigInput | GPT2Config, options: GPT2CreateOptions = {}): Promise<GPT2> {
    const vocab = options.vocab;
    // With a trimmed vocabulary the special-token ids move to its compact eos as well.
    const sized = vocab ? { ...config, vocab_size: vocab.size, bos_token_id: vocab.eosId, eos_token_id: vocab.eosId } : config;
    const parsed = parseGPT2Config(sized, 'GPT2.create config');
    const report = await resolveBackend(options.backend);
    const core = await report.createCore(parsed, { seed: options.seed ?? 0 });
    return new GPT2(core, vocab);
  }

  /** Wrap an existing core (e.g. one the trainer built); the model then owns it. */
  static fromCore(core: TransformerCore, vocab?: TrimmedVocab): GPT2 {
    return new GPT2(core, vocab);
  }

  /** Logits [B, T, V] for equal-length rows. Dispose the result when done. */
  async forward(inputIds: number[][], options: GPT2ForwardOptions = {}): Promise<LogitsTensor> {
    const B = inputIds.length;
    const T = inputIds[0]?.length ?? 0;
    if (B === 0 || T === 0) throw new ShapeError('forward: inputIds must have at least one row and one token');
    const flat = (rows: number[][] | undefined, what: string): number[] | undefined => {
      if (!rows) return undefined;
      if (rows.length !== B) throw new ShapeError(`forward: ${what} has ${rows.length} rows, expected ${B}`);
      rows.forEach((r, b) => {
        if (!Array.isArray(r as unknown) || r.length !== T) throw new ShapeError(`forward: ${what}[${b}] has ${r?.length} entries, expected ${T} (rows must be equally long)`);
      });
      return rows.flat();
    };
    const ids = flat(inputIds, 'inputIds')!;
    const mask = flat(options.attentionMask, 'attentionMask');
    const positions = flat(options.positionIds, 'positionIds');
    const { logits } = await this.core.forward({
      batchSize: B,
      seqLen: T,
      inputIds: Int32Array.from(ids),
      ...(mask ? { attentionMask: Uint8Array.from(mask) } : {}),
      ...(positions ? { positionIds: Int32Array.from(positions) } : {}),
    });
    return logits;
  }

  /** New token ids per row (prompts may differ in length; see GPT2GenerateOptions). */
  generate(promptIds: number[][], options: GPT2GenerateOptions): Promise<number[][]> {
    const eos = this.eosId;
    return generateTokens(this.core, promptIds, options, { eosId: eos, padId: eos ?? 0 });
  }

  /** Text in, text out, through this model's tokenizer. Returns only the continuation of each prompt. */
  async generateText(prompts: string[], options: GPT2GenerateOptions): Promise<string[]> {
    const tok = this.tokenizer;
    if (!tok) throw new ModelConfigError('generateText: this model has no tokenizer (vocab_size is not GPT-2 and no trimmed vocabulary)');
    const rows = await this.generate(prompts.map((p) => tok.encode(p)), options);
    return rows.map((ids) => tok.decode(ids));
  }

  /** Write an HF-compatible directory (config.json, model.safetensors, trimmed_vocab.json when trimmed). Node only. */
  async save(dir: string): Promise<void> {
    const { writeCheckpoint } = await import('./checkpoint-fs.js');
    await writeCheckpoint(dir, await this.checkpoint());
  }

  /** The bytes/text save() would write, for storage without a file system (IndexedDB, download). */
  async toCheckpointFiles(): Promise<{ configJson: string; safetensors: Uint8Array; trimmedVocabJson?: string }> {
    return checkpointFiles(await this.checkpoint());
  }

  private async checkpoint(): Promise<Checkpoint> {
    return { config: this.config, weights: await this.core.getWeights(), ...(this.vocab ? { vocab: this.vocab } : {}) };
  }

  dispose(): void {
    this.core.dispose();
  }
}
