/** estimateGeneration: the cost before it is spent (issue #20, item 3). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countTokens as o200k } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { generateSynthetic } from '../src/data/index.js';
import { batchPricing, estimateGeneration } from '../src/generate/index.js';
import { buildMessages, OpenAICompatibleTeacher, SimulatedTeacher } from '../src/teacher/index.js';
import { encodeGpt2 } from '../src/tokenizer/bpe.js';

const problems = generateSynthetic({ count: 6, seed: 1 });
const chat = (count: (s: string) => number) => problems.reduce((sum, p) => sum + buildMessages(p, 'socratic').reduce((s, m) => s + 3 + count(m.role) + count(m.content), 3), 0);

describe('estimateGeneration', () => {
  it("counts prompts with the model's tokenizer where the library has one: GPT-2 BPE (src/tokenizer) for gpt2, o200k_base for gpt-4o-mini", async () => {
    const gpt2 = await estimateGeneration({ teacher: new OpenAICompatibleTeacher({ model: 'openai-community/gpt2', apiKey: 'k' }), problems });
    expect(gpt2.counting).toMatchObject({ encoding: 'r50k_base', exact: true });
    expect(gpt2.promptTokens).toBe(chat((s) => encodeGpt2(s).length));
    const mini = await estimateGeneration({ teacher: new OpenAICompatibleTeacher({ model: 'gpt-4o-mini', apiKey: 'k', maxTokens: 300 }), problems, samplesPerProblem: 3 });
    expect(mini.counting).toMatchObject({ encoding: 'o200k_base', exact: true });
    expect(mini.promptTokens).toBe(3 * chat((s) => o200k(s)));
    expect(mini.promptTokens).not.toBe(3 * gpt2.promptTokens);
    expect([mini.requests, mini.completionTokensUpperBound, mini.maxTokens]).toEqual([18, 18 * 300, 300]);
    expect(mini.counting.note).toContain("gpt-4o-mini's tokenizer");
  });

  it('states an approximation for a model it has no tokenizer for, prices live and batch, and leaves out what the file has', async () => {
    const teacher = new OpenAICompatibleTeacher({ model: 'meta-llama/Llama-3.1-8B-Instruct', apiKey: 'k' });
    const live = { promptPerMillion: 2, completionPerMillion: 8, source: 'test prices' };
    const e = await estimateGeneration({ teacher, problems, livePricing: live, batchPricing: { ...batchPricing(live), source: 'half of the test prices' } });
    expect(e.counting.exact).toBe(false);
    expect(e.counting.note).toMatch(/^approximate: the library has no tokenizer for 'meta-llama\/Llama-3\.1-8B-Instruct', so counted with o200k_base/);
    expect(e.live).toEqual({
      pricing: live,
      promptUSD: (e.promptTokens * 2) / 1e6,
      completionUpperBoundUSD: (6 * 512 * 8) / 1e6,
      upperBoundUSD: (e.promptTokens * 2 + 6 * 512 * 8) / 1e6,
    });
    expect(e.batch!.upperBoundUSD).toBeCloseTo(e.live!.upperBoundUSD / 2, 12);
    expect(e.batch!.pricing.source).toBe('half of the test prices');

    const out = join(mkdtempSync(join(tmpdir(), 'sd-estimate-')), 'chains.jsonl');
    const done = await new SimulatedTeacher().decompose(problems[0]!, { samples: 2 });
    writeFileSync(out, done.map((c) => JSON.stringify(c)).join('\n') + '\n');
    const rest = await estimateGeneration({ teacher, problems, samplesPerProblem: 2, out });
    expect([rest.requests, rest.alreadyDone, rest.live, rest.batch]).toEqual([10, 2, null, null]);
  });
});
