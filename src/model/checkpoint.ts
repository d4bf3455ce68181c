import { type GPT2Config, isGPT2Config, type ModelConfig, parseGPT2Config, parseModelConfig } from '../arch/config.js';
import { numel, paramLayout } from '../arch/layout.js';
import type { NamedTensors } from '../arch/tensors.js';
import { ModelConfigError, SafetensorsError } from '../errors.js';
import { parseSafetensors, type RawTensor, serializeSafetensors } from '../io/safetensors.js';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../tokenizer/hf-tokenizer.js';
import { TrimmedVocab } from '../tokenizer/trimmed-vocab.js';
import { mergeShards, parseShardIndex, WEIGHTS_INDEX_FILE } from './checkpoint-shards.js';
import { canonicalWeights, sameShape } from './checkpoint-weights.js';
import { GENERATION_CONFIG_FILE, hfConfigJson, parseGenerationConfig } from './hf-config.js';

export { canonicalWeights } from './checkpoint-weights.js';
export { hfConfigJson } from './hf-config.js';
export { WEIGHTS_INDEX_FILE };

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
/** Written beside the weights when the model uses a TrimmedVocab; its ids are compact, not GPT-2 ids. */
export const VOCAB_FILE = 'trimmed_vocab.json';
/**
 * The side files of a Llama-family checkpoint, kept as text and written back unchanged on save: the tokenizer (which
 * keeps the model's own vocabulary and special tokens), the chat template, the generation config.
 * GPT-2 checkpoints ignore them: their tokenizer is GPT-2 BPE, or the trimmed vocabulary.
 */
export const ASSET_FILES = [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, 'special_tokens_map.json', 'chat_template.jinja', GENERATION_CONFIG_FILE] as const;

export interface Checkpoint {
  config: ModelConfig;
  /** Every parameter of paramLayout(config), with its HF name, in layout order. */
  weights: NamedTensors;
  /** The trimmed vocabulary the ids are in: GPT-2, or a from-scratch Llama-family student. */
  vocab?: TrimmedVocab;
  /** Llama family only: ASSET_FILES present, by file name, as text. */
  assets?: Record<string, string>;
}

/** The files of a checkpoint directory, in memory (e.g. fetched in a browser). */
export interface CheckpointFiles {
  /** Parsed config.json. */
  config: unknown;
  /** Bytes of model.safetensors. */
  safetensors?: Uint8Array;
  /** Instead of `safetensors`: the parsed model.safetensors.index.json, and the bytes of its shards by file name. */
  index?: unknown;
  shards?: Record<string, Uint8Array>;
  /** Parsed trimmed_vocab.json, when the model has one. */
  trimmedVocab?: unknown;
  /** ASSET_FILES by name, as text (tokenizer.json, generation_config.json, ...). */
  assets?: Record<string, string>;
}

/** What save() writes, for storage without a file system (IndexedDB, a download). */
export interface SavedCheckpointFiles {
  configJson: string;
  safetensors: Uint8Array;
  trimmedVocabJson?: string;
  /** The tokenizer files and generation_config.json, by file name (Llama family). */
  assets?: Record<string, string>;
}

/**
 * Validate checkpoint files already in memory. `where` names the directory (or URL)
 * in error messages, so a bad tensor is reported as `<where>/model.safetensors: ...`.
 */
export function parseCheckpoint(files: CheckpointFiles, where = '.'): Checkpoint {
  if (files.safetensors) {
    const file = `${where}/${WEIGHTS_FILE}`;
    return checkpointFromTensors(files.config, decodeWeights(files.safetensors, file), files, where, { file });
  }
  if (files.index === undefined) throw new ModelConfigError(`${where}: no ${WEIGHTS_FILE} nor ${WEIGHTS_INDEX_FILE}`);
  const indexFile = `${where}/${WEIGHTS_INDEX_FILE}`;
  const index = parseShardIndex(files.index, indexFile);
  const shardFile = (shard: string): string => `${where}/${shard}`;
  const shards = new Map<string, Map<string, RawTensor>>();
  for (const shard of index.shards) {
    const bytes = files.shards?.[shard];
    if (!bytes) throw new ModelConfigError(`${indexFile}: shard ${shard} is not among the files given`);
    shards.set(shard, decodeWeights(bytes, shardFile(shard)));
  }
  return checkpointFromTensors(files.config, mergeShards(index, shards, indexFile, shardFile), files, where, {
    file: indexFile,
    fileOf: (tensor) => shardFile(index.weightMap.get(tensor) ?? WEIGHTS_INDEX_FILE),
  });
}

/** One safetensors file's tensors (floats widened to float32); a malformed file is a ModelConfigError naming it. */
export function decodeWeights(bytes: Uint8Array, file: string): Map<string, RawTensor> {
  try {
    return parseSafetensors(bytes, file).tensors;
  } catch (err) {
    if (err instanceof SafetensorsError) throw err;
    throw new ModelConfigError(`cannot load the weights: ${(err as Error).message}`, { cause: err });
  }
}

/** Shared by the in-memory and the file loaders once the safetensors are decoded. */
export function checkpointFromTensors(
  configJson: unknown,
  raw: Map<string, RawTensor>,
  side: Pick<CheckpointFiles, 'trimmedVocab' | 'assets'>,
  where: string,
  source: { file: string; fileOf?: (tensor: string) => string },
): Checkpoint {
  const configPath = `${where}/${CONFIG_FILE}`;
  const config = parseModelConfig(configJson, configPath);
  const weights = canonicalWeights(raw, config, source.file, { configPath, ...(source.fileOf ? { fileOf: source.fileOf } : {}) });
  const vocabPath = `${where}/${VOCAB_FILE}`;
  if (!isGPT2Config(config)) {
    const assets = Object.fromEntries(Object.entries(side.assets ?? {}).filter(([name]) => (ASSET_FILES as readonly string[]).includes(name)));
    const generation = assets[GENERATION_CONFIG_FILE];
    if (generation !== undefined) parseGenerationConfig(generation, `${where}/${GENERATION_CONFIG_FILE}`);
    if (side.trimmedVocab === undefined) return { config, weights, assets };
    refuseVocabBesideTokenizer(config, assets, vocabPath);
    return { config, weights, vocab: trimmedVocab(side.trimmedVocab, vocabPath, config, configPath), assets };
  }
  if (side.trimmedVocab === undefined) return { config, weights };
  return { config, weights, vocab: trimmedVocab(side.trimmedVocab, vocabPath, config, configPath) };
}

/** A from-scratch Llama-family student may have a trimmed vocabulary; a pretrained model keeps its own tokenizer, never both. */
export function refuseVocabBesideTokenizer(config: ModelConfig, assets: Record<string, string>, vocabPath: string): void {
  if (isGPT2Config(config) || assets[TOKENIZER_FILE] === undefined) return;
  throw new ModelConfigError(
    `${vocabPath}: a ${config.model_type} model has either its own ${TOKENIZER_FILE} (pretrained) or a trimmed vocabulary (a from-scratch student), not both; remove one`,
  );
}

function trimmedVocab(json: unknown, vocabPath: string, config: ModelConfig, configPath: string): TrimmedVocab {
  const vocab = TrimmedVocab.fromJSON(json, vocabPath);
  if (vocab.size !== config.vocab_size) {
    throw new ModelConfigError(`${vocabPath}: the trimmed vocabulary has ${vocab.size} ids but ${configPath} says vocab_size ${config.vocab_size}`);
  }
  return vocab;
}

/** The files of an HF-compatible directory for this checkpoint (float32; no lm_head when it is tied). */
export function checkpointFiles(checkpoint: Checkpoint): SavedCheckpointFiles {
  const { config, weights, vocab, assets } = checkpoint;
  // Sorted by name, as the reference safetensors writer orders same-dtype tensors: a loaded HF
  // float32 checkpoint saves back byte for byte.
  const specs = paramLayout(config).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const ordered: NamedTensors = new Map();
  for (const spec of specs) {
    const t = weights.get(spec.name);
    if (!t || !sameShape(t.shape, spec.shape) || t.data.length !== numel(spec.shape)) {
      throw new ModelConfigError(`cannot save: weight '${spec.name}' is missing or not shaped [${spec.shape.join(', ')}]`);
    }
    ordered.set(spec.name, t);
  }
  return {
    configJson: `${JSON.stringify(hfConfigJson(config), null, 2)}\n`,
    safetensors: serializeSafetensors(ordered, { format: 'pt' }),
    ...(vocab ? { trimmedVocabJson: `${JSON.stringify(vocab.toJSON())}\n` } : {}),
    ...(assets && !isGPT2Config(config) ? { assets: { ...assets } } : {}),
  };
}

const GPT2_PREFIX = 'transformer.';

/**
 * Shrink a full-GPT-2 checkpoint to a TrimmedVocab: keep the wte rows of the
 * vocabulary's tokens (the tied head shrinks with it); `<unk>` starts as the mean row.
 * Only for GPT-2: a pretrained Llama-family student keeps its own vocabulary.
 */
export function trimCheckpoint(checkpoint: Checkpoint, vocab: TrimmedVocab): Checkpoint {
  const { config, weights } = checkpoint;
  if (!isGPT2Config(config)) {
    throw new ModelConfigError(`cannot trim a ${config.model_type} checkpoint: trimmed vocabularies are for GPT-2 students; a pretrained model keeps its own tokenizer`);
  }
  if (checkpoint.vocab) throw new ModelConfigError('the checkpoint already has a trimmed vocabulary; trim only full GPT-2 checkpoints');
  const full = vocab.toJSON().gpt2Ids;
  if (config.vocab_size <= full[full.length - 1]!) {
    throw new ModelConfigError(`cannot trim: vocab_size ${config.vocab_size} does not cover GPT-2 id ${full[full.length - 1]}`);
  }
  const C = config.n_embd;
  const wte = weights.get(`${GPT2_PREFIX}wte.weight`);
  if (!wte) throw new ModelConfigError('cannot trim: the checkpoint has no transformer.wte.weight');
  const rows = new Float32Array(vocab.size * C);
  full.forEach((id, i) => rows.set(wte.data.subarray(id * C, (id + 1) * C), i * C));
  if (vocab.unkId !== undefined) {
    const mean = new Float64Array(C);
    for (let r = 0; r < config.vocab_size; r++) for (let c = 0; c < C; c++) mean[c]! += wte.data[r * C + c]! / config.vocab_size;
    rows.set(Float32Array.from(mean), vocab.unkId * C);
  }
  const trimmed = new Map(weights);
  trimmed.set(`${GPT2_PREFIX}wte.weight`, { shape: [vocab.size, C], data: rows });
  // Special-token ids move to the compact space too, so HF generate stops at the right id.
  const ids = { bos_token_id: vocab.eosId, eos_token_id: vocab.eosId, ...('pad_token_id' in config ? { pad_token_id: vocab.eosId } : {}) };
  const trimmedConfig: GPT2Config = parseGPT2Config({ ...config, vocab_size: vocab.size, ...ids }, 'trimmed config');
  return { config: trimmedConfig, weights: trimmed, vocab };
}
