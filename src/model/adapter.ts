import { z } from 'zod';
import { archDims, isGPT2Config, type ModelConfig } from '../arch/config.js';
import { fromPeftName, LORA_TARGETS, loraLayout, type LoraSpec, peftName, resolveLora } from '../arch/lora.js';
import type { NamedTensors } from '../arch/tensors.js';
import { ModelConfigError } from '../errors.js';
import { type RawTensor, serializeSafetensors } from '../io/safetensors.js';
import { sameShape } from './checkpoint-weights.js';

/**
 * PEFT's LoRA adapter format (what `PeftModel.save_pretrained` writes and `PeftModel.from_pretrained` reads):
 * `adapter_config.json` (a LoraConfig) and `adapter_model.safetensors`, whose tensors are named
 * `base_model.model.<module path>.lora_A.weight` / `.lora_B.weight`. Only plain LoRA loads: every PEFT feature that
 * changes what the adapter computes, and that this library does not implement, is refused by the field's name.
 */

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
/** PEFT's pickle format (safe_serialization=False): never unpickled here. */
export const ADAPTER_PICKLE_FILE = 'adapter_model.bin';

const PatternSchema = z.record(z.unknown()).nullable().optional();
const MaybeSchema = z.unknown().optional();

/** The fields of adapter_config.json this library reads or checks; every other field is accepted as PEFT writes it. */
export const AdapterConfigJsonSchema = z
  .object({
    peft_type: z.string(),
    task_type: z.string().nullable().optional(),
    r: z.number().int().positive(),
    lora_alpha: z.number().positive(),
    /** A list of module names, or PEFT's 'all-linear'; any other string is a regular expression PEFT matches. */
    target_modules: z.union([z.array(z.string().min(1)).nonempty(), z.string().min(1)]),
    lora_dropout: z.number().min(0).max(1).optional(),
    bias: z.string().optional(),
    fan_in_fan_out: z.boolean().optional(),
    base_model_name_or_path: z.string().nullable().optional(),
    inference_mode: z.boolean().optional(),
    use_rslora: z.boolean().optional(),
    use_dora: z.boolean().optional(),
    use_qalora: z.boolean().optional(),
    lora_bias: z.boolean().optional(),
    modules_to_save: z.array(z.string()).nullable().optional(),
    rank_pattern: PatternSchema,
    alpha_pattern: PatternSchema,
    init_lora_weights: z.union([z.boolean(), z.string()]).optional(),
    layers_to_transform: MaybeSchema,
    exclude_modules: MaybeSchema,
    layer_replication: MaybeSchema,
    trainable_token_indices: MaybeSchema,
    target_parameters: MaybeSchema,
    alora_invocation_tokens: MaybeSchema,
    megatron_config: MaybeSchema,
  })
  .passthrough();
export type AdapterConfigJson = z.infer<typeof AdapterConfigJsonSchema>;

/** adapter_config.json, validated: what the adapter is, before it meets a base model. */
export interface AdapterConfig {
  r: number;
  alpha: number;
  /** Module names as the file lists them, or 'all-linear' (every module LORA_TARGETS has for the architecture). */
  targets: readonly string[] | 'all-linear';
  /** The base the adapter was made for (a directory or a hub id), when the file names one. */
  baseModel: string | null;
}

const present = (v: unknown): boolean => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && Object.keys(v as object).length === 0);

/** Inits that leave the base weights as they were (PiSSA, OLoRA, CorDA, LoftQ ... rewrite them, so their adapters need that rewritten base). */
const BASE_PRESERVING_INITS = new Set(['gaussian', 'eva']);

/** [field, refused when, why]: PEFT features that change what an adapter computes, which this library does not implement. */
const UNSUPPORTED: ReadonlyArray<readonly [keyof AdapterConfigJson & string, (v: unknown) => boolean, string]> = [
  ['peft_type', (v) => v !== 'LORA', 'only LoRA adapters load (peft_type "LORA")'],
  ['task_type', (v) => v !== undefined && v !== null && v !== 'CAUSAL_LM', 'only causal-LM adapters load (task_type "CAUSAL_LM")'],
  ['bias', (v) => v !== undefined && v !== 'none', 'trained biases are not supported; only bias "none"'],
  ['use_dora', (v) => v === true, 'DoRA (weight-decomposed LoRA) is not supported; only plain LoRA'],
  ['use_rslora', (v) => v === true, 'rank-stabilised LoRA (scale alpha / sqrt(r)) is not supported; only scale alpha / r'],
  ['use_qalora', (v) => v === true, 'QA-LoRA is not supported'],
  ['lora_bias', (v) => v === true, 'a bias on lora_B is not supported'],
  ['rank_pattern', present, 'per-module ranks are not supported; one r for every module'],
  ['alpha_pattern', present, 'per-module alphas are not supported; one lora_alpha for every module'],
  ['modules_to_save', present, 'fully trained modules beside the adapters (modules_to_save) are not supported'],
  ['layers_to_transform', present, 'adapters on some layers only are not supported; every layer is adapted'],
  ['exclude_modules', present, 'excluded modules are not supported; every listed module of every layer is adapted'],
  ['layer_replication', present, 'layer replication is not supported'],
  ['trainable_token_indices', present, 'trained embedding rows are not supported'],
  ['target_parameters', present, 'LoRA on bare parameters is not supported; only on modules'],
  ['alora_invocation_tokens', present, 'activated LoRA (aLoRA) is not supported'],
  ['megatron_config', present, 'Megatron-parallel layers are not supported'],
  [
    'init_lora_weights',
    (v) => typeof v === 'string' && !BASE_PRESERVING_INITS.has(v),
    'this init rewrites the base weights, so the adapter needs that rewritten base; convert it to plain LoRA with PEFT (path_initial_model_for_weight_conversion) first',
  ],
];

/** Validate a parsed adapter_config.json; `file` names it in errors. A refused feature is named by its field. */
export function parseAdapterConfig(json: unknown, file: string): AdapterConfig {
  const r = AdapterConfigJsonSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ModelConfigError(`${file}: not a PEFT LoRA config: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  const c = r.data;
  for (const [field, refused, why] of UNSUPPORTED) {
    if (refused(c[field])) throw new ModelConfigError(`${file}: ${field} ${JSON.stringify(c[field])}: ${why}`);
  }
  if (typeof c.target_modules === 'string' && c.target_modules !== 'all-linear') {
    throw new ModelConfigError(
      `${file}: target_modules ${JSON.stringify(c.target_modules)} is a regular expression, which is not supported; list the module names (e.g. ["q_proj", "v_proj"]) or use "all-linear"`,
    );
  }
  return { r: c.r, alpha: c.lora_alpha, targets: c.target_modules, baseModel: c.base_model_name_or_path ?? null };
}

/** The LoraSpec of an adapter over a base config; targets the base lacks are refused, naming the base `baseWhere`. */
export function adapterSpec(config: ModelConfig, adapter: AdapterConfig, file: string, baseWhere: string): LoraSpec {
  const targets = adapter.targets === 'all-linear' ? [...LORA_TARGETS[archDims(config).arch]] : [...adapter.targets];
  try {
    return resolveLora(config, { r: adapter.r, alpha: adapter.alpha, targets: targets as [string, ...string[]] }, file);
  } catch (err) {
    throw new ModelConfigError(`${(err as Error).message} (the base ${baseWhere} is a ${config.model_type}: is the adapter for another model?)`, { cause: err });
  }
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/**
 * The adapter tensors of a PEFT file mapped onto loraLayout(config, spec): PEFT's `base_model.model.` prefix (and an
 * in-memory `.default` adapter name) removed, floats widened to float32. A tensor that is missing, extra (an embedding,
 * a DoRA magnitude, a module target_modules does not list), not floating point or shaped for another base is a
 * ModelConfigError naming the tensor, the adapter file and the base `baseWhere`.
 */
export function adapterWeights(raw: ReadonlyMap<string, RawTensor>, config: ModelConfig, spec: LoraSpec, file: string, baseWhere: string): NamedTensors {
  const layout = loraLayout(config, spec);
  const expected = new Map(layout.map((t) => [t.name, t]));
  const prefix = isGPT2Config(config) ? 'transformer.' : 'model.';
  const d = archDims(config);
  const found = new Map<string, { source: string; tensor: RawTensor }>();
  for (const [name, tensor] of raw) {
    const fail = (msg: string): never => {
      throw new ModelConfigError(`${file}: ${msg}`);
    };
    const bare = fromPeftName(name);
    // PEFT over a bare LlamaModel / GPT2Model saves names without the model prefix; canonicalWeights accepts those too.
    const canonical = expected.has(bare) || bare.startsWith(prefix) ? bare : prefix + bare;
    const want = expected.get(canonical);
    if (!want) {
      fail(
        `unexpected tensor '${name}': not a LoRA tensor of the base ${baseWhere} (a ${config.model_type} with ${d.layers} layers, target_modules ${spec.targets.join(', ')}); ` +
          'is the adapter for another model, or does it train more than lora_A / lora_B?',
      );
    }
    const prior = found.get(canonical);
    if (prior) fail(`tensors '${prior.source}' and '${name}' both provide '${peftName(canonical)}'`);
    if (!FLOAT_DTYPES.has(tensor.dtype)) fail(`tensor '${name}' has dtype ${tensor.dtype}; adapter weights must be floating point (F32, BF16 or F16)`);
    if (!sameShape(tensor.shape, want!.shape)) {
      fail(
        `tensor '${name}' has shape [${tensor.shape.join(', ')}] but the base ${baseWhere} needs [${want!.shape.join(', ')}] for ${want!.base} at r ${spec.r}: ` +
          'the adapter was made for another model',
      );
    }
    found.set(canonical, { source: name, tensor });
  }
  const missing = layout.filter((t) => !found.has(t.name));
  if (missing.length > 0) {
    throw new ModelConfigError(
      `${file}: missing tensor '${peftName(missing[0]!.name)}'${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}, which the base ${baseWhere} ` +
        `(${d.layers} layers, target_modules ${spec.targets.join(', ')}) needs: is the adapter for another model?`,
    );
  }
  const weights: NamedTensors = new Map();
  for (const t of layout) {
    const { tensor } = found.get(t.name)!;
    weights.set(t.name, { shape: [...tensor.shape], data: tensor.data as Float32Array });
  }
  return weights;
}

/** What save() writes for a LoRA model, for storage without a file system (IndexedDB, a download). */
export interface SavedAdapterFiles {
  adapterConfigJson: string;
  /** adapter_model.safetensors: float32, PEFT's tensor names sorted as the reference writer sorts them. */
  safetensors: Uint8Array;
  /** Llama family: the base's tokenizer files (tokenizer.json, tokenizer_config.json, ...), as PEFT + TRL save them beside an adapter. */
  assets?: Record<string, string>;
}

/** An adapter directory's files already in memory (e.g. fetched in a browser), for CausalLM.fromCheckpointFiles. */
export interface AdapterFiles {
  /** Parsed adapter_config.json. */
  config: unknown;
  /** Bytes of adapter_model.safetensors. */
  safetensors: Uint8Array;
  /** Tokenizer files saved beside the adapter; when tokenizer.json is among them they replace the base's. */
  assets?: Record<string, string>;
  /** Names the adapter in error messages (default 'adapter'). */
  where?: string;
}

const sortKeys = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));

/**
 * adapter_config.json as PEFT writes it for this adapter (keys sorted, as PEFT's json.dumps(sort_keys=True)). Only
 * fields PEFT has read since 0.9 are written, each with the value PEFT would write, so older and newer PEFT versions
 * read it alike. fan_in_fan_out is true for GPT-2's Conv1D weights ([in, out]), false for nn.Linear.
 */
export function adapterConfigJson(config: ModelConfig, spec: LoraSpec, baseModel: string | null): string {
  const json = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: isGPT2Config(config),
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: spec.alpha,
    lora_dropout: 0,
    modules_to_save: null,
    peft_type: 'LORA',
    r: spec.r,
    rank_pattern: {},
    revision: null,
    target_modules: [...spec.targets],
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: false,
  };
  return `${JSON.stringify(sortKeys(json), null, 2)}\n`;
}

/** adapter_model.safetensors: every tensor of loraLayout under its PEFT name, sorted by name, `format: pt`. */
export function adapterSafetensors(config: ModelConfig, spec: LoraSpec, weights: NamedTensors): Uint8Array {
  const layout = loraLayout(config, spec).sort((a, b) => (peftName(a.name) < peftName(b.name) ? -1 : 1));
  const ordered: NamedTensors = new Map();
  for (const t of layout) {
    const w = weights.get(t.name);
    if (!w || !sameShape(w.shape, t.shape)) throw new ModelConfigError(`cannot save the adapter: '${t.name}' is missing or not shaped [${t.shape.join(', ')}]`);
    ordered.set(peftName(t.name), w);
  }
  return serializeSafetensors(ordered, { format: 'pt' });
}
