import { describe, expect, it } from 'vitest';
import { generateSynthetic, goldChain } from '../src/data/index.js';
import { buildPairs, buildRoleSequences, type ChainRole } from '../src/format/pairs.js';
import { Tokenizer, TrimmedVocab } from '../src/tokenizer/index.js';
import { encodePair, encodeSegments, IGNORE_INDEX, type EncodedExample } from '../src/train/examples.js';

const problems = generateSynthetic({ count: 12, seed: 3, minSteps: 2, maxSteps: 4 });
const chains = problems.map((p) => goldChain(p)!);
const texts = (['qg', 'qa'] as const).flatMap((m) => buildPairs(m, problems, chains).flatMap((p) => [p.prompt, p.completion]));
const tok = new Tokenizer(TrimmedVocab.fromCorpus(texts, { unk: true }));

/** The (prefix ids, target ids) of every loss-carrying run of an encoded example. */
function targets(ex: EncodedExample): Array<{ prefix: number[]; target: number[] }> {
  const out: Array<{ prefix: number[]; target: number[] }> = [];
  let t = 0;
  while (t < ex.ids.length) {
    if (ex.labels[t] === IGNORE_INDEX) {
      t++;
      continue;
    }
    const start = t;
    while (t < ex.ids.length && ex.labels[t] !== IGNORE_INDEX) t++;
    out.push({ prefix: Array.from(ex.ids.slice(0, start)), target: Array.from(ex.ids.slice(start, t)) });
  }
  return out;
}

describe('Iterative per-chain packing', () => {
  for (const role of ['qg', 'qa'] as const satisfies readonly ChainRole[]) {
    it(`${role}: one sequence per chain holds exactly the per-step pairs' prefixes and targets`, () => {
      const sequences = buildRoleSequences(role, problems, chains);
      const pairs = buildPairs(role, problems, chains);
      expect(sequences).toHaveLength(chains.length);
      let p = 0;
      for (const seq of sequences) {
        const packed = targets(encodeSegments(tok, seq.segments, { maxLength: 1024 }));
        for (const [k, run] of packed.entries()) {
          const pair = pairs[p++]!;
          expect(pair.problemId).toBe(seq.problemId);
          const single = encodePair(tok, pair, { maxLength: 1024 });
          // Same prefix token for token: the logits at the targets are those of the per-step pair.
          expect(run.prefix).toEqual(Array.from(single.ids.slice(0, single.promptLength)));
          const completion = Array.from(single.ids.slice(single.promptLength, -1));
          // Inside the chain a turn ends with its newline; the last turn ends with EOS, as the pair does.
          const last = k === packed.length - 1;
          expect(run.target).toEqual(last ? [...completion, tok.eosId] : [...completion, ...tok.encode('\n')]);
        }
      }
      expect(p).toBe(pairs.length);
    });
  }

  it('a packed sequence longer than n_positions is refused, naming the problem', () => {
    const [seq] = buildRoleSequences('qg', problems, chains);
    expect(() => encodeSegments(tok, seq!.segments, { maxLength: 8 })).toThrow(/n_positions/);
  });
});
