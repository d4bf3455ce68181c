import { type GPT2Config, parseGPT2Config } from '../arch/config.js';
import { numel, paramLayout } from '../arch/layout.js';
import type { NamedTensors } from '../arch/tensors.js';
import { ModelConfigError, SafetensorsError } from '../errors.js';
import { parseSafetensors, type RawTensor, serializeSafetensors } from '../io/safetensors.js';
import { TrimmedVocab } from '../tokenizer/trimmed-vocab.js';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
/** Written beside the weights when the model uses a TrimmedVocab; its ids are compact, not GPT-2 ids. */
export const VOCAB_FILE = 'trimmed_vocab.json';

export interface Checkpoint {
  config: GPT2Config;
  /** Every parameter of paramLayout(config), `transformer.`-prefixed, in layout order. */
  weights: NamedTensors;
  vocab?: TrimmedVocab;
}

/** The files of a checkpoint directory, in memory (e.g. fetched in a browser). */
export interface CheckpointFiles {
  /** Parsed config.json. */
  config: unknown;
  /** Bytes of model.safetensors. */
  safetensors: Uint8Array;
  /** Parsed trimmed_vocab.json, when the model has one. */
  trimmedVocab?: unknown;
}

const PREFIX = 'transformer.';
/** Causal-mask buffers that older HF GPT-2 checkpoints store next to the parameters. */
const MASK_BUFFER = /\.attn\.(bias|masked_bias)$/;
const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/**
 * Validate checkpoint files already in memory. `where` names the directory (or URL)
 * in error messages, so a bad tensor is reported as `<where>/model.safetensors: ...`.
 */
export function parseCheckpoint(files: CheckpointFiles, where = '.'): Checkpoint {
  let raw: Map<string, RawTensor>;
  try {
    raw = parseSafetensors(files.safetensors, `${where}/${WEIGHTS_FILE}`).tensors;
  } catch (err) {
    if (err instanceof SafetensorsError) throw err;
    throw new ModelConfigError(`cannot load GPT-2 weights: ${(err as Error).message}`, { cause: err });
  }
  return checkpointFromTensors(files.config, raw, files.trimmedVocab, where);
}

/** Shared by the in-memory and the file loaders once the safetensors are decoded. */
export function checkpointFromTensors(configJson: unknown, raw: Map<string, RawTensor>, vocabJson: unknown, where: string): Checkpoint {
  const configPath = `${where}/${CONFIG_FILE}`;
  const config = parseGPT2Config(configJson, configPath);
  const weights = canonicalWeights(raw, config, `${where}/${WEIGHTS_FILE}`);
  if (vocabJson === undefined) return { config, weights };
  const vocabPath = `${where}/${VOCAB_FILE}`;
  const vocab = TrimmedVocab.fromJSON(vocabJson, vocabPath);
  if (vocab.size !== config.vocab_size) {
    throw new ModelConfigError(`${vocabPath}: the trimmed vocabulary has ${vocab.size} ids but ${configPath} says vocab_size ${config.vocab_size}`);
  }
  return { config, weights, vocab };
}

/** The files of an HF-compatible directory for this checkpoint (no lm_head: it is tied). */
export function checkpointFiles(checkpoint: Checkpoint): { configJson: string; safetensors: Uint8Array; trimmedVocabJson?: string } {
  const { config, weights, vocab } = checkpoint;
  // Sorted by name, as the reference safetensors writer orders same-dtype tensors: a loaded HF
  // checkpoint saves back byte for byte.
  const specs = paramLayout(config).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const ordered: NamedTensors = new Map();
  for (const spec of specs) {
    const t = weights.get(spec.name);
    if (!t || !sameShape(t.shape, spec.shape) || t.data.length !== numel(spec.shape)) {
      throw new ModelConfigError(`cannot save: weight '${spec.name}' is missing or not shaped [${spec.shape.join(', ')}]`);
    }
    ordered.set(spec.name, t);
  }
  return {
    configJson: `${JSON.stringify(hfConfigJson(config), null, 2)}\n`,
    safetensors: serializeSafetensors(ordered, { format: 'pt' }),
    ...(vocab ? { trimmedVocabJson: `${JSON.stringify(vocab.toJSON())}\n` } : {}),
  };
}

/**
 * Map checkpoint tensors onto the canonical layout: names with or without the
 * `transformer.` prefix, HF mask buffers skipped, a tied `lm_head.weight` checked
 * against wte and dropped. Anything missing, extra or mis-shaped is an error
 * naming the tensor and the file.
 */
export function canonicalWeights(raw: Map<string, RawTensor>, config: GPT2Config, file: string): NamedTensors {
  const expected = new Map(paramLayout(config).map((s) => [s.name, s.shape]));
  const found = new Map<string, { source: string; tensor: RawTensor }>();
  let lmHead: RawTensor | undefined;
  const fail = (msg: string): never => {
    throw new ModelConfigError(`${file}: ${msg}`);
  };
  for (const [name, tensor] of raw) {
    if (name === 'lm_head.weight') {
      lmHead = tensor;
      continue;
    }
    const canonical = name.startsWith(PREFIX) ? name : PREFIX + name;
    if (MASK_BUFFER.test(canonical)) continue;
    const shape = expected.get(canonical);
    if (!shape) fail(`unexpected tensor '${name}': not a parameter of a GPT-2 with n_layer ${config.n_layer} (is config.json from the same model?)`);
    const prior = found.get(canonical);
    if (prior) fail(`tensors '${prior.source}' and '${name}' both provide '${canonical}'`);
    if (!FLOAT_DTYPES.has(tensor.dtype)) fail(`tensor '${name}' has dtype ${tensor.dtype}; GPT-2 weights must be floating point`);
    if (!sameShape(tensor.shape, shape!)) {
      fail(`tensor '${name}' has shape [${tensor.shape.join(', ')}] but config.json implies [${shape!.join(', ')}]`);
    }
    found.set(canonical, { source: name, tensor });
  }
  const missing = [...expected.keys()].filter((n) => !found.has(n));
  if (missing.length > 0) {
    fail(`missing tensor '${missing[0]}'${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`);
  }
  const weights: NamedTensors = new Map();
  for (const name of expected.keys()) {
    const { tensor } = found.get(name)!;
    weights.set(name, { shape: [...tensor.shape], data: tensor.data as Float32Array });
  }
  if (lmHead) checkTiedHead(lmHead, weights.get(`${PREFIX}wte.weight`)!.data, config, fail);
  return weights;
}

function checkTiedHead(head: RawTensor, wte: Float32Array, config: GPT2Config, fail: (m: string) => never): void {
  if (!sameShape(head.shape, [config.vocab_size, config.n_embd])) {
    fail(`tensor 'lm_head.weight' has shape [${head.shape.join(', ')}] but the tied head must match wte [${config.vocab_size}, ${config.n_embd}]`);
  }
  for (let i = 0; i < wte.length; i++) {
    if (head.data[i] !== wte[i] && !(Number.isNaN(head.data[i]) && Number.isNaN(wte[i]))) {
      fail(`tensor 'lm_head.weight' differs from transformer.wte.weight at element ${i} (${head.data[i]} vs ${wte[i]}); only tied GPT-2 heads are supported`);
    }
  }
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** config.json as HF writes it: keys sorted, model_type and architectures set. */
export function hfConfigJson(config: GPT2Config): Record<string, unknown> {
  const full: Record<string, unknown> = { ...config, model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] };
  return Object.fromEntries(Object.keys(full).sort().map((k) => [k, full[k]]));
}

/**
 * Shrink a full-GPT-2 checkpoint to a TrimmedVocab: keep the wte rows of the
 * vocabulary's tokens (the tied head shrinks with it); `<unk>` starts as the mean row.
 */
export function trimCheckpoint(checkpoint: Checkpoint, vocab: TrimmedVocab): Checkpoint {
  const { config, weights } = checkpoint;
  if (checkpoint.vocab) throw new ModelConfigError('the checkpoint already has a trimmed vocabulary; trim only full GPT-2 checkpoints');
  const full = vocab.toJSON().gpt2Ids;
  if (config.vocab_size <= full[full.length - 1]!) {
    throw new ModelConfigError(`cannot trim: vocab_size ${config.vocab_size} does not cover GPT-2 id ${full[full.length - 1]}`);
  }
  const C = config.n_embd;
  const wte = weights.get(`${PREFIX}wte.weight`);
  if (!wte) throw new ModelConfigError('cannot trim: the checkpoint has no transformer.wte.weight');
  const rows = new Float32Array(vocab.size * C);
  full.forEach((id, i) => rows.set(wte.data.subarray(id * C, (id + 1) * C), i * C));
  if (vocab.unkId !== undefined) {
    const mean = new Float64Array(C);
    for (let r = 0; r < config.vocab_size; r++) for (let c = 0; c < C; c++) mean[c]! += wte.data[r * C + c]! / config.vocab_size;
    rows.set(Float32Array.from(mean), vocab.unkId * C);
  }
  const trimmed = new Map(weights);
  trimmed.set(`${PREFIX}wte.weight`, { shape: [vocab.size, C], data: rows });
  // Special-token ids move to the compact space too, so HF generate stops at the right id.
  const ids = { bos_token_id: vocab.eosId, eos_token_id: vocab.eosId, ...('pad_token_id' in config ? { pad_token_id: vocab.eosId } : {}) };
  return { config: parseGPT2Config({ ...config, vocab_size: vocab.size, ...ids }, 'trimmed config'), weights: trimmed, vocab };
}
