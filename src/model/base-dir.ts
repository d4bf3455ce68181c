import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ModelConfigError } from '../errors.js';
import { ASSET_FILES, CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE } from './checkpoint.js';
import { exists, readJson } from './checkpoint-fs.js';
import { parseShardIndex, WEIGHTS_INDEX_FILE } from './checkpoint-shards.js';

/**
 * A LoRA student's base model directory, as its student.json records it: a fingerprint that tells the base it was
 * trained on from another model at the same path, and a copy of the base saved beside the adapters. Node only.
 */

/** The weight files of an HF checkpoint directory: model.safetensors, or the shards its index names. */
async function weightFiles(dir: string): Promise<string[]> {
  if (await exists(join(dir, WEIGHTS_FILE))) return [WEIGHTS_FILE];
  const indexFile = join(dir, WEIGHTS_INDEX_FILE);
  if (!(await exists(indexFile))) throw new ModelConfigError(`${dir}: no ${WEIGHTS_FILE} nor ${WEIGHTS_INDEX_FILE} (is this a model directory?)`);
  return [WEIGHTS_INDEX_FILE, ...parseShardIndex(await readJson(indexFile), indexFile).shards];
}

/** Bytes hashed from each end of a weight file: any retrained or re-quantised copy differs there, and a 1 GB base hashes in milliseconds. */
const EDGE_BYTES = 1 << 16;

/**
 * `sha256:<hex>` of the base's config.json and, per weight file, its name, size and first and last 64 KiB. Equal for a
 * byte-identical copy (moved or copied elsewhere), different for another model or another precision of the same one.
 */
export async function baseFingerprint(dir: string): Promise<string> {
  const h = createHash('sha256');
  const configPath = join(dir, CONFIG_FILE);
  if (!(await exists(configPath))) throw new ModelConfigError(`${dir}: no ${CONFIG_FILE} (is this a model directory?)`);
  const config = await open(configPath, 'r');
  try {
    h.update(await config.readFile());
  } finally {
    await config.close();
  }
  for (const name of await weightFiles(dir)) {
    const file = await open(join(dir, name), 'r');
    try {
      const { size } = await file.stat();
      h.update(`\0${name}\0${size}\0`);
      const head = Buffer.alloc(Math.min(EDGE_BYTES, size));
      await file.read(head, 0, head.length, 0);
      const tail = Buffer.alloc(Math.min(EDGE_BYTES, size));
      await file.read(tail, 0, tail.length, size - tail.length);
      h.update(head);
      h.update(tail);
    } finally {
      await file.close();
    }
  }
  return `sha256:${h.digest('hex')}`;
}

async function copyFileAtomic(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  const tmp = join(dirname(to), `.${basename(to)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await copyFile(from, tmp);
    await rename(tmp, to);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Copy an HF checkpoint directory's files (weights as they are: bf16 stays bf16, shards stay shards; the trimmed
 * vocabulary and tokenizer files) into `to`, each atomically and config.json last, so `to` is a complete model once it has a config.json.
 */
export async function copyBaseDir(from: string, to: string): Promise<void> {
  const info = await stat(from).catch(() => null);
  if (!info?.isDirectory()) throw new ModelConfigError(`cannot copy the base model: ${from} is not a directory`);
  await rm(join(to, CONFIG_FILE), { force: true });
  for (const name of await weightFiles(from)) await copyFileAtomic(join(from, name), join(to, name));
  for (const name of [VOCAB_FILE, ...ASSET_FILES]) {
    if (await exists(join(from, name))) await copyFileAtomic(join(from, name), join(to, name));
    else await rm(join(to, name), { force: true });
  }
  await copyFileAtomic(join(from, CONFIG_FILE), join(to, CONFIG_FILE));
}

/** Whether `path` is a directory (a missing path, or a file, is not). */
export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}
