import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSynthetic, goldChain } from '../src/data/index.js';
import type { Problem, SocraticChain } from '../src/data/schema.js';
import { stripCalculatorNotes } from '../src/data/gsm8k.js';
import { buildPairs, FORMAT_MODES, MARKERS, parseTrlJsonl, toTrlJsonl, writeTrlJsonl } from '../src/format/index.js';
import { Tokenizer, TrimmedVocab } from '../src/tokenizer/index.js';
import { encodePair, IGNORE_INDEX } from '../src/train/examples.js';

const problem: Problem = {
  id: 'p1',
  dataset: 'gsm8k',
  question: 'Tom has 3 apples.\nHe buys 4 more, then doubles them. How many?',
  answer: 14,
};
const chain: SocraticChain = {
  problemId: 'p1',
  steps: [
    { subquestion: 'How many after buying?', solution: 'He has 3 + 4 = <<3+4=7>>7 apples.', answer: 7 },
    { subquestion: 'How many after doubling?', solution: '7 * 2 = <<7*2=14>>14', answer: 14 },
  ],
  finalAnswer: 14,
  teacher: { adapter: 'test', sampleIndex: 0 },
};

describe('training formats', () => {
  it('answer-only: problem -> #### answer', () => {
    const [p] = buildPairs('answer-only', [problem], [chain]);
    expect(p!.prompt).toBe('Problem: Tom has 3 apples. He buys 4 more, then doubles them. How many?\n');
    expect(p!.completion).toBe('#### 14');
  });

  it('CoT: rationale with calculator notes stripped by default, kept on request', () => {
    const [stripped] = buildPairs('cot', [problem], [chain]);
    expect(stripped!.completion).toBe('He has 3 + 4 = 7 apples.\n7 * 2 = 14\n#### 14');
    const [kept] = buildPairs('cot', [problem], [chain], { keepCalculatorNotes: true });
    expect(kept!.completion).toContain('<<3+4=7>>');
    expect(stripCalculatorNotes('a <<1+1=2>>2')).toBe('a 2');
  });

  it('Unified: Q/A lines then the final answer; solutions end with their step answer', () => {
    const [p] = buildPairs('unified', [problem], [chain]);
    expect(p!.completion).toBe(
      'Q: How many after buying?\nA: He has 3 + 4 = 7 apples. So the answer is 7.\nQ: How many after doubling?\nA: 7 * 2 = 14\n#### 14',
    );
  });

  it('Iterative QG: one pair per subquestion plus the end marker, history grows', () => {
    const pairs = buildPairs('qg', [problem], [chain]);
    expect(pairs.map((p) => p.completion)).toEqual(['Q: How many after buying?', 'Q: How many after doubling?', MARKERS.end]);
    expect(pairs[0]!.prompt.split('\n').filter(Boolean)).toHaveLength(1);
    expect(pairs[2]!.prompt).toContain('A: 7 * 2 = 14\n');
  });

  it('Iterative QA: prompt carries history and the current subquestion', () => {
    const pairs = buildPairs('qa', [problem], [chain]);
    expect(pairs).toHaveLength(2);
    expect(pairs[1]!.prompt.endsWith('Q: How many after doubling?\n')).toBe(true);
    expect(pairs[1]!.prompt).toContain('Q: How many after buying?\nA: He has 3 + 4 = 7 apples. So the answer is 7.\n');
    expect(pairs[1]!.completion).toBe('A: 7 * 2 = 14');
  });

  it('a chain without its problem is an error, not a dropped example', () => {
    expect(() => buildPairs('unified', [], [chain])).toThrow(/no matching problem/);
  });

  it('loss falls on the completion and EOS only, unless promptLoss is on', () => {
    const [pair] = buildPairs('unified', [problem], [chain]);
    const tok = new Tokenizer(TrimmedVocab.fromCorpus([pair!.prompt, pair!.completion]));
    const ex = encodePair(tok, pair!, { maxLength: 512 });
    expect(ex.ids.at(-1)).toBe(tok.eosId);
    expect(Array.from(ex.labels.slice(0, ex.promptLength)).every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(Array.from(ex.labels.slice(ex.promptLength))).toEqual(Array.from(ex.ids.slice(ex.promptLength)));
    expect(tok.decode(Array.from(ex.ids.slice(ex.promptLength, -1)))).toBe(pair!.completion);
    const withPrompt = encodePair(tok, pair!, { maxLength: 512, promptLoss: true });
    expect(Array.from(withPrompt.labels)).toEqual(Array.from(withPrompt.ids));
    expect(() => encodePair(tok, pair!, { maxLength: 10 })).toThrow(/n_positions/);
  });

  it('TRL export round-trips exactly the pairs the trainer encodes', async () => {
    const problems = generateSynthetic({ count: 5, seed: 3 });
    const chains = problems.map((p) => goldChain(p)!);
    const dir = await mkdtemp(join(tmpdir(), 'sd-format-'));
    for (const mode of FORMAT_MODES) {
      const pairs = buildPairs(mode, problems, chains);
      const path = join(dir, `${mode}.jsonl`);
      await writeTrlJsonl(path, pairs);
      const rows = parseTrlJsonl(await readFile(path, 'utf8'), path);
      expect(rows).toEqual(pairs.map((p) => ({ prompt: p.prompt, completion: p.completion })));
      expect(toTrlJsonl(pairs).split('\n').filter(Boolean)).toHaveLength(pairs.length);
    }
    expect(() => parseTrlJsonl('{"prompt":"a","completion":"b"}\n{"prompt":1}', 'x.jsonl')).toThrow(/x\.jsonl:2/);
  });
});

describe('socratic-distill export', () => {
  it('writes the same pairs the trainer builds from the same chains', async () => {
    const { main } = await import('../src/cli/main.js');
    const problems = generateSynthetic({ count: 6, seed: 0 });
    const chains = problems.map((p) => goldChain(p)!);
    const dir = await mkdtemp(join(tmpdir(), 'sd-export-'));
    const chainsPath = join(dir, 'kept.jsonl');
    await writeFile(chainsPath, chains.map((c) => JSON.stringify(c)).join('\n') + '\n');
    for (const mode of ['unified', 'qa'] as const) {
      const out = join(dir, `${mode}.jsonl`);
      const code = await main(['export', '--format', 'trl', '--mode', mode, '--chains', chainsPath, '--out', out, '--dataset', 'synthetic', '--count', '6']);
      expect(code).toBe(0);
      const rows = parseTrlJsonl(await readFile(out, 'utf8'), out);
      expect(rows).toEqual(buildPairs(mode, problems, chains).map((p) => ({ prompt: p.prompt, completion: p.completion })));
    }
  });
});
