import { archDims, isGPT2Config, type ModelConfig } from '../arch/config.js';
import { paramLayout } from '../arch/layout.js';
import type { NamedTensors } from '../arch/tensors.js';
import { ModelConfigError } from '../errors.js';
import type { RawTensor, SafetensorsDtype } from '../io/safetensors.js';

/** Causal-mask buffers that older HF GPT-2 checkpoints store next to the parameters. */
const GPT2_MASK_BUFFER = /\.attn\.(bias|masked_bias)$/;
/** RoPE frequency buffers that older HF Llama checkpoints store next to the parameters. */
const LLAMA_ROPE_BUFFER = /\.rotary_emb\.inv_freq$/;
const FLOAT_DTYPES = new Set<SafetensorsDtype>(['F32', 'F16', 'BF16', 'F64']);
/** config.json's torch_dtype / dtype -> the safetensors dtype its tensors must have. */
const DECLARED_DTYPES: Record<string, SafetensorsDtype> = { float32: 'F32', bfloat16: 'BF16', float16: 'F16', float64: 'F64' };

export interface CanonicalOptions {
  /** The shard a tensor was read from, for error messages (default: `file`). */
  fileOf?: (tensor: string) => string;
  /** The path of config.json, for an error in config.json itself (default `config.json`). */
  configPath?: string;
}

interface Naming {
  /** Prefix every parameter name carries in the layout; a checkpoint may omit it (a bare GPT2Model / LlamaModel). */
  prefix: string;
  /** The embedding a tied lm_head.weight must equal. */
  embedding: string;
  buffers: RegExp;
  arch: string;
}

const namingOf = (config: ModelConfig): Naming =>
  isGPT2Config(config)
    ? { prefix: 'transformer.', embedding: 'transformer.wte.weight', buffers: GPT2_MASK_BUFFER, arch: 'GPT-2' }
    : { prefix: 'model.', embedding: 'model.embed_tokens.weight', buffers: LLAMA_ROPE_BUFFER, arch: config.model_type };

/**
 * Map checkpoint tensors onto paramLayout(config): names with or without the model prefix (`transformer.` /
 * `model.`), HF buffers skipped, a tied `lm_head.weight` checked against the embedding and dropped. Float tensors
 * are widened to float32 (by the safetensors reader). Anything missing, extra, mis-shaped, not floating point or of
 * another dtype than config.json declares (torch_dtype / dtype) is a ModelConfigError naming the tensor and file.
 */
export function canonicalWeights(raw: Map<string, RawTensor>, config: ModelConfig, file: string, options: CanonicalOptions = {}): NamedTensors {
  // Tensor errors name the weights file first, and config.json beside it by its name.
  const configFile = 'config.json';
  const fileOf = options.fileOf ?? (() => file);
  const naming = namingOf(config);
  const d = archDims(config);
  const expected = new Map(paramLayout(config).map((s) => [s.name, s.shape]));
  const declared = declaredDtype(config, options.configPath ?? configFile);
  const found = new Map<string, { source: string; tensor: RawTensor }>();
  let tiedHead: { name: string; tensor: RawTensor } | undefined;
  for (const [name, tensor] of raw) {
    const fail = (msg: string): never => {
      throw new ModelConfigError(`${fileOf(name)}: ${msg}`);
    };
    if (name === 'lm_head.weight' && d.tied) {
      tiedHead = { name, tensor };
      continue;
    }
    const canonical = expected.has(name) || name.startsWith(naming.prefix) ? name : naming.prefix + name;
    if (naming.buffers.test(canonical)) continue;
    const shape = expected.get(canonical);
    if (!shape) {
      fail(`unexpected tensor '${name}': not a parameter of a ${naming.arch} with ${d.layers} layers${d.tied ? ' and a tied head' : ''} (is ${configFile} from the same model?)`);
    }
    const prior = found.get(canonical);
    if (prior) fail(`tensors '${prior.source}' and '${name}' both provide '${canonical}'`);
    checkDtype(name, tensor, declared, configFile, fail);
    if (!sameShape(tensor.shape, shape!)) fail(`tensor '${name}' has shape [${tensor.shape.join(', ')}] but ${configFile} implies [${shape!.join(', ')}]`);
    found.set(canonical, { source: name, tensor });
  }
  const missing = [...expected.keys()].filter((n) => !found.has(n));
  if (missing.length > 0) {
    throw new ModelConfigError(`${file}: missing tensor '${missing[0]}'${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`);
  }
  const weights: NamedTensors = new Map();
  for (const name of expected.keys()) {
    const { tensor } = found.get(name)!;
    weights.set(name, { shape: [...tensor.shape], data: tensor.data as Float32Array });
  }
  if (tiedHead) checkTiedHead(tiedHead.tensor, weights.get(naming.embedding)!.data, naming, [d.vocab, d.hidden], fileOf(tiedHead.name));
  return weights;
}

/** The safetensors dtype config.json declares (torch_dtype, or transformers 5's dtype), if any. */
function declaredDtype(config: ModelConfig, configFile: string): SafetensorsDtype | undefined {
  const c = config as Record<string, unknown>;
  const value = c.torch_dtype ?? c.dtype;
  if (value === undefined || value === null) return undefined;
  const dtype = typeof value === 'string' ? DECLARED_DTYPES[value] : undefined;
  if (!dtype) {
    throw new ModelConfigError(`${configFile}: torch_dtype ${JSON.stringify(value)} is not supported; weights must be float32, bfloat16 or float16 (quantized checkpoints do not load)`);
  }
  return dtype;
}

function checkDtype(name: string, tensor: RawTensor, declared: SafetensorsDtype | undefined, configFile: string, fail: (m: string) => never): void {
  if (!FLOAT_DTYPES.has(tensor.dtype)) fail(`tensor '${name}' has dtype ${tensor.dtype}; weights must be floating point (F32, BF16 or F16)`);
  if (declared && tensor.dtype !== declared) {
    fail(`tensor '${name}' is ${tensor.dtype} but ${configFile} declares ${declared} weights (torch_dtype); fix one of them`);
  }
}

function checkTiedHead(head: RawTensor, embedding: Float32Array, naming: Naming, shape: number[], file: string): void {
  const fail = (msg: string): never => {
    throw new ModelConfigError(`${file}: ${msg}`);
  };
  if (!sameShape(head.shape, shape)) {
    fail(`tensor 'lm_head.weight' has shape [${head.shape.join(', ')}] but the tied head must match ${naming.embedding} [${shape.join(', ')}]`);
  }
  for (let i = 0; i < embedding.length; i++) {
    if (head.data[i] !== embedding[i] && !(Number.isNaN(head.data[i]) && Number.isNaN(embedding[i]))) {
      fail(
        `tensor 'lm_head.weight' differs from ${naming.embedding} at element ${i} (${head.data[i]} vs ${embedding[i]}) but config.json ties them` +
          (naming.arch === 'GPT-2' ? '; only tied GPT-2 heads are supported' : ' (set tie_word_embeddings false for an untied head)'),
      );
    }
  }
}

export const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
