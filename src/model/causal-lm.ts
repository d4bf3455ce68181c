import { type ModelConfig, parseModelConfig } from '../arch/config.js';
import type { GPT2ConfigInput } from '../arch/config.js';
import type { LlamaConfigInput } from '../arch/llama.js';
import { initLoraWeights, type LoraOptions, type LoraSpec, mergeLoraWeights, resolveLora } from '../arch/lora.js';
import type { NamedTensors } from '../arch/tensors.js';
import type { BackendPreference, BackendReport, CoreInfo, CoreInit, LogitsTensor, TransformerCore } from '../backend/types.js';
import { BackendUnavailableError, ModelConfigError, ShapeError } from '../errors.js';
import type { RawTensor } from '../io/safetensors.js';
import { TOKENIZER_FILE } from '../tokenizer/hf-tokenizer.js';
import type { TextTokenizer } from '../tokenizer/text-tokenizer.js';
import type { TrimmedVocab } from '../tokenizer/trimmed-vocab.js';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  type AdapterConfig,
  adapterConfigJson,
  type AdapterFiles,
  adapterSafetensors,
  adapterSpec,
  adapterWeights,
  parseAdapterConfig,
  type SavedAdapterFiles,
} from './adapter.js';
import { checkpointAssets, createdAssets, createdVocab, filesToSave, type ModelAssets } from './assets.js';
import {
  type Checkpoint,
  type CheckpointFiles,
  checkpointFiles,
  decodeWeights,
  parseCheckpoint,
  type SavedCheckpointFiles,
  trimCheckpoint,
} from './checkpoint.js';
import { type GPT2GenerateOptions, generateTokens } from './generate.js';
import { GENERATION_CONFIG_FILE } from './hf-config.js';
import { type TrainingSurface, trainingSurface } from './training.js';

export interface CausalLMBackendOption {
  /** A preference for selectBackend (default 'auto'), or an already selected backend. */
  backend?: BackendPreference | BackendReport;
}

/** A fresh LoRA adapter over the model (PEFT's init: A uniform, B zero): the base is frozen and only the adapter trains. */
export interface CausalLMLoraOption {
  /** Rank, alpha (scale alpha / r) and the modules to adapt (default: every one LORA_TARGETS has for the architecture). */
  lora?: LoraOptions;
}

export interface CausalLMLoadOptions extends CausalLMBackendOption, CausalLMLoraOption {
  /** GPT-2 only: trim a full-vocabulary checkpoint to this vocabulary while loading (wte rows are selected). */
  vocab?: TrimmedVocab;
  /** A PEFT adapter directory (adapter_config.json + adapter_model.safetensors) to load over this base. Not with `lora`. */
  adapter?: string;
  /** Seed of a fresh adapter's init (`lora`); default 0. */
  seed?: number;
}

/** fromCheckpointFiles: as load, with the adapter's files in memory too. */
export interface CausalLMFilesOptions extends Omit<CausalLMLoadOptions, 'adapter'> {
  /** Names the checkpoint in error messages, and is the adapter's base_model_name_or_path when a LoRA model is saved. */
  where?: string;
  adapter?: AdapterFiles;
}

/**
 * withAdapter: a second adapter over a LoRA model's frozen base, either fresh (`lora`, seeded) or saved (`adapter`: a
 * PEFT adapter directory in Node, or its files in memory). Exactly one of `lora` and `adapter`.
 */
export interface CausalLMAdapterOptions {
  /** A fresh adapter (PEFT's init: B = 0, so it starts as the base): rank, alpha and targets. */
  lora?: LoraOptions;
  /** Seed of a fresh adapter's init; default 0. */
  seed?: number;
  /** A saved PEFT adapter made for this model's base: its directory (Node only), or its files already in memory. */
  adapter?: string | AdapterFiles;
}

/** save()'s options; only a LoRA model has any. */
export interface CausalLMSaveOptions {
  /**
   * The adapter's base_model_name_or_path in adapter_config.json; default the base directory the model was loaded
   * from (absolute). A path relative to the adapter directory (e.g. `../base` for a base saved beside it) keeps the two movable together.
   */
  baseModel?: string | null;
}

export interface CausalLMCreateOptions extends CausalLMBackendOption, CausalLMLoraOption {
  /** Seed of the init (same weights on every backend), and of a fresh adapter's. Default 0. */
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

/** Where a model came from, for merge() (the same backend) and for saving an adapter (its base directory). */
export interface ModelOrigin {
  backend?: BackendReport;
  /** The base an adapter of this model is saved against (base_model_name_or_path); null when there is none. */
  baseModel?: string | null;
}

/** A PEFT adapter read from a directory or from files in memory, before it meets its base. */
interface AdapterInput {
  config: AdapterConfig;
  tensors: Map<string, RawTensor>;
  assets: Record<string, string>;
  /** The adapter directory (or its label), naming its tokenizer files in errors. */
  where: string;
  configFile: string;
  weightsFile: string;
}

type BuildOptions = Omit<CausalLMLoadOptions, 'adapter'> & { adapter?: AdapterInput; baseModel?: string | null };
export type ModelParts = [TransformerCore, ModelAssets, ModelOrigin];

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
  readonly #origin: ModelOrigin;
  /** Loss, gradients, AdamW, weights and optimizer state: what the trainer drives (the adapter alone on a LoRA model). */
  readonly training: TrainingSurface;

  protected constructor(core: TransformerCore, assets: ModelAssets, origin: ModelOrigin = {}) {
    this.#core = core;
    this.#assets = assets;
    this.#origin = origin;
    this.training = trainingSurface(core);
  }

  get config(): ModelConfig {
    return this.#core.config;
  }

  /** Which core runs this model. */
  get info(): CoreInfo {
    return this.#core.info;
  }

  /**
   * The LoRA adapter's rank, alpha and target modules when the model has one (loaded with `adapter`, or started with
   * `lora`): the base weights are then frozen, `training` covers the adapter tensors alone, and save() writes the adapter.
   */
  get lora(): LoraSpec | undefined {
    return this.#core.lora;
  }

  /**
   * The base directory a LoRA model's adapter is saved against (absolute; what save() writes as base_model_name_or_path),
   * or the label given to fromCheckpointFiles; null for a model that was not loaded from a directory.
   */
  get baseModel(): string | null {
    return this.#origin.baseModel ?? null;
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
   * BF16 or F16, upcast to float32), and the tokenizer files (Llama family) or trimmed_vocab.json (GPT-2). With
   * `adapter`, a PEFT adapter directory over it; with `lora`, a fresh adapter. A PEFT adapter directory alone
   * (adapter_config.json, no config.json) loads over the base its base_model_name_or_path names. Node only.
   */
  static async load(dir: string, options: CausalLMLoadOptions = {}): Promise<CausalLM> {
    return new CausalLM(...(await CausalLM.buildFromDir(dir, options)));
  }

  /** Same as load, from the directory's files already in memory (e.g. fetched in a browser), and an adapter's. */
  static async fromCheckpointFiles(files: CheckpointFiles, options: CausalLMFilesOptions = {}): Promise<CausalLM> {
    return new CausalLM(...(await CausalLM.buildFromFiles(files, options)));
  }

  /** A freshly initialised model (seeded, identical on every backend); with `lora`, a fresh adapter over it. */
  static async create(config: ModelConfigInput, options: CausalLMCreateOptions = {}): Promise<CausalLM> {
    return new CausalLM(...(await CausalLM.buildNew(parseModelConfig(sizedConfig(config, options), 'CausalLM.create config'), options)));
  }

  /** load()'s work, for subclasses: `check` may refuse the checkpoint before a core is built. */
  protected static async buildFromDir(dir: string, options: CausalLMLoadOptions, check: (c: Checkpoint, where: string) => Checkpoint = (c) => c): Promise<ModelParts> {
    const { readCheckpoint } = await import('./checkpoint-fs.js');
    const fs = await import('./adapter-fs.js');
    const { adapter: adapterDir, ...rest } = options;
    if (await fs.isAdapterDir(dir)) {
      if (adapterDir !== undefined || options.lora) throw new ModelConfigError(`${dir} is itself a LoRA adapter; load it alone, or give its base directory with { adapter }`);
      const config = await fs.readAdapterConfig(dir);
      return CausalLM.buildFromDir(await fs.adapterBaseDir(config, dir), { ...rest, adapter: dir }, check);
    }
    let adapter: AdapterInput | undefined;
    if (adapterDir !== undefined) {
      if (options.lora) throw new ModelConfigError('CausalLM.load: give either adapter (a saved adapter) or lora (a fresh one), not both');
      adapter = await readAdapterInput(adapterDir, dir);
    }
    const checkpoint = check(await readCheckpoint(dir), dir);
    return CausalLM.build(checkpoint, dir, { ...rest, ...(adapter ? { adapter } : {}), baseModel: fs.absoluteDir(dir) });
  }

  /** fromCheckpointFiles()'s work, for subclasses. */
  protected static async buildFromFiles(files: CheckpointFiles, options: CausalLMFilesOptions, check: (c: Checkpoint, where: string) => Checkpoint = (c) => c): Promise<ModelParts> {
    const where = options.where ?? 'checkpoint';
    const { adapter: adapterFiles, where: _, ...rest } = options;
    let adapter: AdapterInput | undefined;
    if (adapterFiles) {
      if (options.lora) throw new ModelConfigError('CausalLM.fromCheckpointFiles: give either adapter (a saved adapter) or lora (a fresh one), not both');
      adapter = adapterFilesInput(adapterFiles);
    }
    const checkpoint = check(parseCheckpoint(files, where), where);
    return CausalLM.build(checkpoint, where, { ...rest, ...(adapter ? { adapter } : {}), baseModel: options.where ?? null });
  }

  protected static async build(checkpoint: Checkpoint, where: string, options: BuildOptions): Promise<ModelParts> {
    let ckpt = options.vocab ? trimCheckpoint(checkpoint, options.vocab) : checkpoint;
    let lora: CoreInit['lora'];
    let assetsWhere = where;
    if (options.adapter) {
      const a = options.adapter;
      const spec = adapterSpec(ckpt.config, a.config, a.configFile, where);
      lora = { spec, weights: adapterWeights(a.tensors, ckpt.config, spec, a.weightsFile, where) };
      // A tokenizer saved beside the adapter (as TRL saves one) is the one it was trained with; the generation config stays the base's.
      if (a.assets[TOKENIZER_FILE] !== undefined && ckpt.assets) {
        ckpt = { ...ckpt, assets: { ...withoutTokenizer(ckpt.assets), ...a.assets } };
        assetsWhere = a.where;
      }
    } else if (options.lora) {
      lora = freshLora(ckpt.config, options.lora, options.seed ?? 0, `${where}: lora`);
    }
    const assets = checkpointAssets(ckpt, assetsWhere);
    const report = await resolveBackend(options.backend);
    const core = await report.createCore(ckpt.config, { weights: ckpt.weights, ...(lora ? { lora } : {}) });
    return [core, assets, { backend: report, baseModel: options.baseModel ?? null }];
  }

  protected static async buildNew(parsed: ModelConfig, options: CausalLMCreateOptions): Promise<ModelParts> {
    const assets = createdAssets(parsed, options);
    const seed = options.seed ?? 0;
    const lora = options.lora ? freshLora(parsed, options.lora, seed, 'CausalLM.create lora') : undefined;
    const report = await resolveBackend(options.backend);
    return [await report.createCore(parsed, { seed, ...(lora ? { lora } : {}) }), assets, { backend: report, baseModel: null }];
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
   * (Llama family). A LoRA model writes a PEFT adapter directory instead: adapter_config.json (base_model_name_or_path
   * the base directory it was loaded from), adapter_model.safetensors and the tokenizer files (Llama family). Node only.
   */
  async save(dir: string, options: CausalLMSaveOptions = {}): Promise<void> {
    if (this.lora) {
      const { writeAdapterDir } = await import('./adapter-fs.js');
      await writeAdapterDir(dir, await this.toAdapterFiles(options), this.#origin.baseModel ?? null);
      return;
    }
    const { writeCheckpoint } = await import('./checkpoint-fs.js');
    await writeCheckpoint(dir, await this.checkpoint());
  }

  /** The bytes/text save() would write for a plain model, for storage without a file system (IndexedDB, download). */
  async toCheckpointFiles(): Promise<SavedCheckpointFiles> {
    if (this.lora) {
      throw new ModelConfigError('toCheckpointFiles: this model holds a LoRA adapter over a frozen base; toAdapterFiles() gives the adapter, merge() a plain model to save whole');
    }
    return checkpointFiles(await this.checkpoint());
  }

  /** The bytes/text save() writes for a LoRA model (PEFT's adapter_config.json, adapter_model.safetensors, tokenizer files). */
  async toAdapterFiles(options: CausalLMSaveOptions = {}): Promise<SavedAdapterFiles> {
    const spec = this.lora;
    if (!spec) throw new ModelConfigError('toAdapterFiles: this model has no LoRA adapter; toCheckpointFiles() gives its files');
    const files = filesToSave(this.config, this.#assets);
    const { [GENERATION_CONFIG_FILE]: _, ...tokenizerFiles } = files ?? {};
    const baseModel = options.baseModel !== undefined ? options.baseModel : (this.#origin.baseModel ?? null);
    return {
      adapterConfigJson: adapterConfigJson(this.config, spec, baseModel),
      safetensors: adapterSafetensors(this.config, spec, await this.#core.getWeights()),
      ...(files ? { assets: tokenizerFiles } : {}),
    };
  }

  /**
   * A plain model with the adapter folded into the base (W + (alpha / r) B A), for fast decoding and for saving a whole
   * HF checkpoint. It has its own core (on `backend`, default the one this model runs on); this model is unchanged.
   */
  async merge(options: CausalLMBackendOption = {}): Promise<CausalLM> {
    const spec = this.lora;
    if (!spec || !this.#core.getBaseWeights) throw new ModelConfigError('merge: this model has no LoRA adapter to fold in');
    const merged = mergeLoraWeights(this.config, spec, await this.#core.getBaseWeights(), await this.#core.getWeights());
    const report = options.backend !== undefined || !this.#origin.backend ? await resolveBackend(options.backend) : this.#origin.backend;
    const core = await report.createCore(this.config, { weights: merged });
    const Model = this.constructor as new (core: TransformerCore, assets: ModelAssets, origin: ModelOrigin) => CausalLM;
    return new Model(core, this.#assets, { backend: report, baseModel: null });
  }

  /**
   * A second model over this LoRA model's frozen base, sharing the base weights in memory (the Iterative pair's QG and
   * QA): its own adapter (fresh, or a saved one checked against this base: shapes, and a base_model_name_or_path
   * directory that is present must be this model's base), gradients, optimizer state and decoding; the same tokenizer
   * and backend. Training either model never changes the other's adapter; the base is freed when both are disposed.
   */
  async withAdapter(options: CausalLMAdapterOptions): Promise<CausalLM> {
    if (!this.lora) {
      throw new ModelConfigError(
        'withAdapter: this model has no LoRA adapter, so it has no frozen base to share; load it with a fresh adapter first ' +
          '(CausalLM.load(base, { lora: { r, alpha } })) or with a saved one ({ adapter })',
      );
    }
    const { lora: fresh, adapter, seed = 0 } = options;
    if ((fresh === undefined) === (adapter === undefined)) throw new ModelConfigError('withAdapter: give either lora (a fresh adapter) or adapter (a saved one)');
    const share = this.#core.withAdapter?.bind(this.#core);
    if (!share) {
      throw new BackendUnavailableError(
        this.info.backend,
        `withAdapter: the ${this.info.backend} core cannot share its base between two adapters; run the model on a core that can ` +
          "(backend 'tfjs-cpu', 'wasm' or 'native'), or load a second model over the base with CausalLM.load(base, { lora }) (it holds its own copy of the base)",
      );
    }
    const baseWhere = this.#origin.baseModel ?? 'the base';
    let lora: NonNullable<CoreInit['lora']>;
    if (fresh) lora = freshLora(this.config, fresh, seed, 'withAdapter lora');
    else {
      const input = typeof adapter === 'string' ? await readAdapterInput(adapter, this.#origin.baseModel ?? null) : adapterFilesInput(adapter!);
      const spec = adapterSpec(this.config, input.config, input.configFile, baseWhere);
      lora = { spec, weights: adapterWeights(input.tensors, this.config, spec, input.weightsFile, baseWhere) };
      // The second model shares this one's tokenizer: an adapter trained with another one would read other ids.
      const own = this.#assets.files?.[TOKENIZER_FILE];
      const theirs = input.assets[TOKENIZER_FILE];
      if (theirs !== undefined && own !== undefined && theirs !== own) {
        throw new ModelConfigError(
          `${input.where}/${TOKENIZER_FILE}: the adapter was saved with another tokenizer than this model's (${baseWhere}); ` +
            'withAdapter shares the model\'s tokenizer, so load that adapter on its own with CausalLM.load(base, { adapter })',
        );
      }
    }
    const core = await share({ lora, seed });
    const Model = this.constructor as new (core: TransformerCore, assets: ModelAssets, origin: ModelOrigin) => CausalLM;
    return new Model(core, this.#assets, { ...this.#origin });
  }

  private async checkpoint(): Promise<Checkpoint> {
    const files = filesToSave(this.config, this.#assets);
    return { config: this.config, weights: await this.#core.getWeights(), ...(this.vocab ? { vocab: this.vocab } : {}), ...(files ? { assets: files } : {}) };
  }

  dispose(): void {
    this.#core.dispose();
  }
}

/** A PEFT adapter directory, read and (when `baseDir` is a directory) checked against its base_model_name_or_path. Node only. */
async function readAdapterInput(adapterDir: string, baseDir: string | null): Promise<AdapterInput> {
  const fs = await import('./adapter-fs.js');
  const config = await fs.readAdapterConfig(adapterDir);
  if (baseDir !== null) await fs.checkAdapterBase(config, adapterDir, baseDir);
  const read = await fs.readAdapterDir(adapterDir, config);
  return { ...read, where: adapterDir };
}

/** An adapter's files already in memory. */
function adapterFilesInput(files: AdapterFiles): AdapterInput {
  const at = files.where ?? 'adapter';
  const configFile = `${at}/${ADAPTER_CONFIG_FILE}`;
  const weightsFile = `${at}/${ADAPTER_WEIGHTS_FILE}`;
  const config = parseAdapterConfig(files.config, configFile);
  return { config, tensors: decodeWeights(files.safetensors, weightsFile), assets: { ...files.assets }, where: at, configFile, weightsFile };
}

/** The side files without the tokenizer's (an adapter's tokenizer replaces them as a set). */
function withoutTokenizer(assets: Record<string, string>): Record<string, string> {
  return { ...(assets[GENERATION_CONFIG_FILE] !== undefined ? { [GENERATION_CONFIG_FILE]: assets[GENERATION_CONFIG_FILE] } : {}) };
}

/** A fresh adapter, initialised here (PEFT's init, seeded) so every core starts from the same adapter weights. */
function freshLora(config: ModelConfig, options: LoraOptions, seed: number, source: string): { spec: LoraSpec; weights: NamedTensors } {
  const spec = resolveLora(config, options, source);
  return { spec, weights: initLoraWeights(config, spec, seed) };
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
