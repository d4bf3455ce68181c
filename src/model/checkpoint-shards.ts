import { z } from 'zod';
import { ModelConfigError } from '../errors.js';
import type { RawTensor } from '../io/safetensors.js';

/** The index of a sharded checkpoint, as `save_pretrained` writes it: which shard file holds each tensor. */
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';

export const ShardIndexJsonSchema = z
  .object({
    metadata: z.record(z.unknown()).optional(),
    weight_map: z.record(z.string()),
  })
  .passthrough();

export interface ShardIndex {
  /** Tensor name -> shard file name (a plain name inside the checkpoint directory). */
  weightMap: Map<string, string>;
  /** Every shard, in the order the index first names it. */
  shards: string[];
}

/**
 * A shard must be a plain file name in the checkpoint directory: no path separator, no `..`, no drive or absolute
 * path, so a hostile index cannot make the loader read outside the directory (HF writes `model-00001-of-00002.safetensors`).
 */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !/[/\\:\0]/.test(name);
}

/** Validate a parsed model.safetensors.index.json; `file` names it in errors. */
export function parseShardIndex(json: unknown, file: string): ShardIndex {
  const r = ShardIndexJsonSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ModelConfigError(`${file}: not a shard index: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  const weightMap = new Map<string, string>();
  const shards: string[] = [];
  for (const [tensor, shard] of Object.entries(r.data.weight_map)) {
    if (!isPlainFileName(shard)) {
      throw new ModelConfigError(`${file}: weight_map puts '${tensor}' in ${JSON.stringify(shard)}, which is not a file name inside the checkpoint directory`);
    }
    weightMap.set(tensor, shard);
    if (!shards.includes(shard)) shards.push(shard);
  }
  if (shards.length === 0) throw new ModelConfigError(`${file}: weight_map is empty`);
  return { weightMap, shards };
}

/**
 * Join the tensors of every shard into one map, checked against the index: each tensor must sit in the shard the
 * index names (so no tensor comes from two shards), and every shard tensor must be in the index. `fileOf(shard)` names a shard in errors.
 */
export function mergeShards(
  index: ShardIndex,
  shardTensors: ReadonlyMap<string, Map<string, RawTensor>>,
  indexFile: string,
  fileOf: (shard: string) => string,
): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const shard of index.shards) {
    for (const [name, tensor] of shardTensors.get(shard) ?? []) {
      const listed = index.weightMap.get(name);
      if (listed === undefined) throw new ModelConfigError(`${fileOf(shard)}: tensor '${name}' is not in the weight_map of ${indexFile}`);
      if (listed !== shard) throw new ModelConfigError(`${fileOf(shard)}: holds tensor '${name}', which ${indexFile} puts in ${listed}`);
      out.set(name, tensor);
    }
  }
  for (const [name, shard] of index.weightMap) {
    if (!out.has(name)) throw new ModelConfigError(`${indexFile}: tensor '${name}' is missing from every shard (the index puts it in ${shard})`);
  }
  return out;
}
