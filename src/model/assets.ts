import { eosTokenIds, isGPT2Config, type ModelConfig } from '../arch/config.js';
import { ModelConfigError } from '../errors.js';
import { GPT2_VOCAB_SIZE } from '../tokenizer/bpe.js';
import { HFTokenizer, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../tokenizer/hf-tokenizer.js';
import type { TextTokenizer } from '../tokenizer/text-tokenizer.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import type { TrimmedVocab } from '../tokenizer/trimmed-vocab.js';
import type { Checkpoint } from './checkpoint.js';
import { GENERATION_CONFIG_FILE, generationConfigJson, parseGenerationConfig, specialIds } from './hf-config.js';

/** Everything a model carries besides its weights: its tokenizer, the ids that end and pad a generation, side files. */
export interface ModelAssets {
  /** The trimmed vocabulary of a from-scratch student (GPT-2, or a Llama-family model built on one). */
  vocab?: TrimmedVocab;
  /** Undefined for a model with no tokenizer files (and a GPT-2 whose vocabulary is neither GPT-2's nor trimmed). */
  tokenizer?: TextTokenizer;
  eosIds: number[];
  padId: number;
  /** Llama family: the side files save() writes (tokenizer.json, tokenizer_config.json, generation_config.json, ...). */
  files?: Record<string, string>;
}

/**
 * GPT-2 BPE (or the trimmed vocabulary): `<|endoftext|>` ends and pads, as it always has. A from-scratch Llama-family
 * student on a trimmed vocabulary uses the same (with its generation_config.json as side file).
 */
function gpt2Assets(config: ModelConfig, vocab: TrimmedVocab | undefined): ModelAssets {
  if (vocab && vocab.size !== config.vocab_size) {
    throw new ModelConfigError(`the trimmed vocabulary has ${vocab.size} ids but the model's vocab_size is ${config.vocab_size}`);
  }
  const tokenizer = vocab || config.vocab_size >= GPT2_VOCAB_SIZE ? new Tokenizer(vocab) : undefined;
  const eosIds = vocab ? [vocab.eosId] : eosTokenIds(config).slice(0, 1);
  return { ...(vocab ? { vocab } : {}), ...(tokenizer ? { tokenizer } : {}), eosIds, padId: eosIds[0] ?? 0 };
}

/**
 * A loaded checkpoint's assets. Llama family: EOS from generation_config.json, then config.json, then
 * tokenizer_config.json's eos_token; pad likewise, then the first EOS. The tokenizer keeps the model's own
 * vocabulary and special tokens, and may not have more ids than the embedding has rows.
 */
export function checkpointAssets(checkpoint: Checkpoint, where: string): ModelAssets {
  const { config, assets = {} } = checkpoint;
  if (isGPT2Config(config)) return gpt2Assets(config, checkpoint.vocab);
  if (checkpoint.vocab) return { ...gpt2Assets(config, checkpoint.vocab), files: { ...assets } };
  const generationText = assets[GENERATION_CONFIG_FILE];
  const special = specialIds(config, generationText === undefined ? undefined : parseGenerationConfig(generationText, `${where}/${GENERATION_CONFIG_FILE}`));
  const tokenizerJson = assets[TOKENIZER_FILE];
  if (tokenizerJson === undefined) {
    return { eosIds: special.eosIds, padId: special.padId ?? special.eosIds[0] ?? 0, files: { ...assets } };
  }
  const tokenizer = HFTokenizer.fromJSON(tokenizerJson, assets[TOKENIZER_CONFIG_FILE] ?? {}, {
    source: where,
    modelVocabSize: config.vocab_size,
    ...(special.eosIds.length > 0 ? { eosIds: special.eosIds } : {}),
    ...(special.padId !== undefined ? { padId: special.padId } : {}),
  });
  if (tokenizer.vocabSize > config.vocab_size) {
    throw new ModelConfigError(`${where}/${TOKENIZER_FILE}: the tokenizer has ${tokenizer.vocabSize} ids but config.json's vocab_size is ${config.vocab_size}`);
  }
  return { tokenizer, eosIds: [...tokenizer.eosIds], padId: tokenizer.padId, files: { ...assets } };
}

/**
 * The assets of a freshly created model. GPT-2 takes an optional trimmed vocabulary; the Llama family an optional
 * HFTokenizer, whose files are then saved beside it (its EOS and pad ids must be the config's, when the config names them).
 */
export function createdAssets(config: ModelConfig, options: { vocab?: TrimmedVocab; tokenizer?: TextTokenizer }): ModelAssets {
  if (isGPT2Config(config)) {
    if (options.tokenizer && options.tokenizer.kind !== 'gpt2') {
      throw new ModelConfigError('a GPT-2 model uses GPT-2 BPE (or a TrimmedVocab via { vocab }); an HF tokenizer.json needs a Llama-family config');
    }
    return gpt2Assets(config, options.vocab ?? (options.tokenizer as Tokenizer | undefined)?.vocab);
  }
  // From scratch, a Llama-family student may use a trimmed GPT-2 vocabulary (as small as a GPT-2 student's); full
  // GPT-2 BPE would have no tokenizer file to save beside it.
  const vocab = createdVocab(options);
  if (vocab) return { ...gpt2Assets(config, vocab), files: {} };
  if (options.tokenizer?.kind === 'gpt2') {
    throw new ModelConfigError(`a ${config.model_type} model takes an HFTokenizer (its tokenizer.json) or, from scratch, a trimmed vocabulary; plain GPT-2 BPE has no tokenizer files to save beside it`);
  }
  const tokenizer = options.tokenizer;
  const special = specialIds(config, undefined);
  if (!tokenizer) return { eosIds: special.eosIds, padId: special.padId ?? special.eosIds[0] ?? 0 };
  if (tokenizer.vocabSize > config.vocab_size) {
    throw new ModelConfigError(`the tokenizer has ${tokenizer.vocabSize} ids but the config's vocab_size is ${config.vocab_size}`);
  }
  if (special.eosIds.length > 0 && special.eosIds.join() !== tokenizer.eosIds.join()) {
    throw new ModelConfigError(`the config's eos_token_id ${JSON.stringify(special.eosIds)} differs from the tokenizer's EOS ids ${JSON.stringify(tokenizer.eosIds)}`);
  }
  const files = tokenizer instanceof HFTokenizer ? tokenizer.toFiles() : {};
  return { tokenizer, eosIds: [...tokenizer.eosIds], padId: tokenizer.padId, files };
}

/** The trimmed vocabulary a new model is built on: `vocab`, or that of a GPT-2 `Tokenizer` passed as `tokenizer`. */
export function createdVocab(options: { vocab?: TrimmedVocab; tokenizer?: TextTokenizer }): TrimmedVocab | undefined {
  return options.vocab ?? (options.tokenizer?.kind === 'gpt2' ? (options.tokenizer as Tokenizer).vocab : undefined);
}

/** The side files to save: those the model carries, plus a generation_config.json when it has none (Llama family). */
export function filesToSave(config: ModelConfig, assets: ModelAssets): Record<string, string> | undefined {
  if (isGPT2Config(config)) return undefined;
  const files = { ...assets.files };
  if (files[GENERATION_CONFIG_FILE] === undefined && assets.eosIds.length > 0) {
    const bos = typeof config.bos_token_id === 'number' ? config.bos_token_id : undefined;
    files[GENERATION_CONFIG_FILE] = generationConfigJson(assets.eosIds, assets.padId, bos);
  }
  return files;
}
