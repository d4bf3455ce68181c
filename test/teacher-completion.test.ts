/** The narrowed adapter interface (issue #15, item 4): the library owns prompts, parsing, sampling, provenance and billing. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateSynthetic } from '../src/data/index.js';
import { TeacherError } from '../src/errors.js';
import { askTeacher, CompletionTeacher, postJson, type ChatMessage, type CompletionAdapter } from '../src/teacher/index.js';

const [problem] = generateSynthetic({ count: 1, seed: 4 });
const gold = (problem!.meta!.goldSteps as { subquestion: string; solution: string }[]);
const socraticText = gold.map((s, i) => `Q${i + 1}: ${s.subquestion}\nA${i + 1}: ${s.solution}`).join('\n') + `\nFinal answer: ${String(problem!.answer)}`;

/** An adapter that answers from a script and records what it was sent. */
function scripted(replies: string[]): CompletionAdapter & { sent: { messages: ChatMessage[]; temperature: number }[] } {
  const sent: { messages: ChatMessage[]; temperature: number }[] = [];
  return {
    id: 'scripted',
    model: 'script-1',
    sent,
    async complete(messages, { temperature }) {
      sent.push({ messages, temperature });
      return { text: replies[(sent.length - 1) % replies.length]!, usage: { promptTokens: 10, completionTokens: 3 } };
    },
  };
}

describe('CompletionTeacher', () => {
  it('sends the versioned prompt, parses the reply and writes provenance, numbering samples from the offset', async () => {
    const adapter = scripted([socraticText]);
    const chains = await askTeacher(new CompletionTeacher(adapter, { temperature: 0.3 }), 'socratic', problem!, { samples: 2, sampleOffset: 5 });
    expect(adapter.sent[0]!.messages.at(-1)).toEqual({ role: 'user', content: `Question: ${problem!.question}` });
    expect(adapter.sent.map((s) => s.temperature)).toEqual([0.3, 0.3]);
    expect(chains.map((c) => c.teacher)).toEqual([5, 6].map((sampleIndex) => ({
      adapter: 'scripted', model: 'script-1', promptVersion: 'socratic-synthetic-v1', sampleIndex, usage: { promptTokens: 10, completionTokens: 3 },
    })));
    expect(chains[0]!.steps.map((s) => s.subquestion)).toEqual(gold.map((s) => s.subquestion));
    expect(chains[0]!.finalAnswer).toBe(problem!.answer);
  });

  it('reads CoT replies with extractAnswer (a #### line, no Q/A steps needed) and keeps the text as the rationale', async () => {
    const teacher = new CompletionTeacher(scripted(['First 3 + 4 = 7.\nThen 7 * 2 = 14.\n#### 14']));
    const [chain] = await teacher.chainOfThought(problem!, { temperature: 0.9 });
    expect(chain).toMatchObject({ steps: [], finalAnswer: 14, rationale: 'First 3 + 4 = 7.\nThen 7 * 2 = 14.\n#### 14' });
    expect(chain!.teacher.promptVersion).toBe('cot-synthetic-v1');
  });

  it('an off-format reply is a TeacherError that bills it and every earlier reply of the call', async () => {
    const teacher = new CompletionTeacher(scripted([socraticText, 'I would rather not.']));
    const err = await teacher.decompose(problem!, { samples: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TeacherError);
    expect(err).toMatchObject({ kind: 'off-format', retryable: false, usage: { promptTokens: 20, completionTokens: 6 } });
    expect((err as Error).message).toContain("'I would rather not.'");
  });
});

describe('postJson', () => {
  let server: Server;
  let url: string;
  const Reply = z.object({ ok: z.literal(true) });
  beforeAll(async () => {
    server = createServer((req, res) => {
      const route = req.url ?? '';
      if (route === '/ok') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      if (route === '/429') return void res.writeHead(429, { 'retry-after': '2' }).end('slow down');
      if (route === '/503') return void res.writeHead(503).end();
      if (route === '/401') return void res.writeHead(401).end(`bad key ${req.headers.authorization}`);
      if (route === '/torn') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":');
      if (route === '/shape') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":"yes"}');
      if (route === '/hang') return; // never answers
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  const failure = (path: string, options = {}) => postJson(`${url}${path}`, {}, Reply, options).then(() => { throw new Error(`${path} did not fail`); }, (e: unknown) => e as TeacherError);

  it('returns the parsed reply, and maps every failure to the TeacherError the runner expects', async () => {
    expect(await postJson(`${url}/ok`, { q: 1 }, Reply)).toEqual({ ok: true });
    expect(await failure('/429')).toMatchObject({ kind: 'rate-limit', retryable: true, status: 429, retryAfterMs: 2000 });
    expect(await failure('/503')).toMatchObject({ kind: 'server', retryable: true, status: 503 });
    expect(await failure('/torn')).toMatchObject({ kind: 'bad-response', retryable: true });
    expect(await failure('/shape')).toMatchObject({ kind: 'bad-response', retryable: true, message: expect.stringContaining('ok:') });
    expect(await failure('/hang', { timeoutMs: 200 })).toMatchObject({ kind: 'timeout', retryable: true });
    expect(await failure('/ok', { signal: AbortSignal.abort() })).toMatchObject({ kind: 'aborted', retryable: false });
    expect(await postJson('http://127.0.0.1:9/x', {}, Reply).catch((e: unknown) => e)).toMatchObject({ kind: 'connection', retryable: true });
  });

  it('sends the API key as a bearer token and never shows it in an error', async () => {
    const err = await failure('/401', { apiKey: 'sk-secret-123456' });
    expect(err).toMatchObject({ kind: 'client', retryable: false, status: 401 });
    expect(err.message).toBe('request rejected (401): bad key Bearer ***');
  });
});
