/**
 * A user-written teacher: Ollama's native /api/chat endpoint (not the OpenAI-compatible one) as a
 * CompletionAdapter. The adapter only sends messages and returns text and tokens; the library's
 * CompletionTeacher adds the versioned prompts, parsing, sampling and provenance, and generateChains
 * the retries, resume and billing. Run it against a local Ollama:
 *
 *   OLLAMA_HOST=http://127.0.0.1:11434 OLLAMA_MODEL=llama3.1 npx tsx examples/custom-teacher.ts
 *
 * In your own project import from 'socratic-distill' instead of '../src/index.js'.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  ChainVerifier,
  CompletionTeacher,
  generateChains,
  postJson,
  sampleDataDir,
  SocraticChainSchema,
  SocraticDataset,
  type CompletionAdapter,
} from '../src/index.js';

/** The fields of Ollama's /api/chat reply that we use. */
const OllamaChatReply = z.object({
  message: z.object({ content: z.string() }),
  prompt_eval_count: z.number().int().nonnegative().default(0),
  eval_count: z.number().int().nonnegative().default(0),
});

export function ollamaNative(host: string, model: string): CompletionAdapter {
  return {
    id: 'ollama-native',
    model,
    async complete(messages, { temperature, signal }) {
      // postJson maps HTTP failures to TeacherErrors (429/5xx retryable, with Retry-After) for the runner.
      const body = { model, messages, stream: false, options: { temperature } };
      const reply = await postJson(`${host}/api/chat`, body, OllamaChatReply, { ...(signal ? { signal } : {}) });
      return { text: reply.message.content, usage: { promptTokens: reply.prompt_eval_count, completionTokens: reply.eval_count } };
    },
  };
}

/** Generate and verify chains for the bundled GSM8K sample with the custom teacher. */
export async function runExample(host: string, model: string, out: string) {
  const dataset = await SocraticDataset.load({ dataset: 'gsm8k', path: `${sampleDataDir()}/gsm8k`, split: 'test' });
  const teacher = new CompletionTeacher(ollamaNative(host, model));
  const summary = await generateChains({ teacher, problems: dataset.problems, out, concurrency: 2 });
  const chains = readFileSync(out, 'utf8').trim().split('\n').map((l) => SocraticChainSchema.parse(JSON.parse(l)));
  const verdicts = new ChainVerifier().verifyAll(chains, dataset.problems);
  return { summary, stats: verdicts.stats };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const host = process.env.OLLAMA_HOST ?? 'http://127.0.0.1:11434';
  const { summary, stats } = await runExample(host, process.env.OLLAMA_MODEL ?? 'llama3.1', 'ollama-chains.jsonl');
  console.log(`generated ${summary.completed} problems (${summary.failed.length} failed); verifier kept ${stats.kept}/${stats.total}`);
}
