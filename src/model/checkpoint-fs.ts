import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelConfigError, SafetensorsError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { type RawTensor, readSafetensors } from '../io/safetensors.js';
import { type Checkpoint, checkpointFiles, checkpointFromTensors, CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE } from './checkpoint.js';

/** Read an HF GPT-2 directory: config.json + model.safetensors (+ trimmed_vocab.json when present). */
export async function readCheckpoint(dir: string): Promise<Checkpoint> {
  const config = await readJson(join(dir, CONFIG_FILE));
  const weightsPath = join(dir, WEIGHTS_FILE);
  let raw: Map<string, RawTensor>;
  try {
    raw = (await readSafetensors(weightsPath)).tensors;
  } catch (err) {
    // A damaged weights file keeps its own code and hint, the same as in the browser loader.
    if (err instanceof SafetensorsError) throw err;
    throw new ModelConfigError(`cannot load GPT-2 weights: ${(err as Error).message}`, { cause: err });
  }
  return checkpointFromTensors(config, raw, await readJson(join(dir, VOCAB_FILE), true), dir);
}

async function readJson(path: string, optional = false): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelConfigError(`${path}: cannot read (${(err as Error).message})`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ModelConfigError(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/**
 * Write an HF-compatible GPT-2 directory: `transformers.GPT2LMHeadModel.from_pretrained(dir)`
 * reads config.json + model.safetensors. Each file is written atomically and config.json
 * last, so a directory with a config.json always has the weights it describes.
 */
export async function writeCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  const files = checkpointFiles(checkpoint);
  await writeFileAtomic(join(dir, WEIGHTS_FILE), files.safetensors);
  if (files.trimmedVocabJson !== undefined) await writeFileAtomic(join(dir, VOCAB_FILE), files.trimmedVocabJson);
  else await rm(join(dir, VOCAB_FILE), { force: true }); // a stale vocabulary would renumber this model's ids
  await writeFileAtomic(join(dir, CONFIG_FILE), files.configJson);
}
