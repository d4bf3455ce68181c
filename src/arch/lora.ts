import { z } from 'zod';
import { ModelConfigError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { archDims, isGPT2Config, type ModelConfig } from './config.js';
import { type ParamSpec, paramLayout } from './layout.js';
import type { NamedTensors } from './tensors.js';

/**
 * LoRA adapters (Hu et al. 2021) as PEFT defines them: for a targeted weight W, two trainable matrices
 * A [r, in] and B [out, r], and W' = W + (alpha / r) * B A for nn.Linear weights [out, in] (Llama family).
 * GPT-2's Conv1D weights are stored [in, out] (PEFT's fan_in_fan_out): there W' = W + (alpha / r) * (B A)^T.
 * The base weights are frozen: a LoRA core keeps gradients and AdamW state for the adapters only.
 */

/** The module names each architecture can adapt (PEFT `target_modules`). GPT-2's `c_proj` names both projections. */
export const LORA_TARGETS = {
  llama: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  gpt2: ['c_attn', 'c_proj', 'c_fc'],
} as const satisfies Record<'llama' | 'gpt2', readonly string[]>;

export const LoraOptionsSchema = z
  .object({
    r: z.number().int().positive(),
    alpha: z.number().positive(),
    /** Default: every module of LORA_TARGETS for the architecture. */
    targets: z.array(z.string().min(1)).nonempty().optional(),
  })
  .strict();
export type LoraOptions = z.infer<typeof LoraOptionsSchema>;

/** A validated adapter shape: rank, alpha and the module names, sorted as PEFT writes them. */
export interface LoraSpec {
  readonly r: number;
  readonly alpha: number;
  readonly targets: readonly string[];
}

export const loraScale = (spec: LoraSpec): number => spec.alpha / spec.r;

/** Checks the options against the architecture: unknown targets are refused with the list of valid ones. */
export function resolveLora(config: ModelConfig, options: LoraOptions, source = 'lora'): LoraSpec {
  const parsed = LoraOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ModelConfigError(`${source}: invalid LoRA options at ${first?.path.join('.') || '(root)'}: ${first?.message}`);
  }
  const valid: readonly string[] = LORA_TARGETS[archDims(config).arch];
  const targets = [...new Set(parsed.data.targets ?? valid)].sort();
  const unknown = targets.filter((t) => !valid.includes(t));
  if (unknown.length > 0) {
    throw new ModelConfigError(`${source}: ${config.model_type} has no module ${unknown.map((t) => JSON.stringify(t)).join(', ')} to adapt; valid targets: ${valid.join(', ')}`);
  }
  return { r: parsed.data.r, alpha: parsed.data.alpha, targets };
}

/** One adapter matrix: which base weight it adapts, and whether it is A [r, in] or B [out, r]. */
export interface LoraTensorSpec extends ParamSpec {
  readonly base: string;
  readonly kind: 'A' | 'B';
}

/** `model.layers.0.self_attn.q_proj.weight` -> `q_proj`; undefined for tensors no LoRA target names. */
function moduleOf(spec: ParamSpec): string | undefined {
  const m = /(?:^|\.)([a-z_]+)\.weight$/.exec(spec.role);
  return spec.shape.length === 2 && spec.layer >= 0 ? m?.[1] : undefined;
}

/**
 * The adapter tensors of `spec` over the base layout, in base-layout order, A before B. Names are PEFT's saved
 * names without the `base_model.model.` prefix (peftName adds it): `<module path>.lora_A.weight`.
 * They are trainable (decay follows PEFT + torch AdamW defaults: weight decay applies to ndim >= 2, so to both).
 */
export function loraLayout(config: ModelConfig, spec: LoraSpec): LoraTensorSpec[] {
  const conv1d = isGPT2Config(config);
  const out: LoraTensorSpec[] = [];
  for (const p of paramLayout(config)) {
    const module = moduleOf(p);
    if (!module || !spec.targets.includes(module)) continue;
    const [rows, cols] = p.shape as [number, number];
    const [outDim, inDim] = conv1d ? [cols, rows] : [rows, cols];
    const stem = p.name.slice(0, -'.weight'.length);
    const roleStem = p.role.slice(0, -'.weight'.length);
    const adapter = (kind: 'A' | 'B', shape: number[]): LoraTensorSpec => ({
      name: `${stem}.lora_${kind}.weight`,
      role: `${roleStem}.lora_${kind}.weight`,
      layer: p.layer,
      shape,
      decay: true,
      residual: false,
      base: p.name,
      kind,
    });
    out.push(adapter('A', [spec.r, inDim]), adapter('B', [outDim, spec.r]));
  }
  return out;
}

const PEFT_PREFIX = 'base_model.model.';
/** PEFT's name in adapter_model.safetensors for an adapter tensor of loraLayout. */
export const peftName = (name: string): string => `${PEFT_PREFIX}${name}`;
/** loraLayout's name for a PEFT tensor name (with or without the `.default` adapter name PEFT uses in memory). */
export const fromPeftName = (name: string): string => (name.startsWith(PEFT_PREFIX) ? name.slice(PEFT_PREFIX.length) : name).replace('.default.weight', '.weight');

/**
 * PEFT's default init (init_lora_weights=True): A ~ kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
 * and B = 0, so a fresh adapter leaves the model's outputs unchanged. Seeded, identical on every core.
 */
export function initLoraWeights(config: ModelConfig, spec: LoraSpec, seed = 0): NamedTensors {
  const rng = new Rng(seed);
  const out: NamedTensors = new Map();
  for (const t of loraLayout(config, spec)) {
    const data = new Float32Array(t.shape[0]! * t.shape[1]!);
    if (t.kind === 'A') {
      const bound = 1 / Math.sqrt(t.shape[1]!);
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.next() - 1) * bound;
    }
    out.set(t.name, { shape: [...t.shape], data });
  }
  return out;
}

/**
 * Folds the adapters into a copy of the base weights: W + scale * B A ([out, in]) or W + scale * (B A)^T ([in, out],
 * GPT-2). Used by merge() and to check merged-versus-unmerged logits; the cores never merge.
 */
export function mergeLoraWeights(config: ModelConfig, spec: LoraSpec, base: NamedTensors, adapters: NamedTensors): NamedTensors {
  const conv1d = isGPT2Config(config);
  const scale = loraScale(spec);
  const merged: NamedTensors = new Map([...base].map(([k, t]) => [k, { shape: [...t.shape], data: t.data.slice() }]));
  const layout = loraLayout(config, spec);
  for (let i = 0; i < layout.length; i += 2) {
    const aSpec = layout[i]!;
    const bSpec = layout[i + 1]!;
    const A = adapters.get(aSpec.name);
    const B = adapters.get(bSpec.name);
    const W = merged.get(aSpec.base);
    if (!A || !B) throw new ModelConfigError(`mergeLoraWeights: adapter ${!A ? aSpec.name : bSpec.name} is missing`);
    if (!W) throw new ModelConfigError(`mergeLoraWeights: base weight ${aSpec.base} is missing`);
    const r = spec.r;
    const inDim = aSpec.shape[1]!;
    const outDim = bSpec.shape[0]!;
    for (let o = 0; o < outDim; o++) {
      for (let k = 0; k < r; k++) {
        const b = B.data[o * r + k]! * scale;
        if (b === 0) continue;
        const aRow = k * inDim;
        if (conv1d) for (let j = 0; j < inDim; j++) W.data[j * outDim + o]! += b * A.data[aRow + j]!;
        else for (let j = 0, w = o * inDim; j < inDim; j++) W.data[w + j]! += b * A.data[aRow + j]!;
      }
    }
  }
  return merged;
}
