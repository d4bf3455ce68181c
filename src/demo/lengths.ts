import { goldChain } from '../data/gold.js';
import type { Problem, SocraticChain } from '../data/schema.js';
import { SocraticDistillError } from '../errors.js';
import { buildRoleSequences, pairsForChain, problemHeader, type FormatMode } from '../format/pairs.js';
import { tokenizerForTexts } from '../students/common.js';
import type { TokenCodec } from '../train/codec.js';

/** Some examples do not fit the model's context; raised before any teacher call or training step. */
export class ContextLengthError extends SocraticDistillError {
  constructor(
    readonly nPositions: number,
    readonly needed: number,
    readonly offenders: ReadonlyArray<{ problemId: string; tokens: number }>,
    when: string,
  ) {
    const list = offenders.slice(0, 10).map((o) => `${o.problemId} (${o.tokens} tokens)`).join(', ');
    const more = offenders.length > 10 ? ` and ${offenders.length - 10} more` : '';
    super(
      'CONTEXT_TOO_SHORT',
      `${offenders.length} problem(s) need more than the model's ${nPositions} positions (n_positions) ${when}: ${list}${more}. ` +
        `Give the students at least ${needed} positions (size.n_positions from scratch, or let it be sized from the data; a checkpoint with that many), or leave these problems out.`,
    );
  }
}

const MODES: readonly FormatMode[] = ['answer-only', 'cot', 'unified', 'qg', 'qa'];

/**
 * Tokens the longest training example of each problem takes in any arm's format (plus EOS), and
 * the test prompt. Problems without a chain count their prompt and final answer only: a lower bound.
 */
export function exampleLengths(problems: readonly Problem[], chains: ReadonlyMap<string, SocraticChain>, codec?: TokenCodec): Map<string, number> {
  const texts = (p: Problem): string[] => {
    const chain = chains.get(p.id);
    const pairs = chain ? MODES.flatMap((m) => pairsForChain(m, p, chain)) : pairsForChain('answer-only', p, undefined);
    const packed = chain ? (['qg', 'qa'] as const).map((r) => buildRoleSequences(r, [p], [chain])[0]!.segments.map((s) => s.text).join('')) : [];
    return [...pairs.map((x) => x.prompt + x.completion), ...packed];
  };
  const tok = codec ?? tokenizerForTexts(problems.flatMap(texts));
  return new Map(problems.map((p) => [p.id, Math.max(tok.encode(problemHeader(p)).length, ...texts(p).map((t) => tok.encode(t).length)) + 1]));
}

/** The gold chains of problems that have them (synthetic, GSM8K socratic), for checks before the teacher runs. */
export function goldChains(problems: readonly Problem[]): Map<string, SocraticChain> {
  return new Map(problems.flatMap((p) => {
    const c = goldChain(p);
    return c ? [[p.id, c] as const] : [];
  }));
}

/** Context size that fits every example, rounded up to a multiple of 32 (at most `cap`). */
export function positionsFor(lengths: ReadonlyMap<string, number>, cap = 1024): number {
  const longest = Math.max(1, ...lengths.values());
  return Math.min(cap, Math.ceil(longest / 32) * 32);
}

/** Throws one ContextLengthError listing every problem whose examples exceed `nPositions`. */
export function assertFits(lengths: ReadonlyMap<string, number>, nPositions: number, when: string): void {
  const offenders = [...lengths].filter(([, n]) => n > nPositions).map(([problemId, tokens]) => ({ problemId, tokens })).sort((a, b) => b.tokens - a.tokens);
  if (offenders.length > 0) throw new ContextLengthError(nPositions, offenders[0]!.tokens, offenders, when);
}
