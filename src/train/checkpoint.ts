import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { LoraSpec } from '../arch/lora.js';
import type { NamedTensors } from '../arch/tensors.js';
import { CheckpointError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import type { OptimizerState } from '../model/core-types.js';
import type { CausalLM } from '../model/causal-lm.js';

/** Everything besides tensors that an exact resume needs. */
export const TrainerStateSchema = z.object({
  version: z.literal(1),
  /** Optimizer steps done. */
  step: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(),
  /** Next batch index within the epoch plan. */
  batchInEpoch: z.number().int().nonnegative(),
  /** The current epoch's batch order (example indices), so data order survives a resume. */
  plan: z.array(z.array(z.number().int().nonnegative())),
  rng: z.array(z.number().int().nonnegative()).length(4),
  totalSteps: z.number().int().positive(),
  losses: z.array(z.number()),
  evals: z.array(z.object({ step: z.number().int(), loss: z.number() })),
  bestEvalLoss: z.number().nullable(),
  evalsWithoutImprovement: z.number().int().nonnegative(),
  tokensSeen: z.number().nonnegative(),
  /** Guards against resuming with different data or settings. */
  fingerprint: z.string(),
  weightsFile: z.string(),
  optimizerFile: z.string(),
  /**
   * What the weights files hold: a LoRA adapter's rank, alpha and targets, or null for every weight (a full
   * fine-tune). Absent in checkpoints written before it was recorded (then read off the tensor names).
   */
  lora: z.object({ r: z.number().int().positive(), alpha: z.number().positive(), targets: z.array(z.string()) }).nullable().optional(),
});
export type TrainerState = z.infer<typeof TrainerStateSchema>;

const STATE_FILE = 'trainer-state.json';

/**
 * Tensors go to step-stamped files first; trainer-state.json is written last and
 * atomically, so it always names a complete pair. Older pairs are removed afterwards.
 */
export async function saveCheckpoint(dir: string, model: CausalLM, state: Omit<TrainerState, 'weightsFile' | 'optimizerFile'>): Promise<void> {
  const tag = String(state.step).padStart(8, '0');
  const weightsFile = `weights-${tag}.safetensors`;
  const optimizerFile = `optimizer-${tag}.safetensors`;
  await writeSafetensors(join(dir, weightsFile), await model.training.getWeights(), { format: 'pt' });
  const opt = await model.training.getOptimizerState();
  await writeSafetensors(join(dir, optimizerFile), optimizerTensors(opt), { step: String(opt.step) });
  const lora = model.training.lora;
  const full: TrainerState = { ...state, weightsFile, optimizerFile, lora: lora ? { r: lora.r, alpha: lora.alpha, targets: [...lora.targets] } : null };
  await writeFileAtomic(join(dir, STATE_FILE), JSON.stringify(full));
  for (const name of await readdir(dir)) {
    if (/^(weights|optimizer)-\d+\.safetensors$/.test(name) && name !== weightsFile && name !== optimizerFile) {
      await rm(join(dir, name), { force: true });
    }
  }
}

/** Returns null when `dir` holds no checkpoint yet. */
export async function loadCheckpoint(dir: string, model: CausalLM): Promise<TrainerState | null> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE_FILE), 'utf8');
  } catch {
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(dir, `${STATE_FILE} is not valid JSON`, { cause: err });
  }
  const r = TrainerStateSchema.safeParse(parsed);
  if (!r.success) throw new CheckpointError(dir, `${STATE_FILE}: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`);
  const state = r.data;
  const weights = await readSafetensors(join(dir, state.weightsFile));
  checkSameTraining(dir, state.lora, [...weights.tensors.keys()], model.training.lora);
  await model.training.setWeights(asFloat(weights.tensors));
  const opt = await readSafetensors(join(dir, state.optimizerFile));
  await model.training.setOptimizerState(fromOptimizerTensors(asFloat(opt.tensors), Number(opt.metadata.step ?? state.step)));
  return state;
}

const describe = (lora: { r: number; alpha: number; targets: readonly string[] } | null | undefined): string =>
  lora ? `a LoRA adapter (r ${lora.r}, alpha ${lora.alpha}, targets ${lora.targets.join(', ')})` : 'a full fine-tune (every weight)';

/**
 * Refuse to resume a full fine-tune as LoRA or the other way round, or a LoRA run with another r, alpha or targets:
 * the weights and AdamW moments would land on the wrong tensors. Older checkpoints without `lora` are told apart by
 * their tensor names (r, alpha and targets are then not known, so only LoRA vs full is checked).
 */
function checkSameTraining(dir: string, saved: TrainerState['lora'], names: readonly string[], model: LoraSpec | undefined): void {
  const savedLora = saved !== undefined ? saved !== null : names.some((n) => n.includes('.lora_A.'));
  const same =
    savedLora === (model !== undefined) &&
    (!model || !saved || (saved.r === model.r && saved.alpha === model.alpha && [...saved.targets].sort().join() === [...model.targets].sort().join()));
  if (same) return;
  const what = saved === undefined && savedLora ? 'a LoRA adapter' : describe(saved);
  throw new CheckpointError(
    dir,
    `this training checkpoint is of ${what}, but the model now trains ${describe(model)}; resume with the settings it was started with ` +
      '(the same lora options, or none), or start over in a fresh checkpoint directory',
  );
}

function optimizerTensors(state: OptimizerState): NamedTensors {
  const out: NamedTensors = new Map();
  for (const [name, t] of state.m) out.set(`m.${name}`, t);
  for (const [name, t] of state.v) out.set(`v.${name}`, t);
  return out;
}

function fromOptimizerTensors(tensors: NamedTensors, step: number): OptimizerState {
  const m: NamedTensors = new Map();
  const v: NamedTensors = new Map();
  for (const [key, t] of tensors) {
    if (key.startsWith('m.')) m.set(key.slice(2), t);
    else if (key.startsWith('v.')) v.set(key.slice(2), t);
  }
  return { step, m, v };
}

function asFloat(tensors: Map<string, { shape: number[]; data: Float32Array | Int32Array }>): NamedTensors {
  const out: NamedTensors = new Map();
  for (const [name, t] of tensors) out.set(name, { shape: t.shape, data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data) });
  return out;
}
