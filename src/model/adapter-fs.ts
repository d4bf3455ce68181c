import { realpath, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { ModelConfigError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { RawTensor } from '../io/safetensors.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_PICKLE_FILE, ADAPTER_WEIGHTS_FILE, type AdapterConfig, parseAdapterConfig, type SavedAdapterFiles } from './adapter.js';
import { baseFingerprint } from './base-dir.js';
import { ASSET_FILES, CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE, WEIGHTS_INDEX_FILE } from './checkpoint.js';
import { exists, readJson, readText, readWeights } from './checkpoint-fs.js';
import { GENERATION_CONFIG_FILE } from './hf-config.js';

/** The tokenizer files PEFT + TRL save beside an adapter (the generation config stays the base's). */
export const ADAPTER_ASSET_FILES = ASSET_FILES.filter((f) => f !== GENERATION_CONFIG_FILE);

/** An adapter directory as read: its validated config, its raw tensors and the tokenizer files beside them. */
export interface AdapterDir {
  dir: string;
  configFile: string;
  weightsFile: string;
  config: AdapterConfig;
  tensors: Map<string, RawTensor>;
  assets: Record<string, string>;
}

/** Whether `dir` holds a PEFT adapter and no model of its own (adapter_config.json without config.json). */
export async function isAdapterDir(dir: string): Promise<boolean> {
  return (await exists(join(dir, ADAPTER_CONFIG_FILE))) && !(await exists(join(dir, CONFIG_FILE)));
}

/** adapter_config.json of `dir`, validated (PEFT features this library lacks are refused by name). */
export async function readAdapterConfig(dir: string): Promise<AdapterConfig> {
  const configFile = join(dir, ADAPTER_CONFIG_FILE);
  const json = await readJson(configFile, true);
  if (json === undefined) throw new ModelConfigError(`${dir}: no ${ADAPTER_CONFIG_FILE} (is this a PEFT adapter directory?)`);
  return parseAdapterConfig(json, configFile);
}

/** Read a PEFT adapter directory: adapter_config.json, adapter_model.safetensors and the tokenizer files beside them. */
export async function readAdapterDir(dir: string, config?: AdapterConfig): Promise<AdapterDir> {
  const parsed = config ?? (await readAdapterConfig(dir));
  const weightsFile = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!(await exists(weightsFile))) {
    const pickle = await exists(join(dir, ADAPTER_PICKLE_FILE));
    throw new ModelConfigError(
      pickle
        ? `${dir}: the adapter is ${ADAPTER_PICKLE_FILE} (a pickle), which is never read here; save it with PEFT's safe_serialization=True (${ADAPTER_WEIGHTS_FILE})`
        : `${dir}: no ${ADAPTER_WEIGHTS_FILE}`,
    );
  }
  const assets: Record<string, string> = {};
  for (const name of ADAPTER_ASSET_FILES) {
    const text = await readText(join(dir, name), true);
    if (text !== undefined) assets[name] = text;
  }
  return { dir, configFile: join(dir, ADAPTER_CONFIG_FILE), weightsFile, config: parsed, tensors: await readWeights(weightsFile), assets };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The existing directories `base_model_name_or_path` may mean: an absolute path as it is; a relative one against the
 * adapter directory (as this library's fixtures write it) and against the working directory (as PEFT reads it).
 * Empty for a hub id, or for a base that is no longer there.
 */
export async function adapterBaseCandidates(named: string | null, adapterDir: string): Promise<string[]> {
  if (!named) return [];
  const paths = isAbsolute(named) ? [named] : [...new Set([resolve(adapterDir, named), resolve(named)])];
  const found: string[] = [];
  for (const p of paths) if (await isDirectory(p)) found.push(p);
  return found;
}

/**
 * Refuse an adapter whose base_model_name_or_path names a directory that exists and is not `baseDir` (compared after
 * resolving symlinks). A name that is no directory here (a hub id, a moved base) is not checked: the tensor shapes still are.
 */
export async function checkAdapterBase(adapter: AdapterConfig, adapterDir: string, baseDir: string): Promise<void> {
  const candidates = await adapterBaseCandidates(adapter.baseModel, adapterDir);
  if (candidates.length === 0) return;
  const base = await realpath(baseDir).catch(() => resolve(baseDir));
  for (const c of candidates) if ((await realpath(c)) === base) return;
  // A copy of the same base elsewhere (moved to another disk, or the copy saved beside a student) is that base.
  if (await sameModelFiles(candidates[0]!, baseDir)) return;
  throw new ModelConfigError(
    `${join(adapterDir, ADAPTER_CONFIG_FILE)}: the adapter was made for the base ${candidates[0]} (base_model_name_or_path ${JSON.stringify(adapter.baseModel)}), ` +
      `but it is being loaded over ${resolve(baseDir)}; load it over ${candidates[0]}, or correct base_model_name_or_path if that base was moved or copied`,
  );
}

/** Whether two model directories hold the same config.json and weight files (baseFingerprint); false if either is not one. */
async function sameModelFiles(a: string, b: string): Promise<boolean> {
  try {
    return (await baseFingerprint(a)) === (await baseFingerprint(b));
  } catch {
    return false;
  }
}

/** The base directory an adapter directory names (for CausalLM.load of an adapter directory alone). */
export async function adapterBaseDir(adapter: AdapterConfig, adapterDir: string): Promise<string> {
  const [dir] = await adapterBaseCandidates(adapter.baseModel, adapterDir);
  if (dir === undefined) {
    throw new ModelConfigError(
      `${adapterDir} holds a LoRA adapter whose base_model_name_or_path ${JSON.stringify(adapter.baseModel)} is not a directory here; ` +
        `load it with CausalLM.load(baseDir, { adapter: ${JSON.stringify(adapterDir)} })`,
    );
  }
  return dir;
}

export const absoluteDir = (dir: string): string => resolve(dir);

/** The files of a full model that would make an adapter directory ambiguous (transformers would load them instead). */
const MODEL_FILES = [CONFIG_FILE, WEIGHTS_FILE, WEIGHTS_INDEX_FILE, VOCAB_FILE, GENERATION_CONFIG_FILE];

/**
 * Write a PEFT adapter directory: adapter_model.safetensors, the tokenizer files, and adapter_config.json last (each
 * atomically), so a directory with an adapter_config.json always has the tensors it describes. Files of a full model
 * left from an earlier save, and tokenizer files this adapter does not have, are removed; the base's own directory is
 * refused (the adapter would sit on top of the model it adapts).
 */
export async function writeAdapterDir(dir: string, files: SavedAdapterFiles, baseDir: string | null): Promise<void> {
  if (baseDir !== null && (await isDirectory(dir))) {
    const [here, base] = await Promise.all([realpath(dir), realpath(baseDir).catch(() => resolve(baseDir))]);
    if (here === base) throw new ModelConfigError(`cannot save the adapter into its base model's directory ${dir}; save it into a directory of its own`);
  }
  await writeFileAtomic(join(dir, ADAPTER_WEIGHTS_FILE), files.safetensors);
  const assets = files.assets ?? {};
  for (const name of ADAPTER_ASSET_FILES) {
    const text = assets[name];
    if (text !== undefined) await writeFileAtomic(join(dir, name), text);
    else await rm(join(dir, name), { force: true });
  }
  for (const name of [...MODEL_FILES, ADAPTER_PICKLE_FILE]) await rm(join(dir, name), { force: true });
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), files.adapterConfigJson);
}
