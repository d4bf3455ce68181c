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
  type CausalLMLoadOptions,
  type ForwardOptions,
  sizedConfig,
} from './causal-lm.js';
import { type Checkpoint, type CheckpointFiles, parseCheckpoint } from './checkpoint.js';

// The names GPT-2 code has always used; they are CausalLM's.
export type GPT2BackendOption = CausalLMBackendOption;
export type GPT2LoadOptions = CausalLMLoadOptions;
export type GPT2CreateOptions = Omit<CausalLMCreateOptions, 'tokenizer'>;
export type GPT2ForwardOptions = ForwardOptions;

/**
 * A GPT-2: the CausalLM of every GPT-2 student (the paper's model, the offline demo's). Loading refuses any other
 * architecture; `config` and `tokenizer` have GPT-2's types.
 */
export class GPT2 extends CausalLM {
  protected constructor(core: TransformerCore, assets: ModelAssets) {
    if (!isGPT2Config(core.config)) throw new ModelConfigError(`GPT2: the core runs a ${core.config.model_type} model`);
    super(core, assets);
  }

  override get config(): GPT2Config {
    return super.config as GPT2Config;
  }

  /** GPT-2 BPE, through the trimmed vocabulary when there is one; undefined for a vocabulary that is neither. */
  override get tokenizer(): Tokenizer | undefined {
    return super.tokenizer as Tokenizer | undefined;
  }

  /** Read an HF GPT-2 directory (config.json + model.safetensors [+ trimmed_vocab.json]). Node only. */
  static override async load(dir: string, options: GPT2LoadOptions = {}): Promise<GPT2> {
    const { readCheckpoint } = await import('./checkpoint-fs.js');
    return new GPT2(...(await CausalLM.build(gpt2Only(await readCheckpoint(dir), dir), dir, options)));
  }

  /** Same as load, from the directory's files already in memory (e.g. fetched in a browser). */
  static override async fromCheckpointFiles(files: CheckpointFiles, options: GPT2LoadOptions & { where?: string } = {}): Promise<GPT2> {
    const where = options.where ?? 'checkpoint';
    return new GPT2(...(await CausalLM.build(gpt2Only(parseCheckpoint(files, where), where), where, options)));
  }

  /** A freshly initialised GPT-2 (seeded, identical on every backend). */
  static override async create(config: GPT2ConfigInput | GPT2Config, options: GPT2CreateOptions = {}): Promise<GPT2> {
    const parsed = parseGPT2Config(sizedConfig(config, options), 'GPT2.create config');
    return new GPT2(...(await CausalLM.buildNew(parsed, options)));
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
