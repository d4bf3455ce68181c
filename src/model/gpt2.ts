import { type GPT2Config, type GPT2ConfigInput, isGPT2Config, parseGPT2Config } from '../arch/config.js';
import type { TransformerCore } from '../backend/types.js';
import { ModelConfigError } from '../errors.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { TrimmedVocab } from '../tokenizer/trimmed-vocab.js';
import { createdAssets, type ModelAssets } from './assets.js';
import {
  CausalLM,
  type CausalLMBackendOption,
  type CausalLMCreateOptions,
  type CausalLMFilesOptions,
  type CausalLMLoadOptions,
  type ForwardOptions,
  type ModelOrigin,
  sizedConfig,
} from './causal-lm.js';
import type { Checkpoint, CheckpointFiles } from './checkpoint.js';

// The names GPT-2 code has always used; they are CausalLM's.
export type GPT2BackendOption = CausalLMBackendOption;
export type GPT2LoadOptions = CausalLMLoadOptions;
export type GPT2FilesOptions = CausalLMFilesOptions;
export type GPT2CreateOptions = Omit<CausalLMCreateOptions, 'tokenizer'>;
export type GPT2ForwardOptions = ForwardOptions;

/**
 * A GPT-2: the CausalLM of every GPT-2 student (the paper's model, the offline demo's). Loading refuses any other
 * architecture; `config` and `tokenizer` have GPT-2's types.
 */
export class GPT2 extends CausalLM {
  protected constructor(core: TransformerCore, assets: ModelAssets, origin: ModelOrigin = {}) {
    if (!isGPT2Config(core.config)) throw new ModelConfigError(`GPT2: the core runs a ${core.config.model_type} model`);
    super(core, assets, origin);
  }

  override get config(): GPT2Config {
    return super.config as GPT2Config;
  }

  /** GPT-2 BPE, through the trimmed vocabulary when there is one; undefined for a vocabulary that is neither. */
  override get tokenizer(): Tokenizer | undefined {
    return super.tokenizer as Tokenizer | undefined;
  }

  /** Read an HF GPT-2 directory (config.json + model.safetensors [+ trimmed_vocab.json]), optionally with a LoRA adapter. Node only. */
  static override async load(dir: string, options: GPT2LoadOptions = {}): Promise<GPT2> {
    return new GPT2(...(await CausalLM.buildFromDir(dir, options, gpt2Only)));
  }

  /** Same as load, from the directory's files already in memory (e.g. fetched in a browser). */
  static override async fromCheckpointFiles(files: CheckpointFiles, options: GPT2FilesOptions = {}): Promise<GPT2> {
    return new GPT2(...(await CausalLM.buildFromFiles(files, options, gpt2Only)));
  }

  /** A freshly initialised GPT-2 (seeded, identical on every backend). */
  static override async create(config: GPT2ConfigInput | GPT2Config, options: GPT2CreateOptions = {}): Promise<GPT2> {
    const parsed = parseGPT2Config(sizedConfig(config, options), 'GPT2.create config');
    return new GPT2(...(await CausalLM.buildNew(parsed, options)));
  }

  /** The adapter folded into the base: a plain GPT2 (see CausalLM.merge). */
  override merge(options: GPT2BackendOption = {}): Promise<GPT2> {
    return super.merge(options) as Promise<GPT2>;
  }

  /** Wrap an existing core (e.g. one a backend built); the model then owns it. */
  static fromCore(core: TransformerCore, vocab?: TrimmedVocab): GPT2 {
    if (!isGPT2Config(core.config)) throw new ModelConfigError(`GPT2: the core runs a ${core.config.model_type} model`);
    return new GPT2(core, createdAssets(core.config, vocab ? { vocab } : {}));
  }
}

/** Refuse another architecture before a core is built for it (nothing to dispose then). */
function gpt2Only(checkpoint: Checkpoint, where: string): Checkpoint {
  if (!isGPT2Config(checkpoint.config)) {
    throw new ModelConfigError(`${where}: this is a ${checkpoint.config.model_type} checkpoint; load it with CausalLM.load (GPT2 loads GPT-2 checkpoints only)`);
  }
  return checkpoint;
}
