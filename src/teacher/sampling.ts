import type { Problem, SocraticChain, TokenUsage } from '../data/schema.js';
import { TeacherError } from '../errors.js';
import type { SampleRequest, TeacherClient, TeacherMode, TeacherRequestOptions, TeacherSample } from './types.js';

function addUsage(into: TokenUsage, add: TokenUsage | undefined): void {
  if (!add) return;
  into.promptTokens += add.promptTokens;
  into.completionTokens += add.completionTokens;
}

/**
 * A sample with its provenance, in the key order every chains file has always had. The live path (`askTeacher`)
 * and batch ingestion both build chains here, so the two cannot drift apart.
 */
export function chainFromSample(adapter: string, problem: Problem, sampleIndex: number, s: TeacherSample): SocraticChain {
  return {
    problemId: problem.id,
    steps: s.steps,
    finalAnswer: s.finalAnswer,
    ...(s.rationale === undefined ? {} : { rationale: s.rationale }),
    teacher: {
      adapter,
      ...(s.model === undefined ? {} : { model: s.model }),
      ...(s.promptVersion === undefined ? {} : { promptVersion: s.promptVersion }),
      sampleIndex,
      ...(s.usage === undefined ? {} : { usage: s.usage }),
    },
  };
}

/**
 * Ask a teacher for `samples` chains of one problem, numbered from `sampleOffset`, with provenance.
 * Every reply is billed, usable or not: when a sample fails, the TeacherError carries the usage of all
 * the replies this call received (the earlier samples' and the failing one's own).
 */
export async function askTeacher(teacher: TeacherClient, mode: TeacherMode, problem: Problem, options: TeacherRequestOptions = {}): Promise<SocraticChain[]> {
  const first = options.sampleOffset ?? 0;
  const chains: SocraticChain[] = [];
  const billed: TokenUsage = { promptTokens: 0, completionTokens: 0 };
  try {
    for (let i = 0; i < (options.samples ?? 1); i++) {
      const request: SampleRequest = {
        mode,
        sampleIndex: first + i,
        ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
        ...(options.signal ? { signal: options.signal } : {}),
      };
      const sample = await teacher.sample(problem, request);
      addUsage(billed, sample.usage);
      chains.push(chainFromSample(teacher.id, problem, first + i, sample));
    }
  } catch (err) {
    if (!(err instanceof TeacherError)) throw err;
    addUsage(billed, err.usage);
    throw billed.promptTokens + billed.completionTokens > 0 ? err.withUsage(billed) : err;
  }
  return chains;
}

/**
 * The built-in teachers' base: a TeacherClient plus `decompose` / `chainOfThought`, which return finished
 * chains for direct use (the runner calls `askTeacher` itself).
 */
export abstract class TeacherBase implements TeacherClient {
  abstract readonly id: string;
  abstract sample(problem: Problem, request: SampleRequest): Promise<TeacherSample>;

  /** Socratic chains (subquestion/solution steps and a final answer). */
  decompose(problem: Problem, options: TeacherRequestOptions = {}): Promise<SocraticChain[]> {
    return askTeacher(this, 'socratic', problem, options);
  }

  /** Plain chain-of-thought chains (a rationale and a final answer) for the CoT baseline. */
  chainOfThought(problem: Problem, options: TeacherRequestOptions = {}): Promise<SocraticChain[]> {
    return askTeacher(this, 'cot', problem, options);
  }
}
