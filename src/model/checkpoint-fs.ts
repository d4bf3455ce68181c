import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isGPT2Config, parseModelConfig } from '../arch/config.js';
import { ModelConfigError, SafetensorsError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { type RawTensor, readSafetensors } from '../io/safetensors.js';
import {
  ASSET_FILES,
  type Checkpoint,
  checkpointFiles,
  checkpointFromTensors,
  CONFIG_FILE,
  refuseVocabBesideTokenizer,
  VOCAB_FILE,
  WEIGHTS_FILE,
  WEIGHTS_INDEX_FILE,
} from './checkpoint.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_PICKLE_FILE, ADAPTER_WEIGHTS_FILE } from './adapter.js';
import { mergeShards, parseShardIndex } from './checkpoint-shards.js';
import { checkpointAssets } from './assets.js';
import type { TextTokenizer } from '../tokenizer/text-tokenizer.js';
import { TrimmedVocab } from '../tokenizer/trimmed-vocab.js';

/**
 * Read an HF checkpoint directory: config.json, then model.safetensors or (when there is none) the shards that
 * model.safetensors.index.json names, then trimmed_vocab.json (GPT-2) or the tokenizer and generation files
 * (Llama family) when present. Every file name comes from this directory; a shard index naming anything else is refused.
 */
export async function readCheckpoint(dir: string): Promise<Checkpoint> {
  const configJson = await readJson(join(dir, CONFIG_FILE));
  const single = join(dir, WEIGHTS_FILE);
  const side = { trimmedVocab: await readJson(join(dir, VOCAB_FILE), true), assets: await readAssets(dir, configJson) };
  if (await exists(single)) return checkpointFromTensors(configJson, await readWeights(single), side, dir, { file: single });
  const indexFile = join(dir, WEIGHTS_INDEX_FILE);
  if (!(await exists(indexFile))) throw new ModelConfigError(`${dir}: no ${WEIGHTS_FILE} nor ${WEIGHTS_INDEX_FILE} (is this a model directory?)`);
  const index = parseShardIndex(await readJson(indexFile), indexFile);
  const shardFile = (shard: string): string => join(dir, shard);
  const shards = new Map<string, Map<string, RawTensor>>();
  for (const shard of index.shards) shards.set(shard, await readWeights(shardFile(shard)));
  return checkpointFromTensors(configJson, mergeShards(index, shards, indexFile, shardFile), side, dir, {
    file: indexFile,
    fileOf: (tensor) => shardFile(index.weightMap.get(tensor) ?? WEIGHTS_INDEX_FILE),
  });
}

/**
 * The tokenizer the model in `dir` has, without reading its weights (a 135M checkpoint is hundreds of MB): config.json,
 * then the tokenizer files (Llama family) or trimmed_vocab.json, checked as readCheckpoint checks them. Undefined for a
 * model that has none (CausalLM.tokenizer).
 */
export async function readCheckpointTokenizer(dir: string): Promise<TextTokenizer | undefined> {
  const configPath = join(dir, CONFIG_FILE);
  const configJson = await readJson(configPath);
  const config = parseModelConfig(configJson, configPath);
  const vocabPath = join(dir, VOCAB_FILE);
  const vocabJson = await readJson(vocabPath, true);
  const vocab = vocabJson === undefined ? undefined : TrimmedVocab.fromJSON(vocabJson, vocabPath);
  if (vocab && vocab.size !== config.vocab_size) {
    throw new ModelConfigError(`${vocabPath}: the trimmed vocabulary has ${vocab.size} ids but ${configPath} says vocab_size ${config.vocab_size}`);
  }
  const assets = await readAssets(dir, configJson);
  if (vocab) refuseVocabBesideTokenizer(config, assets, vocabPath);
  return checkpointAssets({ config, weights: new Map(), ...(vocab ? { vocab } : {}), assets }, dir).tokenizer;
}

export async function readWeights(path: string): Promise<Map<string, RawTensor>> {
  try {
    return (await readSafetensors(path)).tensors;
  } catch (err) {
    // A damaged weights file keeps its own code and hint, the same as in the browser loader; a missing or
    // unreadable one is a checkpoint directory problem.
    if (err instanceof SafetensorsError && !((err.cause as NodeJS.ErrnoException | undefined)?.code)) throw err;
    throw new ModelConfigError(`cannot load the weights: ${(err as Error).message}`, { cause: err });
  }
}

/** The ASSET_FILES present, as text; GPT-2 directories skip them (a GPT-2's tokenizer is built in). */
async function readAssets(dir: string, configJson: unknown): Promise<Record<string, string>> {
  const assets: Record<string, string> = {};
  if (isGPT2Config(parseModelConfig(configJson, join(dir, CONFIG_FILE)))) return assets;
  for (const name of ASSET_FILES) {
    const text = await readText(join(dir, name), true);
    if (text !== undefined) assets[name] = text;
  }
  return assets;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new ModelConfigError(`${path}: cannot read (${(err as Error).message})`, { cause: err });
  }
}

export async function readText(path: string, optional = false): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelConfigError(`${path}: cannot read (${(err as Error).message})`, { cause: err });
  }
}

export async function readJson(path: string, optional = false): Promise<unknown> {
  const text = await readText(path, optional);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ModelConfigError(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/**
 * Write an HF-compatible directory: `transformers.AutoModelForCausalLM.from_pretrained(dir)` reads config.json +
 * model.safetensors (float32), and AutoTokenizer the tokenizer files beside them. Each file is written atomically
 * and config.json last, so a directory with a config.json always has the weights it describes. Files that would
 * describe another model are removed: a stale trimmed_vocab.json (it would renumber the ids) and, for the Llama
 * family, side files this model does not have and a shard index (model.safetensors is read first anyway); and the
 * files of a PEFT adapter saved there before (transformers would load the adapter's base and the adapter instead).
 */
export async function writeCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  const files = checkpointFiles(checkpoint);
  await writeFileAtomic(join(dir, WEIGHTS_FILE), files.safetensors);
  if (files.trimmedVocabJson !== undefined) await writeFileAtomic(join(dir, VOCAB_FILE), files.trimmedVocabJson);
  else await rm(join(dir, VOCAB_FILE), { force: true });
  if (!isGPT2Config(checkpoint.config)) {
    const assets = files.assets ?? {};
    for (const name of ASSET_FILES) {
      const text = assets[name];
      if (text !== undefined) await writeFileAtomic(join(dir, name), text);
      else await rm(join(dir, name), { force: true });
    }
    await rm(join(dir, WEIGHTS_INDEX_FILE), { force: true });
  }
  for (const name of [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, ADAPTER_PICKLE_FILE]) await rm(join(dir, name), { force: true });
  await writeFileAtomic(join(dir, CONFIG_FILE), files.configJson);
}
