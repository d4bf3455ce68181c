import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseGPT2Config, type GPT2Config } from '../../src/arch/config.js';
import type { LabeledBatch, NamedTensors } from '../../src/backend/types.js';
import { readSafetensors, type RawTensor } from '../../src/io/safetensors.js';

/** The golden GPT-2 fixtures from HF transformers, shared read-only beside the repo. */
export const FIXTURE_DIR = resolve(process.env.SOCRATIC_SHARED ?? resolve(__dirname, '../../../shared'), 'fixtures/gpt2');
export const hasFixtures = existsSync(join(FIXTURE_DIR, 'model.safetensors'));

export function fixtureConfig(): GPT2Config {
  return parseGPT2Config(JSON.parse(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8')), 'fixture config.json');
}

export function asFloat(map: Map<string, RawTensor>): NamedTensors {
  const out: NamedTensors = new Map();
  for (const [k, v] of map) {
    if (!(v.data instanceof Float32Array)) continue;
    out.set(k, { shape: v.shape, data: v.data });
  }
  return out;
}

export async function fixtureWeights(): Promise<NamedTensors> {
  return asFloat((await readSafetensors(join(FIXTURE_DIR, 'model.safetensors'))).tensors);
}
export async function fixtureOutputs(): Promise<Map<string, RawTensor>> {
  return (await readSafetensors(join(FIXTURE_DIR, 'outputs.safetensors'))).tensors;
}
export async function fixtureGrads(): Promise<NamedTensors> {
  return asFloat((await readSafetensors(join(FIXTURE_DIR, 'grads.safetensors'))).tensors);
}
export async function fixtureParamsAfterStep(): Promise<Map<string, RawTensor>> {
  return (await readSafetensors(join(FIXTURE_DIR, 'params_after_step.safetensors'))).tensors;
}

interface BatchJson {
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
  position_ids: number[][];
  last4_real_positions: number[][];
}
export function fixtureBatchJson(): BatchJson {
  return JSON.parse(readFileSync(join(FIXTURE_DIR, 'batch.json'), 'utf8')) as BatchJson;
}
export function fixtureBatch(): LabeledBatch {
  const b = fixtureBatchJson();
  const B = b.input_ids.length;
  const T = b.input_ids[0]!.length;
  return {
    batchSize: B,
    seqLen: T,
    inputIds: Int32Array.from(b.input_ids.flat()),
    attentionMask: Uint8Array.from(b.attention_mask.flat()),
    positionIds: Int32Array.from(b.position_ids.flat()),
    labels: Int32Array.from(b.labels.flat()),
  };
}

export function fixtureJson<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURE_DIR, name), 'utf8')) as T;
}

/** max |a - b| */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}
