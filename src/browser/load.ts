import { isGPT2Config, parseGPT2Config, parseModelConfig } from '../arch/config.js';
import type { BackendReport } from '../backend/types.js';
import { BaseModelMissingError, CheckpointError, ModelConfigError } from '../errors.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, type AdapterFiles } from '../model/adapter.js';
import { parseSafetensors } from '../io/safetensors.js';
import { canonicalWeights, CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE } from '../model/checkpoint.js';
import { CausalLM } from '../model/causal-lm.js';
import { GPT2 } from '../model/gpt2.js';
import { GENERATION_CONFIG_FILE } from '../model/hf-config.js';
import { MANIFEST_FILE, StudentManifestSchema, type StudentBase, type StudentManifest } from '../students/common.js';
import { IterativeStudent } from '../students/iterative.js';
import { StudentLM } from '../students/lm.js';
import { AnswerOnlyStudent, CoTStudent, UnifiedStudent } from '../students/single.js';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, Tokenizer, TrimmedVocab } from '../tokenizer/index.js';
import { fetchBytes, fetchJson, fetchText, joinUrl, type FetchOptions } from './fetch.js';

/** Where one student model's files live (a directory written by StudentLM.save / CausalLM.save). */
export interface StudentModelUrls {
  config: string;
  weights: string;
  /** trimmed_vocab.json; omit for a model on the full GPT-2 vocabulary. */
  vocab?: string;
  /**
   * Llama family: the side files by name (tokenizer.json, tokenizer_config.json, generation_config.json), each fetched
   * when config.json names a Llama-family model, and skipped when the server has none (404).
   */
  assets?: Record<string, string>;
}

/** The side files a saved Llama-family student may have: its own tokenizer, or the generation config beside a trimmed vocabulary. */
const LLAMA_SIDE_FILES = [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, GENERATION_CONFIG_FILE] as const;

export interface BrowserLoadOptions extends FetchOptions {
  /** From initBrowserBackend(); every model of the student is built on it. */
  backend: BackendReport;
  /**
   * LoRA students (adapters over a base model): the URL the base model's directory is served at (its config.json,
   * model.safetensors and tokenizer files). Default: the copy saved beside the adapters, `<student>/base/` (saved with
   * `save(dir, { withBase: true })`, CLI `train --lora ... --with-base`).
   */
  baseModelUrl?: string;
}

export type BrowserStudent = IterativeStudent | UnifiedStudent | CoTStudent | AnswerOnlyStudent;

/** The file URLs of a model directory served at `baseUrl`. */
export function modelUrls(baseUrl: string, options: { vocab?: boolean } = {}): StudentModelUrls {
  const urls: StudentModelUrls = { config: joinUrl(baseUrl, CONFIG_FILE), weights: joinUrl(baseUrl, WEIGHTS_FILE) };
  if (options.vocab !== false) urls.vocab = joinUrl(baseUrl, VOCAB_FILE);
  urls.assets = Object.fromEntries(LLAMA_SIDE_FILES.map((name) => [name, joinUrl(baseUrl, name)]));
  return urls;
}

/**
 * Fetch one student model (config, safetensors, and its trimmed vocabulary or, for the Llama family, its tokenizer
 * files) and build it on the backend. Every check of the Node loader applies: a corrupt or mismatched file, or an
 * unsupported model_type, is a typed error naming its URL.
 */
export async function loadStudentModel(urls: StudentModelUrls, options: BrowserLoadOptions): Promise<StudentLM> {
  const [configJson, vocabJson, bytes] = await Promise.all([
    fetchJson(urls.config, options),
    urls.vocab ? fetchJson(urls.vocab, { ...options, optional: true }) : Promise.resolve(undefined),
    fetchBytes(urls.weights, options),
  ]);
  const parsed = parseModelConfig(configJson, urls.config);
  if (!isGPT2Config(parsed)) return loadLlamaFamily(urls, configJson, vocabJson, bytes, options);
  const config = parseGPT2Config(configJson, urls.config);
  const vocab = vocabJson === undefined ? undefined : TrimmedVocab.fromJSON(vocabJson, urls.vocab);
  const tokenizer = new Tokenizer(vocab);
  if (tokenizer.vocabSize !== config.vocab_size) {
    throw new ModelConfigError(`${urls.config}: vocab_size ${config.vocab_size} does not match the ${tokenizer.vocabSize} ids of ${urls.vocab ?? 'the GPT-2 vocabulary'}`);
  }
  const weights = canonicalWeights(parseSafetensors(bytes, urls.weights).tensors, config, urls.weights);
  return new StudentLM(GPT2.fromCore(await options.backend.createCore(config, { weights }), vocab));
}

/** A Llama-family model from its fetched files, through the same checks as CausalLM.load (the side files are small). */
async function loadLlamaFamily(urls: StudentModelUrls, config: unknown, trimmedVocab: unknown, safetensors: Uint8Array, options: BrowserLoadOptions): Promise<StudentLM> {
  const names = Object.keys(urls.assets ?? {});
  const texts = await Promise.all(names.map((name) => fetchText(urls.assets![name]!, options)));
  const assets = Object.fromEntries(names.flatMap((name, i) => (texts[i] === undefined ? [] : [[name, texts[i]!] as const])));
  const where = urls.config.endsWith(`/${CONFIG_FILE}`) ? urls.config.slice(0, -CONFIG_FILE.length - 1) : urls.config;
  const files = { config, safetensors, assets, ...(trimmedVocab === undefined ? {} : { trimmedVocab }) };
  const model = await CausalLM.fromCheckpointFiles(files, { backend: options.backend, where });
  try {
    return new StudentLM(model);
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/** The tokenizer files PEFT + TRL save beside an adapter (the generation config stays the base's). */
const ADAPTER_SIDE_FILES = [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE] as const;

/** An adapter directory served at `url`: adapter_config.json, adapter_model.safetensors and the tokenizer files beside them (404s skipped). */
async function fetchAdapter(url: string, options: FetchOptions): Promise<AdapterFiles> {
  const [config, safetensors, ...texts] = await Promise.all([
    fetchJson(joinUrl(url, ADAPTER_CONFIG_FILE), options),
    fetchBytes(joinUrl(url, ADAPTER_WEIGHTS_FILE), options),
    ...ADAPTER_SIDE_FILES.map((name) => fetchText(joinUrl(url, name), options)),
  ]);
  const assets = Object.fromEntries(ADAPTER_SIDE_FILES.flatMap((name, i) => (texts[i] === undefined ? [] : [[name, texts[i] as string] as const])));
  return { config, safetensors: safetensors as Uint8Array, assets, where: url.replace(/\/$/, '') };
}

/**
 * A LoRA student: the base model fetched once, QG's (or the one model's) adapter over it, and QA's adapter over the
 * same base in memory (withAdapter), as the Node loader does. The base must be served as model.safetensors (not shards).
 */
async function loadLoraModels(studentUrl: string, base: StudentBase, parts: readonly string[], options: BrowserLoadOptions): Promise<StudentLM[]> {
  const baseUrl = options.baseModelUrl ?? (base.copy ? joinUrl(studentUrl, base.copy) : undefined);
  if (baseUrl === undefined) {
    throw new BaseModelMissingError(
      studentUrl,
      base.path,
      'that is a path on the machine that trained it: serve the base model and pass its URL as baseModelUrl to loadStudentFromUrl, ' +
        'or save the student with a copy of its base beside the adapters (save(dir, { withBase: true }); CLI: train --lora ... --with-base)',
    );
  }
  const urls = modelUrls(baseUrl);
  const [config, trimmedVocab, safetensors, ...texts] = await Promise.all([
    fetchJson(urls.config, options),
    fetchJson(urls.vocab!, { ...options, optional: true }),
    fetchBytes(urls.weights, options),
    ...LLAMA_SIDE_FILES.map((name) => fetchText(urls.assets![name]!, options)),
  ]);
  const assets = Object.fromEntries(LLAMA_SIDE_FILES.flatMap((name, i) => (texts[i] === undefined ? [] : [[name, texts[i] as string] as const])));
  const [first, ...rest] = await Promise.all(parts.map((part) => fetchAdapter(part ? joinUrl(studentUrl, part) : studentUrl, options)));
  const files = { config, safetensors: safetensors as Uint8Array, assets, ...(trimmedVocab === undefined ? {} : { trimmedVocab }) };
  const where = baseUrl.replace(/\/$/, '');
  const lm = new StudentLM(await CausalLM.fromCheckpointFiles(files, { backend: options.backend, where, adapter: first! }));
  const models = [lm];
  try {
    for (const adapter of rest) models.push(await lm.withAdapter({ adapter }));
  } catch (err) {
    for (const m of models) m.dispose();
    throw err;
  }
  return models;
}

/** Read and validate `student.json` under `baseUrl`. */
export async function fetchStudentManifest(baseUrl: string, options: FetchOptions = {}): Promise<StudentManifest> {
  const url = joinUrl(baseUrl, MANIFEST_FILE);
  const parsed = StudentManifestSchema.safeParse(await fetchJson(url, options));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CheckpointError(url, `not a student manifest: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return parsed.data;
}

/**
 * Load a student directory written by `save()` and served at `baseUrl` (same origin):
 * iterative students fetch qg/ and qa/ (a shared one its model/), single-model students their one model.
 */
export async function loadStudentFromUrl(baseUrl: string, options: BrowserLoadOptions): Promise<BrowserStudent> {
  const manifest = await fetchStudentManifest(baseUrl, options);
  if (manifest.base) return loraStudent(baseUrl, manifest, manifest.base, options);
  if (manifest.kind === 'iterative' && manifest.shared) {
    const lm = await loadStudentModel(modelUrls(joinUrl(baseUrl, 'model')), options);
    return new IterativeStudent(lm, lm, manifest.maxSteps);
  }
  if (manifest.kind === 'iterative') {
    const settled = await Promise.allSettled(['qg', 'qa'].map((part) => loadStudentModel(modelUrls(joinUrl(baseUrl, part)), options)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // The half that did load holds wasm memory; free it before reporting the other's error.
      for (const r of settled) if (r.status === 'fulfilled') r.value.dispose();
      throw failed.reason;
    }
    const [qg, qa] = settled.map((r) => (r as PromiseFulfilledResult<StudentLM>).value);
    return new IterativeStudent(qg!, qa!, manifest.maxSteps);
  }
  const lm = await loadStudentModel(modelUrls(baseUrl), options);
  switch (manifest.kind) {
    case 'unified':
      return new UnifiedStudent(lm, manifest.formatOptions);
    case 'cot':
      return new CoTStudent(lm, manifest.formatOptions);
    case 'answer-only':
      return new AnswerOnlyStudent(lm, manifest.formatOptions);
  }
}

/** A LoRA student's models over its one base (see loadLoraModels), in the student class its manifest names. */
async function loraStudent(studentUrl: string, manifest: StudentManifest, base: StudentBase, options: BrowserLoadOptions): Promise<BrowserStudent> {
  if (manifest.kind === 'iterative') {
    if (manifest.shared) {
      const [lm] = await loadLoraModels(studentUrl, base, ['model'], options);
      return new IterativeStudent(lm!, lm!, manifest.maxSteps);
    }
    const [qg, qa] = await loadLoraModels(studentUrl, base, ['qg', 'qa'], options);
    return new IterativeStudent(qg!, qa!, manifest.maxSteps);
  }
  const [lm] = await loadLoraModels(studentUrl, base, [''], options);
  switch (manifest.kind) {
    case 'unified':
      return new UnifiedStudent(lm!, manifest.formatOptions);
    case 'cot':
      return new CoTStudent(lm!, manifest.formatOptions);
    case 'answer-only':
      return new AnswerOnlyStudent(lm!, manifest.formatOptions);
  }
}
