import type { Problem, SocraticChain } from '../data/schema.js';

export interface TeacherRequestOptions {
  /** How many independent chains to return. Default 1. */
  samples?: number;
  /** Sampling temperature for LLM teachers. */
  temperature?: number;
  /** Index given to the first returned sample (the runner sets it when resuming partly done problems). Default 0. */
  sampleOffset?: number;
  signal?: AbortSignal;
}

/**
 * A teacher turns a problem into Socratic chains (subquestion/solution steps
 * plus a final answer) or into plain chain-of-thought for the CoT baseline.
 * It must return exactly `samples` chains, or throw a TeacherError: retryable
 * ones (429, 5xx, timeouts) are retried by the runner, the rest are recorded.
 */
export interface TeacherClient {
  /** Adapter id written into every chain's `teacher.adapter`. */
  readonly id: string;
  decompose(problem: Problem, options?: TeacherRequestOptions): Promise<SocraticChain[]>;
  chainOfThought(problem: Problem, options?: TeacherRequestOptions): Promise<SocraticChain[]>;
}

export type TeacherMode = 'socratic' | 'cot';

/** Call the teacher method for a mode. */
export function askTeacher(teacher: TeacherClient, mode: TeacherMode, problem: Problem, options: TeacherRequestOptions): Promise<SocraticChain[]> {
  return mode === 'cot' ? teacher.chainOfThought(problem, options) : teacher.decompose(problem, options);
}

/** Throw the signal's reason if it has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError');
}
