import type { Problem, TokenUsage } from '../data/schema.js';
import { TeacherError } from '../errors.js';
import { extractAnswer } from '../verify/answer.js';
import { parseDecomposition } from './parse.js';
import { buildMessages, promptVersion, type ChatMessage } from './prompts.js';
import { TeacherBase } from './sampling.js';
import { throwIfAborted, type SampleRequest, type TeacherMode, type TeacherSample } from './types.js';

export interface CompletionOptions {
  temperature: number;
  /** Cancels the request; an aborted request may throw anything, the runner records nothing for it. */
  signal?: AbortSignal;
}

export interface Completion {
  text: string;
  /** Tokens the provider billed for this reply, when it says. */
  usage?: TokenUsage;
}

/**
 * What an LLM adapter must know: send chat messages, return the reply's text and billed tokens.
 * Map failures to TeacherError (kind and `retryable`, with `retryAfterMs` when the server sent one;
 * `httpTeacherError` and `postJson` do this for HTTP) and never retry: the runner's policy is the only one.
 * Prompts, parsing, sampling, provenance and billing belong to CompletionTeacher and the runner.
 */
export interface CompletionAdapter {
  /** Written into every chain's `teacher.adapter`. */
  readonly id: string;
  /** Written into every chain's `teacher.model`. */
  readonly model?: string;
  complete(messages: ChatMessage[], options: CompletionOptions): Promise<Completion>;
}

export interface CompletionTeacherOptions {
  /** Temperature when a request gives none. Default 0.7. */
  temperature?: number;
}

function offFormat(text: string, usage: TokenUsage | undefined): TeacherError {
  const preview = text.trim().slice(0, 60).replace(/\s+/g, ' ');
  return new TeacherError('off-format', `teacher answer has no recognisable steps or answer: '${preview}${text.length > 60 ? '…' : ''}'`, {
    retryable: false,
    ...(usage ? { usage } : {}),
  });
}

/**
 * A teacher made of a CompletionAdapter: it sends the versioned few-shot prompt (`buildMessages`), reads the
 * reply tolerantly (`parseDecomposition` for Socratic steps, `extractAnswer` for CoT), and turns a reply it
 * cannot read into an `off-format` TeacherError that still carries the reply's billed tokens.
 */
export class CompletionTeacher extends TeacherBase {
  readonly id: string;
  readonly model: string | undefined;
  private readonly temperature: number;

  constructor(
    private readonly adapter: CompletionAdapter,
    options: CompletionTeacherOptions = {},
  ) {
    super();
    this.id = adapter.id;
    this.model = adapter.model;
    this.temperature = options.temperature ?? 0.7;
  }

  async sample(problem: Problem, { mode, temperature, signal }: SampleRequest): Promise<TeacherSample> {
    throwIfAborted(signal);
    const { text, usage } = await this.adapter.complete(buildMessages(problem, mode), { temperature: this.temperatureFor(temperature), ...(signal ? { signal } : {}) });
    return this.readReply(problem, mode, text, usage);
  }

  /** The temperature a request is sent with: the request's own, else this teacher's default. */
  protected temperatureFor(requested: number | undefined): number {
    return requested ?? this.temperature;
  }

  /**
   * A reply's text read into a sample, with this teacher's provenance: what `sample` does with a live reply,
   * and what batch ingestion does with each result line, so both paths write the same chains.
   * An unreadable reply throws an `off-format` TeacherError that carries the reply's billed tokens.
   */
  readReply(problem: Problem, mode: TeacherMode, text: string, usage: TokenUsage | undefined): TeacherSample {
    const provenance = { ...(this.model === undefined ? {} : { model: this.model }), promptVersion: promptVersion(problem.dataset, mode), ...(usage ? { usage } : {}) };
    if (mode === 'cot') {
      const finalAnswer = extractAnswer(text, problem.dataset, 'flexible');
      if (finalAnswer === null) throw offFormat(text, usage);
      return { steps: [], finalAnswer, rationale: text.trim(), ...provenance };
    }
    const parsed = parseDecomposition(text, problem.dataset);
    if (!parsed) throw offFormat(text, usage);
    return { steps: parsed.steps, finalAnswer: parsed.finalAnswer, ...provenance };
  }
}
