import { z } from 'zod';
import { eosTokenIds, isGPT2Config, type ModelConfig } from '../arch/config.js';
import { llamaHeadDim, llamaKvHeads, type LlamaConfig, ropeTheta } from '../arch/llama.js';
import { ModelConfigError } from '../errors.js';

export const GENERATION_CONFIG_FILE = 'generation_config.json';

/** The architectures entry transformers needs to pick the class `from_pretrained` builds. */
const ARCHITECTURES: Record<ModelConfig['model_type'], string> = {
  gpt2: 'GPT2LMHeadModel',
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
};

const sortKeys = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));

/**
 * config.json as HF writes it (keys sorted, model_type and architectures set), for the float32 weights this library
 * saves. For the Llama family every field whose HF default differs between model types (head_dim, num_key_value_heads,
 * rope theta) is written out, so transformers builds exactly the shapes this model has.
 */
export function hfConfigJson(config: ModelConfig): Record<string, unknown> {
  const full: Record<string, unknown> = { ...config, model_type: config.model_type, architectures: [ARCHITECTURES[config.model_type]] };
  // A checkpoint loaded from bf16 keeps its torch_dtype field; the weights written are float32.
  for (const key of ['torch_dtype', 'dtype']) if (key in full) full[key] = 'float32';
  if (!isGPT2Config(config)) Object.assign(full, llamaExplicitFields(config));
  return sortKeys(full);
}

function llamaExplicitFields(c: LlamaConfig): Record<string, unknown> {
  // Qwen3Config defaults head_dim to 128 and Qwen2/3 num_key_value_heads to 32, whatever the other sizes are.
  const fields: Record<string, unknown> = { torch_dtype: 'float32', head_dim: llamaHeadDim(c), num_key_value_heads: llamaKvHeads(c) };
  if (c.rope_theta === undefined && !c.rope_parameters) fields.rope_theta = ropeTheta(c);
  return fields;
}

const TokenIdsSchema = z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]).nullable().optional();

/** The fields of generation_config.json this library reads (eos/pad ids); the rest is kept and written back. */
export const GenerationConfigJsonSchema = z
  .object({
    eos_token_id: TokenIdsSchema,
    pad_token_id: z.number().int().nonnegative().nullable().optional(),
    bos_token_id: TokenIdsSchema,
  })
  .passthrough();
export type GenerationConfigJson = z.infer<typeof GenerationConfigJsonSchema>;

export function parseGenerationConfig(text: string, file: string): GenerationConfigJson {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelConfigError(`${file}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const r = GenerationConfigJsonSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ModelConfigError(`${file}: invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return r.data;
}

export interface SpecialIds {
  /** Ids that end a generation, first one first; empty when neither file names one (the tokenizer may still). */
  eosIds: number[];
  /** Undefined when neither file names one. */
  padId: number | undefined;
}

/**
 * EOS and pad ids inside the vocabulary: generation_config.json first (what `generate` uses in transformers), then
 * config.json. tokenizer_config.json's eos_token / pad_token come after both (HFTokenizer resolves those).
 */
export function specialIds(config: ModelConfig, generation: GenerationConfigJson | undefined): SpecialIds {
  const V = config.vocab_size;
  const fromGeneration = generation?.eos_token_id;
  const eos = fromGeneration === undefined || fromGeneration === null ? eosTokenIds(config) : [fromGeneration].flat().filter((id) => id < V);
  const configPad = (config as { pad_token_id?: unknown }).pad_token_id;
  const pad = [generation?.pad_token_id, configPad].find((id): id is number => typeof id === 'number' && id < V);
  return { eosIds: eos, padId: pad };
}

/** generation_config.json for a model that has none: transformers' generate then stops at the same ids. */
export function generationConfigJson(eosIds: readonly number[], padId: number, bosId?: number): string {
  const json: Record<string, unknown> = { _from_model_config: true, eos_token_id: eosIds.length === 1 ? eosIds[0] : [...eosIds], pad_token_id: padId };
  if (bosId !== undefined) json.bos_token_id = bosId;
  return `${JSON.stringify(sortKeys(json), null, 2)}\n`;
}
