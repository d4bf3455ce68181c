import { parseGPT2Config } from '../arch/config.js';
import type { BackendReport } from '../backend/types.js';
import { CheckpointError, ModelConfigError } from '../errors.js';
import { parseSafetensors } from '../io/safetensors.js';
import { canonicalWeights, CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE } from '../model/checkpoint.js';
import { GPT2 } from '../model/gpt2.js';
import { MANIFEST_FILE, StudentManifestSchema, type StudentManifest } from '../students/common.js';
import { IterativeStudent } from '../students/iterative.js';
import { StudentLM } from '../students/lm.js';
import { AnswerOnlyStudent, CoTStudent, UnifiedStudent } from '../students/single.js';
import { Tokenizer, TrimmedVocab } from '../tokenizer/index.js';
import { fetchBytes, fetchJson, joinUrl, type FetchOptions } from './fetch.js';

/** Where one student model's files live (a directory written by StudentLM.save / GPT2.save). */
export interface StudentModelUrls {
  config: string;
  weights: string;
  /** trimmed_vocab.json; omit for a model on the full GPT-2 vocabulary. */
  vocab?: string;
}

export interface BrowserLoadOptions extends FetchOptions {
  /** From initBrowserBackend(); every model of the student is built on it. */
  backend: BackendReport;
}

export type BrowserStudent = IterativeStudent | UnifiedStudent | CoTStudent | AnswerOnlyStudent;

/** The file URLs of a model directory served at `baseUrl`. */
export function modelUrls(baseUrl: string, options: { vocab?: boolean } = {}): StudentModelUrls {
  const urls: StudentModelUrls = { config: joinUrl(baseUrl, CONFIG_FILE), weights: joinUrl(baseUrl, WEIGHTS_FILE) };
  if (options.vocab !== false) urls.vocab = joinUrl(baseUrl, VOCAB_FILE);
  return urls;
}

/**
 * Fetch one GPT-2 (config, safetensors, trimmed vocabulary) and build it on the backend.
 * Every check of the Node loader applies: a corrupt or mismatched file is a typed error naming its URL.
 */
export async function loadStudentModel(urls: StudentModelUrls, options: BrowserLoadOptions): Promise<StudentLM> {
  const [configJson, vocabJson, bytes] = await Promise.all([
    fetchJson(urls.config, options),
    urls.vocab ? fetchJson(urls.vocab, { ...options, optional: true }) : Promise.resolve(undefined),
    fetchBytes(urls.weights, options),
  ]);
  const config = parseGPT2Config(configJson, urls.config);
  const vocab = vocabJson === undefined ? undefined : TrimmedVocab.fromJSON(vocabJson, urls.vocab);
  const tokenizer = new Tokenizer(vocab);
  if (tokenizer.vocabSize !== config.vocab_size) {
    throw new ModelConfigError(`${urls.config}: vocab_size ${config.vocab_size} does not match the ${tokenizer.vocabSize} ids of ${urls.vocab ?? 'the GPT-2 vocabulary'}`);
  }
  const weights = canonicalWeights(parseSafetensors(bytes, urls.weights).tensors, config, urls.weights);
  return new StudentLM(GPT2.fromCore(await options.backend.createCore(config, { weights }), vocab));
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
