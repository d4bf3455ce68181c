import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { goldChain, sampleDataDir, SocraticDataset } from '../src/data/index.js';
import { runExample } from '../examples/custom-teacher.js';

describe('examples/custom-teacher.ts', () => {
  it('runs a user-written adapter end to end against a loopback Ollama-style server', async () => {
    const dataset = await SocraticDataset.load({ dataset: 'gsm8k', path: `${sampleDataDir()}/gsm8k`, split: 'test' });
    const byQuestion = new Map(dataset.problems.map((p) => [p.question, p]));
    let calls = 0;
    const server = createServer(async (req, res) => {
      let body = '';
      for await (const c of req) body += c;
      const question = (JSON.parse(body).messages.at(-1).content as string).replace(/^Question: /, '');
      const problem = byQuestion.get(question)!;
      // First call fails with a 503, the adapter marks it retryable and the runner tries again.
      if (calls++ === 0) return void res.writeHead(503).end();
      const steps = goldChain(problem)!.steps;
      const content = steps.map((s, i) => `Q${i + 1}: ${s.subquestion}\nA${i + 1}: ${s.solution}`).join('\n') + `\nFinal answer: ${String(problem.answer)}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ message: { role: 'assistant', content }, prompt_eval_count: 50, eval_count: 10 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const out = join(mkdtempSync(join(tmpdir(), 'sd-example-')), 'chains.jsonl');
      const { summary, stats } = await runExample(host, 'tiny', out);
      expect(summary.failed).toEqual([]);
      expect(summary.completed).toBe(25);
      expect(summary.usage).toEqual({ promptTokens: 25 * 50, completionTokens: 25 * 10 });
      expect(stats).toMatchObject({ total: 25, kept: 25 });
      expect(calls).toBe(26);
    } finally {
      server.close();
    }
  });
});
