import type { Answer, DatasetName, Problem, SocraticChain, Verdict } from '../data/schema.js';
import { answersMatch, extractAnswer, normalizeAnswer, parseBoolean, parseNumber, type ExtractMode } from './answer.js';
import { arithmeticClaims } from './arithmetic.js';

export interface ChainVerifierOptions {
  /** Also reject chains whose `<<expr=value>>` or `a op b = c` arithmetic is wrong. Default false. */
  checkArithmetic?: boolean;
  /** How to read an answer from text when the chain has no `finalAnswer`. Default `flexible`. */
  mode?: ExtractMode;
}

export type RejectReason = 'no-final-answer' | 'unparseable-final-answer' | 'final-answer-mismatch' | 'arithmetic-slip' | 'unknown-problem';

export interface VerifyStats {
  total: number;
  kept: number;
  rejected: number;
  /** Count per verdict reason (`ok` included). */
  reasons: Record<string, number>;
}

export interface VerifyResult {
  kept: SocraticChain[];
  /** Every chain, in input order, with its verdict attached. */
  judged: SocraticChain[];
  stats: VerifyStats;
}

/** The chain's final answer: the explicit one, else read from the last step or the rationale. */
export function chainFinalAnswer(chain: SocraticChain, dataset?: DatasetName, mode: ExtractMode = 'flexible'): Answer | null {
  const explicit = normalizeAnswer(chain.finalAnswer, dataset);
  if (explicit !== null) return explicit;
  const last = chain.steps.at(-1);
  if (last?.answer !== undefined) return last.answer;
  const text = chain.rationale ?? (last ? last.solution : '');
  return extractAnswer(text, dataset, mode);
}

/**
 * False when a chain states a final answer that cannot be read as the gold answer's type
 * (`seventy-two` for a number, `maybe` for yes/no). Such a chain must not fall back to its
 * last step's result: the teacher said something else, and we cannot tell what.
 */
function readableAs(stated: Answer | null, problem: Problem): boolean {
  if (stated === null || typeof stated !== 'string' || stated.trim() === '') return true;
  if (typeof problem.answer === 'number') return parseNumber(stated) !== null;
  if (typeof problem.answer === 'boolean' || problem.dataset === 'strategyqa') return parseBoolean(stated) !== null;
  return true;
}

/**
 * Keeps a teacher chain only if its final answer matches the gold answer
 * (and, optionally, its arithmetic holds), giving a reason for every rejection.
 */
export class ChainVerifier {
  private readonly checkArithmetic: boolean;
  private readonly mode: ExtractMode;

  constructor(options: ChainVerifierOptions = {}) {
    this.checkArithmetic = options.checkArithmetic ?? false;
    this.mode = options.mode ?? 'flexible';
  }

  verify(chain: SocraticChain, problem: Problem): Verdict {
    if (!readableAs(chain.finalAnswer, problem)) {
      return { kept: false, reason: 'unparseable-final-answer', detail: `final answer '${String(chain.finalAnswer)}' is not a ${typeof problem.answer}` };
    }
    const predicted = chainFinalAnswer(chain, problem.dataset, this.mode);
    if (predicted === null) return { kept: false, reason: 'no-final-answer' };
    if (!answersMatch(predicted, problem.answer, problem.dataset)) {
      return { kept: false, reason: 'final-answer-mismatch', detail: `predicted ${String(predicted)}, gold ${String(problem.answer)}` };
    }
    if (this.checkArithmetic) {
      const texts: [string, string][] = chain.steps.map((s, i) => [`step ${i + 1}`, s.solution]);
      if (chain.rationale) texts.push(['rationale', chain.rationale]);
      for (const [where, text] of texts) {
        const slip = arithmeticClaims(text).find((c) => !c.ok);
        if (slip) {
          return { kept: false, reason: 'arithmetic-slip', detail: `${where}: ${slip.expression} = ${slip.actual}, not ${slip.claimed}` };
        }
      }
    }
    return { kept: true, reason: 'ok' };
  }

  /** Judge many chains against problems looked up by id; unknown ids are rejected, not dropped. */
  verifyAll(chains: Iterable<SocraticChain>, problems: ReadonlyMap<string, Problem> | readonly Problem[]): VerifyResult {
    const byId = problems instanceof Map ? problems : new Map((problems as readonly Problem[]).map((p) => [p.id, p]));
    const stats: VerifyStats = { total: 0, kept: 0, rejected: 0, reasons: {} };
    const kept: SocraticChain[] = [];
    const judged: SocraticChain[] = [];
    for (const chain of chains) {
      const problem = byId.get(chain.problemId);
      const verdict: Verdict = problem
        ? this.verify(chain, problem)
        : { kept: false, reason: 'unknown-problem', detail: `no problem with id '${chain.problemId}' in the dataset` };
      const withVerdict = { ...chain, verdict };
      judged.push(withVerdict);
      stats.total++;
      stats.reasons[verdict.reason] = (stats.reasons[verdict.reason] ?? 0) + 1;
      if (verdict.kept) {
        stats.kept++;
        kept.push(withVerdict);
      } else {
        stats.rejected++;
      }
    }
    return { kept, judged, stats };
  }
}
