import type { ChatMessage } from '../teacher/prompts.js';

/** How the prompt tokens of an estimate were counted. */
export interface TokenCounting {
  /** The BPE encoding used, e.g. `o200k_base`. */
  encoding: string;
  /** True when it is the model's own tokenizer; false when it stands in for one the library does not have. */
  exact: boolean;
  /** One sentence for the user: which tokenizer, and what the count includes. */
  note: string;
}

type Encoder = (text: string) => number;

/** The encodings gpt-tokenizer (a dependency) ships, loaded only when an estimate needs one. */
const ENCODINGS: Record<string, () => Promise<{ countTokens: (text: string, options?: { disallowedSpecial?: Set<string> }) => number }>> = {
  o200k_base: () => import('gpt-tokenizer/encoding/o200k_base'),
  cl100k_base: () => import('gpt-tokenizer/encoding/cl100k_base'),
  p50k_base: () => import('gpt-tokenizer/encoding/p50k_base'),
  // GPT-2's BPE, the one src/tokenizer uses for the students (gpt-tokenizer's table calls it `gpt2` too).
  r50k_base: () => import('gpt-tokenizer/encoding/r50k_base'),
  o200k_harmony: () => import('gpt-tokenizer/encoding/o200k_harmony'),
};

/** The stand-in for models whose tokenizer the library lacks (vLLM-served Llama, Qwen, …): GPT-4o's encoding. */
const FALLBACK = 'o200k_base';

/**
 * OpenAI's chat format adds 3 tokens per message and 3 that prime the reply (the count in OpenAI's cookbook
 * "How to count tokens with tiktoken" for gpt-3.5-turbo, gpt-4 and gpt-4o). Other servers' chat templates differ.
 */
const PER_MESSAGE = 3;
const PER_REPLY = 3;

async function encodingFor(model: string): Promise<{ name: string; exact: boolean }> {
  // Not `gpt-tokenizer/models`: its CommonJS build (4.0.0) throws on load.
  const { modelToEncodingMap, chatModelParams, DEFAULT_ENCODING } = await import('gpt-tokenizer/mapping');
  const table = modelToEncodingMap as Record<string, string>;
  const chatModels = chatModelParams as Record<string, unknown>;
  // `openai/gpt-4o-mini` (routers) and `openai-community/gpt2` (Hugging Face) name the same tokenizers.
  const bare = model.includes('/') ? model.slice(model.lastIndexOf('/') + 1) : model;
  for (const name of [model, bare]) {
    // The map lists older models; the chat models it knows but does not list (gpt-4o, gpt-4.1, o3, …) use its default.
    const listed = table[name] === 'gpt2' ? 'r50k_base' : table[name];
    const encoding = listed ?? (Object.hasOwn(chatModels, name) ? DEFAULT_ENCODING : undefined);
    if (encoding && encoding in ENCODINGS) return { name: encoding, exact: true };
  }
  return { name: FALLBACK, exact: false };
}

/**
 * A counter of chat prompt tokens for `model`: its own tokenizer when gpt-tokenizer's model table knows it
 * (OpenAI models, GPT-2), otherwise `o200k_base` as a stated approximation. Counts are cached per message
 * text, since every prompt of a dataset shares its system message and few-shot exemplars.
 */
export async function chatTokenCounter(model: string): Promise<{ count: (messages: readonly ChatMessage[]) => number; counting: TokenCounting }> {
  const { name, exact } = await encodingFor(model);
  const { countTokens } = await ENCODINGS[name]!();
  const cache = new Map<string, number>();
  // Problem text is data: a literal `<|endoftext|>` in it is text, not a special token.
  const tokens: Encoder = (text) => {
    let n = cache.get(text);
    if (n === undefined) {
      n = countTokens(text, { disallowedSpecial: new Set() });
      cache.set(text, n);
    }
    return n;
  };
  const framing = `plus ${PER_MESSAGE} tokens per message and ${PER_REPLY} per reply, as OpenAI's chat format adds`;
  const counting: TokenCounting = exact
    ? { encoding: name, exact, note: `counted with ${name}, ${model}'s tokenizer, ${framing}` }
    : {
        encoding: name,
        exact,
        note: `approximate: the library has no tokenizer for '${model}', so counted with ${name} (GPT-4o's), ${framing}; the model's own tokenizer and chat template give a different count`,
      };
  return {
    count: (messages) => messages.reduce((sum, m) => sum + PER_MESSAGE + tokens(m.role) + tokens(m.content), PER_REPLY),
    counting,
  };
}
