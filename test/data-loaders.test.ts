import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SocraticDataset, parseGsm8kAnswer, joinSvampText, svampEquationSteps, stripCalculatorNotes } from '../src/data/index.js';
import { loadDatasetSelection, type DatasetSelection } from '../src/data/load.js';
import { DatasetFormatError, InvalidOptionError } from '../src/errors.js';
import { SHARED_DATA, hasSharedData } from './fixtures-data/shared.js';

const tmp = mkdtempSync(join(tmpdir(), 'sd-data-'));
const full = hasSharedData ? describe : describe.skip;

full('full shared datasets (counts from SOURCE.md)', () => {
  it('GSM8K socratic train/test: 7473/1319, gold steps, rationale equals the plain file', async () => {
    const train = await SocraticDataset.load({ dataset: 'gsm8k', path: join(SHARED_DATA, 'gsm8k'), split: 'train' });
    const test = await SocraticDataset.load({ dataset: 'gsm8k', path: join(SHARED_DATA, 'gsm8k'), split: 'test' });
    expect([train.size, test.size]).toEqual([7473, 1319]);
    const plain = await SocraticDataset.load({ dataset: 'gsm8k', path: join(SHARED_DATA, 'gsm8k'), split: 'train', variant: 'main' });
    expect(plain.size).toBe(7473);
    // Removing `subquestion ** ` gives the plain answer, row by row.
    for (let i = 0; i < train.size; i++) {
      expect(train.problems[i]!.meta!.rationale).toBe(plain.problems[i]!.meta!.rationale);
      expect(train.problems[i]!.answer).toBe(plain.problems[i]!.answer);
    }
    const all = [...train.problems, ...test.problems];
    const steps = all.map((p) => (p.meta!.goldSteps as unknown[]).length);
    expect(Math.max(...steps.slice(0, 7473))).toBe(9);
    expect(Math.max(...steps.slice(7473))).toBe(11);
    expect(all.filter((p) => (p.answer as number) < 0)).toHaveLength(5);
    expect(all.filter((p) => /#### .*,/.test(p.meta!.rationale as string))).toHaveLength(93);
    expect(train.get('gsm8k-train-1')!.answer).toBe(10);
  });

  it('SVAMP: 700/300 seeded split of 1000, disjoint, equation kept, answer a float', async () => {
    const train = await SocraticDataset.load({ dataset: 'svamp', path: join(SHARED_DATA, 'svamp'), split: 'train' });
    const test = await SocraticDataset.load({ dataset: 'svamp', path: join(SHARED_DATA, 'svamp', 'SVAMP.json'), split: 'test' });
    expect([train.size, test.size]).toEqual([700, 300]);
    const ids = new Set([...train.problems, ...test.problems].map((p) => p.id));
    expect(ids.size).toBe(1000);
    const again = await SocraticDataset.load({ dataset: 'svamp', path: join(SHARED_DATA, 'svamp'), split: 'train' });
    expect(again.problems.map((p) => p.id)).toEqual(train.problems.map((p) => p.id));
    const other = await SocraticDataset.load({ dataset: 'svamp', path: join(SHARED_DATA, 'svamp'), split: 'train', seed: 1 });
    expect(other.problems.map((p) => p.id)).not.toEqual(train.problems.map((p) => p.id));
    const p = [...train.problems, ...test.problems].find((x) => x.id === 'chal-1')!;
    expect(p.question).toBe('Each pack of dvds costs 76 dollars. If there is a discount of 25 dollars on each pack, how much do you have to pay to buy each pack?');
    expect(p.meta!.equation).toBe('( 76.0 - 25.0 )');
    // Every equation turns into steps whose last result is the answer, except one annotation error upstream.
    const disagree = [...train.problems, ...test.problems].filter((q) => {
      const steps = svampEquationSteps(q.meta!.equation as string, q.meta!.questionSentence as string);
      expect(steps.at(-1)!.subquestion).toBe(q.meta!.questionSentence);
      return Math.abs(steps.at(-1)!.answer as number - (q.answer as number)) > 1e-6;
    });
    expect(disagree.map((q) => q.id)).toEqual(['chal-680']);
  });

  it('StrategyQA: 1603/687 of 2290 (train.json.gz + dev.json), boolean answers, facts in context', async () => {
    const train = await SocraticDataset.load({ dataset: 'strategyqa', path: join(SHARED_DATA, 'strategyqa'), split: 'train' });
    const test = await SocraticDataset.load({ dataset: 'strategyqa', path: join(SHARED_DATA, 'strategyqa'), split: 'test' });
    expect([train.size, test.size]).toEqual([1603, 687]);
    const all = [...train.problems, ...test.problems];
    expect(all.filter((p) => p.answer === true)).toHaveLength(1071);
    expect(all.filter((p) => p.answer === false)).toHaveLength(1219);
    const p = all.find((x) => x.id === '2bc9c4f9c19c167187f2')!;
    expect(p.context).toContain('Julius Caesar had three children.');
    expect(p.meta!.decomposition).toEqual(['How many kids did Julius Caesar have?', 'How many kids did Genghis Khan have?', 'Is #2 greater than #1?']);
  });
});

describe('format parsing', () => {
  it('parses socratic GSM8K answers: subquestions, notes, #### with commas', () => {
    const parsed = parseGsm8kAnswer('How much per minute? ** She earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nHow much in total? ** 0.2 x 5000 = $<<0.2*5000=1000>>1000.\n#### 1,000');
    expect(parsed.finalAnswer).toBe(1000);
    expect(parsed.steps!.map((s) => s.answer)).toEqual([0.2, 1000]);
    expect(parsed.steps![0]!.subquestion).toBe('How much per minute?');
    expect(parsed.rationale.split('\n')[0]).toBe('She earns 12/60 = $<<12/60=0.2>>0.2 per minute.');
    expect(stripCalculatorNotes(parsed.steps![0]!.solution)).toBe('She earns 12/60 = $0.2 per minute.');
    expect(parseGsm8kAnswer('A = <<2-5=-3>>-3\n#### -3').steps).toBeUndefined();
  });

  it('joins SVAMP body and question with and without a final period', () => {
    expect(joinSvampText('Tom has 3 cats.', 'How many?')).toBe('Tom has 3 cats. How many?');
    expect(joinSvampText('Tom has 3 cats. If he buys 2', 'How many now?')).toBe('Tom has 3 cats. If he buys 2, how many now?');
    expect(joinSvampText('He ate 2. Then he bought 3 more', 'How many are left?')).toBe('He ate 2. Then he bought 3 more. How many are left?');
  });

  it('reads .gz transparently and validates user JSONL', async () => {
    const rows = [{ id: 'a', question: 'What is 2+2?', answer: 4 }, { id: 'b', dataset: 'custom', question: 'Is it?', answer: true }];
    const file = join(tmp, 'mine.jsonl.gz');
    writeFileSync(file, gzipSync(rows.map((r) => JSON.stringify(r)).join('\n') + '\n'));
    const d = await SocraticDataset.load({ dataset: 'jsonl', path: file });
    expect(d.problems.map((p) => [p.id, p.dataset, p.answer])).toEqual([['a', 'custom', 4], ['b', 'custom', true]]);
  });
});

describe('malformed rows', () => {
  const write = (name: string, text: string) => {
    const f = join(tmp, name);
    writeFileSync(f, text);
    return f;
  };

  it('names file, line and zod path; skip mode counts what it skipped', async () => {
    const f = write('bad.jsonl', [
      JSON.stringify({ id: 'a', question: 'q?', answer: 1 }),
      '',
      JSON.stringify({ id: 'b', question: '', answer: 1 }),
      JSON.stringify({ id: 'c', question: 'q?', answer: [1] }),
      JSON.stringify({ id: 'd', question: 'q?', answer: 2 }),
    ].join('\n'));
    const err = await SocraticDataset.load({ dataset: 'jsonl', path: f }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetFormatError);
    expect((err as DatasetFormatError).message).toMatch(/bad\.jsonl:3: question: /);
    expect([(err as DatasetFormatError).line, (err as DatasetFormatError).path]).toEqual([3, 'question']);
    const skipped = await SocraticDataset.load({ dataset: 'jsonl', path: f, onInvalid: 'skip' });
    expect(skipped.problems.map((p) => p.id)).toEqual(['a', 'd']);
    expect(skipped.skipped).toBe(2);
    expect(skipped.invalid.map((e) => [e.line, e.path])).toEqual([[3, 'question'], [4, 'answer']]);
  });

  it('rejects broken JSON lines, GSM8K answers without ####, SVAMP rows with bad types (with line numbers)', async () => {
    const broken = write('broken.jsonl', '{"id":"a","question":"q","answer":1}\n{"id":"b", "quest');
    await expect(SocraticDataset.load({ dataset: 'jsonl', path: broken })).rejects.toThrow(/broken\.jsonl:2: invalid JSON/);
    const gsm = write('test.jsonl', JSON.stringify({ question: 'q', answer: 'x ** y\n#### 5' }) + '\n' + JSON.stringify({ question: 'q', answer: 'no final line' }) + '\n');
    await expect(SocraticDataset.load({ dataset: 'gsm8k', path: gsm })).rejects.toThrow(/test\.jsonl:2: answer: last line must be '#### <answer>'/);
    const ok = await SocraticDataset.load({ dataset: 'gsm8k', path: gsm, onInvalid: 'skip' });
    expect([ok.size, ok.skipped, ok.problems[0]!.id]).toEqual([1, 1, 'gsm8k-test-0']);
    const svamp = write('svamp.json', '[\n  {"ID": "chal-1", "Body": "A", "Question": "B?", "Equation": "( 1.0 + 2.0 )", "Answer": 3.0},\n  {"ID": "chal-2", "Body": "A",\n   "Question": "B?", "Equation": "( 1.0 + 2.0 )", "Answer": "3"}\n]');
    await expect(SocraticDataset.load({ dataset: 'svamp', path: svamp, split: 'all' })).rejects.toThrow(/svamp\.json:3: Answer: Expected number/);
    const dup = write('dup.jsonl', '{"id":"a","question":"q","answer":1}\n{"id":"a","question":"q","answer":2}\n');
    await expect(SocraticDataset.load({ dataset: 'jsonl', path: dup })).rejects.toThrow(/duplicate problem id 'a'/);
    await expect(SocraticDataset.load({ dataset: 'jsonl', path: join(tmp, 'missing.jsonl') })).rejects.toThrow(/missing\.jsonl: file not found/);
    const gz = write('torn.jsonl.gz', gzipSync('{"id":"a"}').subarray(0, 12).toString('latin1'));
    await expect(SocraticDataset.load({ dataset: 'jsonl', path: gz })).rejects.toBeInstanceOf(DatasetFormatError);
  });
});

describe('loadDatasetSelection (issue #15, item 7: library errors name options, not command-line flags)', () => {
  const base: DatasetSelection = { dataset: 'synthetic', data: undefined, split: undefined, seed: 0, limit: undefined, count: undefined };

  it('loads a synthetic selection, cut to the limit', async () => {
    const d = await loadDatasetSelection({ ...base, count: 10, limit: 4 });
    expect(d.size).toBe(4);
  });

  it('throws InvalidOptionError naming the option, with no flag words', async () => {
    const cases: Array<[Partial<DatasetSelection>, string, string]> = [
      [{ dataset: 'mnist' }, 'dataset', "option 'dataset' must be one of gsm8k|svamp|strategyqa|synthetic|jsonl|json, got 'mnist'"],
      [{ split: 'dev' }, 'split', "option 'split' must be train|test|all, got 'dev'"],
      [{ limit: 0 }, 'limit', "option 'limit' must be at least 1, got 0"],
      [{ count: 0 }, 'count', "option 'count' must be at least 1, got 0"],
      [{ dataset: 'gsm8k' }, 'data', "option 'data' (the path of the dataset's files) is required for dataset 'gsm8k'"],
    ];
    for (const [change, option, message] of cases) {
      const err = await loadDatasetSelection({ ...base, ...change }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidOptionError);
      expect(err).toMatchObject({ option, code: 'INVALID_OPTION', message });
      expect((err as Error).message).not.toMatch(/--/);
    }
  });
});
