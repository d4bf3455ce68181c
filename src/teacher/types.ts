import type { Problem, SocraticChain, SocraticStep, TokenUsage } from '../data/schema.js';

export type TeacherMode = 'socratic' | 'cot';

/**
 * What a problem must carry for a teacher to answer it: `gold-steps` (stored `meta.goldSteps`, or a SVAMP
 * equation / StrategyQA decomposition to derive them from) or `gold-rationale` (a CoT rationale, or an
 * annotation to write one from). LLM teachers need neither.
 */
export type TeacherNeed = 'gold-steps' | 'gold-rationale';

/** One sample of one problem, as the library asks a teacher for it. */
export interface SampleRequest {
  mode: TeacherMode;
  /** Which sample of the problem this is (0-based). Deterministic teachers derive their randomness from it. */
  sampleIndex: number;
  /** Sampling temperature for LLM teachers; undefined means the teacher's default. */
  temperature?: number;
  signal?: AbortSignal;
}

/**
 * A teacher's answer for one sample: the chain's content and the provenance only the teacher knows.
 * The library adds the problem id, the sample index and the adapter id.
 */
export interface TeacherSample {
  /** Socratic steps; empty in `cot` mode. */
  steps: SocraticStep[];
  finalAnswer: SocraticChain['finalAnswer'];
  /** Plain chain-of-thought text (`cot` mode, or a human rationale). */
  rationale?: string;
  model?: string;
  promptVersion?: string;
  /** Tokens the provider billed for this sample. */
  usage?: TokenUsage;
}

/**
 * What a teacher must know: how to answer one sample of one problem. The library owns everything around it
 * (numbering samples, writing provenance, billing, retries, resume; see `askTeacher` and `generateChains`).
 * LLM adapters are narrower still: implement `CompletionAdapter` and wrap it in a `CompletionTeacher`, which
 * also owns prompts and parsing.
 *
 * `sample` throws a TeacherError when it cannot answer: retryable ones (429, 5xx, timeouts) are retried by
 * the runner, the rest are recorded. Any other error is recorded as a `client` failure.
 */
export interface TeacherClient {
  /** Adapter id written into every chain's `teacher.adapter`. */
  readonly id: string;
  /**
   * What every problem must carry in `mode` (default: nothing). `generateChains` checks it once before the
   * first problem and refuses with a TeacherUnsuitableError, instead of failing each problem alike.
   */
  needs?(mode: TeacherMode): readonly TeacherNeed[];
  sample(problem: Problem, request: SampleRequest): Promise<TeacherSample>;
}

export interface TeacherRequestOptions {
  /** How many independent chains to return. Default 1. */
  samples?: number;
  /** Sampling temperature for LLM teachers. */
  temperature?: number;
  /** Index given to the first returned sample (the runner sets it when resuming partly done problems). Default 0. */
  sampleOffset?: number;
  signal?: AbortSignal;
}

/** Throw the signal's reason if it has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError');
}
