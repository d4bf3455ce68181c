import { Tokenizer as HubTokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { ModelConfigError, ShapeError } from '../errors.js';
import type { TextTokenizer } from './text-tokenizer.js';

/** The file names of a Hugging Face tokenizer, as `save_pretrained` writes them beside a model. */
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

const AddedTokenSchema = z.object({ id: z.number().int().nonnegative(), content: z.string(), special: z.boolean().optional() }).passthrough();

/** What this library needs of tokenizer.json before handing it to @huggingface/tokenizers (which checks the rest). */
export const TokenizerJsonSchema = z
  .object({
    model: z.object({ type: z.string().optional() }).passthrough(),
    added_tokens: z.array(AddedTokenSchema).default([]),
  })
  .passthrough();

/** A special token in tokenizer_config.json: a string, or an AddedToken object (older files), or null. */
const SpecialTokenSchema = z.union([z.string(), z.object({ content: z.string() }).passthrough()]).nullable().optional();

export const TokenizerConfigJsonSchema = z
  .object({
    eos_token: SpecialTokenSchema,
    pad_token: SpecialTokenSchema,
    bos_token: SpecialTokenSchema,
  })
  .passthrough();
export type TokenizerConfigJson = z.infer<typeof TokenizerConfigJsonSchema>;

export interface HFTokenizerOptions {
  /** Names the files in error messages (a directory or URL). Default `tokenizer`. */
  source?: string;
  /** Ids that end a generation, first one first (the model's generation_config / config). Default: tokenizer_config's eos_token. */
  eosIds?: readonly number[];
  /** Pad id. Default: tokenizer_config's pad_token, else the first EOS. */
  padId?: number;
  /**
   * The model's vocab_size, when its embedding has more rows than the tokenizer has ids (Qwen3 pads 151669 ids to
   * 151936): ids in between decode to nothing, as in HF tokenizers. Default: the tokenizer's own size.
   */
  modelVocabSize?: number;
}

/**
 * A Hugging Face `tokenizer.json` (with its `tokenizer_config.json`), run by `@huggingface/tokenizers`, which is pure
 * JS and works in browsers. It keeps the model's own vocabulary and special tokens: SmolLM2's, Qwen3's, ...
 */
export class HFTokenizer implements TextTokenizer {
  readonly kind = 'hf';
  readonly eosIds: readonly number[];
  readonly padId: number;
  readonly vocabSize: number;
  /** Ids below this decode (those at or above vocabSize to nothing); anything else is a ShapeError. */
  private readonly idSpace: number;

  private constructor(
    private readonly impl: HubTokenizer,
    /** The parsed files, for saving the tokenizer beside a model (toFiles). */
    private readonly json: Record<string, unknown>,
    private readonly configJson: Record<string, unknown>,
    options: HFTokenizerOptions,
  ) {
    const source = options.source ?? 'tokenizer';
    let size = 0;
    for (const id of impl.get_vocab(true).values()) size = Math.max(size, id + 1);
    this.vocabSize = size;
    this.idSpace = Math.max(size, options.modelVocabSize ?? 0);
    const inRange = (id: number): boolean => Number.isInteger(id) && id >= 0 && id < size;
    const config = configJson as TokenizerConfigJson;
    const eos = options.eosIds?.length ? [...options.eosIds] : [this.specialId(config.eos_token, 'eos_token', source)].filter((id) => id !== undefined);
    const bad = eos.find((id) => !inRange(id));
    if (bad !== undefined) throw new ModelConfigError(`${source}: EOS id ${bad} is not in the tokenizer's ${size} ids`);
    if (eos.length === 0) {
      throw new ModelConfigError(
        `${source}: no EOS token: none in generation_config.json or config.json (eos_token_id), nor in ${TOKENIZER_CONFIG_FILE} (eos_token); students need one to end a generation`,
      );
    }
    this.eosIds = eos;
    const pad = options.padId ?? this.specialId(config.pad_token, 'pad_token', source) ?? eos[0]!;
    if (!inRange(pad)) throw new ModelConfigError(`${source}: pad id ${pad} is not in the tokenizer's ${size} ids`);
    this.padId = pad;
  }

  /**
   * Build from the parsed (or raw text) tokenizer.json and tokenizer_config.json. A file that is not valid JSON, not
   * a tokenizer, or that @huggingface/tokenizers cannot build is a ModelConfigError naming it.
   */
  static fromJSON(tokenizerJson: unknown, tokenizerConfigJson: unknown = {}, options: HFTokenizerOptions = {}): HFTokenizer {
    const source = options.source ?? 'tokenizer';
    const json = parseWith(TokenizerJsonSchema, tokenizerJson, `${source}/${TOKENIZER_FILE}`);
    const config = parseWith(TokenizerConfigJsonSchema, tokenizerConfigJson, `${source}/${TOKENIZER_CONFIG_FILE}`);
    let impl: HubTokenizer;
    try {
      impl = new HubTokenizer(json, config);
    } catch (err) {
      throw new ModelConfigError(`${source}/${TOKENIZER_FILE}: @huggingface/tokenizers cannot build this tokenizer (${(err as Error).message})`, { cause: err });
    }
    return new HFTokenizer(impl, json, config, options);
  }

  get eosId(): number {
    return this.eosIds[0]!;
  }

  /** No BOS/EOS is added (add_special_tokens false); special tokens written in the text match as specials. */
  encode(text: string): number[] {
    return this.impl.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.idSpace) {
        const padded = this.idSpace > this.vocabSize ? ` nor among the model's ${this.idSpace}` : '';
        throw new ShapeError(`token id ${id} at index ${i} is not in this tokenizer's ${this.vocabSize} ids${padded}`);
      }
    }
    const known = this.idSpace > this.vocabSize ? ids.filter((id) => id < this.vocabSize) : [...ids];
    // @huggingface/tokenizers throws on an empty list.
    return known.length === 0 ? '' : this.impl.decode(known);
  }

  /** The id of a token string (a special token's content, e.g. `<|im_end|>`), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.impl.token_to_id(token);
  }

  /** tokenizer.json and tokenizer_config.json as text, for writing beside a model. */
  toFiles(): Record<string, string> {
    return {
      [TOKENIZER_FILE]: `${JSON.stringify(this.json, null, 2)}\n`,
      [TOKENIZER_CONFIG_FILE]: `${JSON.stringify(this.configJson, null, 2)}\n`,
    };
  }

  private specialId(token: TokenizerConfigJson['eos_token'], field: string, source: string): number | undefined {
    if (token === undefined || token === null) return undefined;
    const content = typeof token === 'string' ? token : token.content;
    const id = this.impl.token_to_id(content);
    if (id === undefined) throw new ModelConfigError(`${source}/${TOKENIZER_CONFIG_FILE}: ${field} ${JSON.stringify(content)} is not a token of ${TOKENIZER_FILE}`);
    return id;
  }
}

/** JSON text or an already parsed value, checked by a zod schema; errors name the file. */
function parseWith<S extends z.ZodTypeAny>(schema: S, input: unknown, file: string): z.infer<S> {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (err) {
      throw new ModelConfigError(`${file}: not valid JSON (${(err as Error).message})`, { cause: err });
    }
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ModelConfigError(`${file}: invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return r.data;
}
