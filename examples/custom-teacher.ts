/**
 * A user-written TeacherClient: Socratic chains from Ollama's native /api/chat
 * endpoint (not the OpenAI-compatible one), reusing the library's versioned
 * prompts and tolerant parser. Run it against a local Ollama:
 *
 *   OLLAMA_HOST=http://127.0.0.1:11434 OLLAMA_MODEL=llama3.1 npx tsx examples/custom-teacher.ts
 *
 * In your own project import from 'socratic-distill' instead of '../src/index.js'.
 */
import { fileURLToPath } from 'node:url';
import {
  ChainVerifier,
  TeacherError,
  buildMessages,
  generateChains,
  parseDecomposition,
  promptVersion,
  sampleDataDir,
  SocraticDataset,
  type Problem,
  type SocraticChain,
  type TeacherClient,
  type TeacherMode,
  type TeacherRequestOptions,
} from '../src/index.js';

interface OllamaChatResponse {
  message?: { content?: string };
  prompt_eval_count?: number;
  eval_count?: number;
}

export class OllamaNativeTeacher implements TeacherClient {
  readonly id = 'ollama-native';

  constructor(
    private readonly host: string,
    private readonly model: string,
  ) {}

  decompose(problem: Problem, options: TeacherRequestOptions = {}): Promise<SocraticChain[]> {
    return this.sample(problem, 'socratic', options);
  }

  chainOfThought(problem: Problem, options: TeacherRequestOptions = {}): Promise<SocraticChain[]> {
    return this.sample(problem, 'cot', options);
  }

  private async sample(problem: Problem, mode: TeacherMode, options: TeacherRequestOptions): Promise<SocraticChain[]> {
    const chains: SocraticChain[] = [];
    for (let i = 0; i < (options.samples ?? 1); i++) {
      const body = await this.chat(problem, mode, options);
      const text = body.message?.content ?? '';
      const parsed = parseDecomposition(text, problem.dataset);
      // Off-format answers become a recorded failure (the runner re-samples, then lists it).
      if (!parsed) throw new TeacherError('off-format', `no steps in: ${text.slice(0, 40)}`, { retryable: false });
      chains.push({
        problemId: problem.id,
        steps: mode === 'cot' ? [] : parsed.steps,
        finalAnswer: parsed.finalAnswer,
        ...(mode === 'cot' ? { rationale: text } : {}),
        teacher: {
          adapter: this.id,
          model: this.model,
          promptVersion: promptVersion(problem.dataset, mode),
          sampleIndex: (options.sampleOffset ?? 0) + i,
          usage: { promptTokens: body.prompt_eval_count ?? 0, completionTokens: body.eval_count ?? 0 },
        },
      });
    }
    return chains;
  }

  private async chat(problem: Problem, mode: TeacherMode, options: TeacherRequestOptions): Promise<OllamaChatResponse> {
    let res: Response;
    try {
      res = await fetch(`${this.host}/api/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: this.model, messages: buildMessages(problem, mode), stream: false, options: { temperature: options.temperature ?? 0.7 } }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      // Tell the runner what is worth retrying: dropped connections are, aborts are not.
      if (options.signal?.aborted) throw new TeacherError('aborted', 'aborted', { retryable: false });
      throw new TeacherError('connection', `cannot reach ${this.host}: ${(err as Error).message}`, { retryable: true });
    }
    if (res.status === 429 || res.status >= 500) {
      const after = Number(res.headers.get('retry-after'));
      throw new TeacherError(res.status === 429 ? 'rate-limit' : 'server', `HTTP ${res.status}`, {
        retryable: true,
        status: res.status,
        ...(Number.isFinite(after) && after > 0 ? { retryAfterMs: after * 1000 } : {}),
      });
    }
    if (!res.ok) throw new TeacherError('client', `HTTP ${res.status}: ${await res.text()}`, { retryable: false, status: res.status });
    try {
      return (await res.json()) as OllamaChatResponse;
    } catch (err) {
      throw new TeacherError('bad-response', `unreadable body: ${(err as Error).message}`, { retryable: true });
    }
  }
}

/** Generate and verify chains for the bundled GSM8K sample with the custom teacher. */
export async function runExample(host: string, model: string, out: string) {
  const dataset = await SocraticDataset.load({ dataset: 'gsm8k', path: `${sampleDataDir()}/gsm8k`, split: 'test' });
  const summary = await generateChains({ teacher: new OllamaNativeTeacher(host, model), problems: dataset.problems, out, concurrency: 2 });
  const chains = (await import('node:fs')).readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SocraticChain);
  const verdicts = new ChainVerifier().verifyAll(chains, dataset.problems);
  return { summary, stats: verdicts.stats };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const host = process.env.OLLAMA_HOST ?? 'http://127.0.0.1:11434';
  const { summary, stats } = await runExample(host, process.env.OLLAMA_MODEL ?? 'llama3.1', 'ollama-chains.jsonl');
  console.log(`generated ${summary.completed} problems (${summary.failed.length} failed); verifier kept ${stats.kept}/${stats.total}`);
}
