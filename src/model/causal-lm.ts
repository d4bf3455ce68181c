import { type ModelConfig, parseModelConfig } from '../arch/config.js';
import type { GPT2ConfigInput } from '../arch/config.js';
import type { LlamaConfigInput } from '../arch/llama.js';
import type { BackendPreference, BackendReport, CoreInfo, LogitsTensor, TransformerCore } from '../backend/types.js';
import { ModelConfigError, ShapeError } from '../errors.js';
import type { TextTokenizer } from '../tokenizer/text-tokenizer.js';
import type { TrimmedVocab } from '../tokenizer/trimmed-vocab.js';
import { checkpointAssets, createdAssets, createdVocab, filesToSave, type ModelAssets } from './assets.js';
import { type Checkpoint, type CheckpointFiles, checkpointFiles, parseCheckpoint, type SavedCheckpointFiles, trimCheckpoint } from './checkpoint.js';
import { type GPT2GenerateOptions, generateTokens } from './generate.js';
import { type TrainingSurface, trainingSurface } from './training.js';

export interface CausalLMBackendOption {
  /** A preference for selectBackend (default 'auto'), or an already selected backend. */
  backend?: BackendPreference | BackendReport;
}

export interface CausalLMLoadOptions extends CausalLMBackendOption {
  /** GPT-2 only: trim a full-vocabulary checkpoint to this vocabulary while loading (wte rows are selected). */
  vocab?: TrimmedVocab;
}

export interface CausalLMCreateOptions extends CausalLMBackendOption {
  /** Seed of the init (same weights on every backend). Default 0. */
  seed?: number;
  /**
   * A from-scratch model on this trimmed vocabulary (GPT-2, or a Llama-family student): vocab_size and the EOS/BOS
   * (and, Llama family, pad) ids are then taken from it; save() writes trimmed_vocab.json beside the weights.
   */
  vocab?: TrimmedVocab;
  /** Llama family: the tokenizer (an HFTokenizer) whose files save() writes beside the model; vocab_size and EOS default to its own. */
  tokenizer?: TextTokenizer;
}

export interface ForwardOptions {
  /** 1 = real, 0 = pad (masked as a key). Default all ones. */
  attentionMask?: number[][];
  /** Default 0..T-1 per row (HF forward semantics); pass cumsum(mask)-1 for left-padded rows. */
  positionIds?: number[][];
}

/** Any config this library runs: GPT-2 (model_type may be omitted) or the Llama family (llama, qwen2, qwen3). */
export type ModelConfigInput = GPT2ConfigInput | LlamaConfigInput | ModelConfig;

export async function resolveBackend(backend: BackendPreference | BackendReport | undefined): Promise<BackendReport> {
  if (backend !== undefined && typeof backend === 'object') return backend;
  // Lazy: selectBackend probes native addons, which a browser bundle must never load.
  const { selectBackend } = await import('../backend/select.js');
  return selectBackend(backend ?? 'auto');
}

/**
 * A causal language model of any supported architecture (GPT-2, Llama, Qwen2, Qwen3): HF checkpoints in and out,
 * forward, generation, and its tokenizer. Every numeric kernel lives in the TransformerCore it wraps (tfjs or native),
 * which stays private: training goes through `training`.
 */
export class CausalLM {
  readonly #core: TransformerCore;
  readonly #assets: ModelAssets;
  /** Loss, gradients, AdamW, weights and optimizer state: what the trainer drives. */
  readonly training: TrainingSurface;

  protected constructor(core: TransformerCore, assets: ModelAssets) {
    this.#core = core;
    this.#assets = assets;
    this.training = trainingSurface(core);
  }

  get config(): ModelConfig {
    return this.#core.config;
  }

  /** Which core runs this model. */
  get info(): CoreInfo {
    return this.#core.info;
  }

  /** The trimmed vocabulary the ids are in (a from-scratch student's), if any. */
  get vocab(): TrimmedVocab | undefined {
    return this.#assets.vocab;
  }

  /** The tokenizer matching this model's ids; undefined for a model saved without one. */
  get tokenizer(): TextTokenizer | undefined {
    return this.#assets.tokenizer;
  }

  /** Every id that ends a generation by default, in this model's id space (empty when it has none). */
  get eosIds(): readonly number[] {
    return this.#assets.eosIds;
  }

  /** The first of eosIds, or null when the model has none. */
  get eosId(): number | null {
    return this.#assets.eosIds[0] ?? null;
  }

  /** The id batches are padded with. */
  get padId(): number {
    return this.#assets.padId;
  }

  /**
   * Read an HF checkpoint directory: config.json, model.safetensors or a sharded model.safetensors.index.json (F32,
   * BF16 or F16, upcast to float32), and the tokenizer files (Llama family) or trimmed_vocab.json (GPT-2). Node only.
   */
  static async load(dir: string, options: CausalLMLoadOptions = {}): Promise<CausalLM> {
    const { readCheckpoint } = await import('./checkpoint-fs.js');
    return new CausalLM(...(await CausalLM.build(await readCheckpoint(dir), dir, options)));
  }

  /** Same as load, from the directory's files already in memory (e.g. fetched in a browser). */
  static async fromCheckpointFiles(files: CheckpointFiles, options: CausalLMLoadOptions & { where?: string } = {}): Promise<CausalLM> {
    const where = options.where ?? 'checkpoint';
    return new CausalLM(...(await CausalLM.build(parseCheckpoint(files, where), where, options)));
  }

  /** A freshly initialised model (seeded, identical on every backend). */
  static async create(config: ModelConfigInput, options: CausalLMCreateOptions = {}): Promise<CausalLM> {
    return new CausalLM(...(await CausalLM.buildNew(parseModelConfig(sizedConfig(config, options), 'CausalLM.create config'), options)));
  }

  protected static async build(checkpoint: Checkpoint, where: string, options: CausalLMLoadOptions): Promise<[TransformerCore, ModelAssets]> {
    const ckpt = options.vocab ? trimCheckpoint(checkpoint, options.vocab) : checkpoint;
    const assets = checkpointAssets(ckpt, where);
    const report = await resolveBackend(options.backend);
    return [await report.createCore(ckpt.config, { weights: ckpt.weights }), assets];
  }

  protected static async buildNew(parsed: ModelConfig, options: CausalLMCreateOptions): Promise<[TransformerCore, ModelAssets]> {
    const assets = createdAssets(parsed, options);
    const report = await resolveBackend(options.backend);
    return [await report.createCore(parsed, { seed: options.seed ?? 0 }), assets];
  }

  /** Logits [B, T, V] for equal-length rows. Dispose the result when done. */
  async forward(inputIds: number[][], options: ForwardOptions = {}): Promise<LogitsTensor> {
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
    const { logits } = await this.#core.forward({
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
    return generateTokens(this.#core, promptIds, options, { eosIds: this.eosIds, padId: this.padId });
  }

  /** Text in, text out, through this model's tokenizer. Returns only the continuation of each prompt. */
  async generateText(prompts: string[], options: GPT2GenerateOptions): Promise<string[]> {
    const tok = this.tokenizer;
    if (!tok) throw new ModelConfigError('generateText: this model has no tokenizer (no tokenizer.json beside a Llama-family model; a GPT-2 whose vocab_size is not GPT-2 and has no trimmed vocabulary)');
    const rows = await this.generate(prompts.map((p) => tok.encode(p)), options);
    return rows.map((ids) => tok.decode(ids));
  }

  /**
   * Write an HF-compatible directory transformers loads with the same logits: config.json, model.safetensors
   * (float32, HF names), and trimmed_vocab.json (trimmed GPT-2) or the tokenizer files and generation_config.json
   * (Llama family). Node only.
   */
  async save(dir: string): Promise<void> {
    const { writeCheckpoint } = await import('./checkpoint-fs.js');
    await writeCheckpoint(dir, await this.checkpoint());
  }

  /** The bytes/text save() would write, for storage without a file system (IndexedDB, download). */
  async toCheckpointFiles(): Promise<SavedCheckpointFiles> {
    return checkpointFiles(await this.checkpoint());
  }

  private async checkpoint(): Promise<Checkpoint> {
    const files = filesToSave(this.config, this.#assets);
    return { config: this.config, weights: await this.#core.getWeights(), ...(this.vocab ? { vocab: this.vocab } : {}), ...(files ? { assets: files } : {}) };
  }

  dispose(): void {
    this.#core.dispose();
  }
}

/**
 * The config a new model is built from. With a trimmed vocabulary (GPT-2, or a from-scratch Llama-family student): its
 * size, and the special-token ids move to its compact eos. Llama family with a tokenizer: its vocabulary size and EOS/pad ids where the config names none.
 */
export function sizedConfig(config: ModelConfigInput, options: Pick<CausalLMCreateOptions, 'vocab' | 'tokenizer'>): unknown {
  const c = config as Record<string, unknown>;
  const gpt2 = c.model_type === undefined || c.model_type === 'gpt2';
  const vocab = createdVocab(options);
  if (gpt2 && vocab) return { ...c, vocab_size: vocab.size, bos_token_id: vocab.eosId, eos_token_id: vocab.eosId };
  if (vocab) return { ...c, vocab_size: vocab.size, bos_token_id: vocab.eosId, eos_token_id: vocab.eosId, pad_token_id: vocab.eosId };
  const tok = options.tokenizer;
  if (gpt2 || !tok || tok.kind !== 'hf') return config;
  return {
    ...c,
    vocab_size: c.vocab_size ?? tok.vocabSize,
    eos_token_id: c.eos_token_id ?? (tok.eosIds.length === 1 ? tok.eosIds[0] : [...tok.eosIds]),
    pad_token_id: c.pad_token_id ?? tok.padId,
  };
}
