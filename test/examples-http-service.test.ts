import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSolveServer } from '../examples/http-service.js';
import { IterativeStudent, type TextGenerator } from '../src/students/index.js';

const steps = (prompt: string): number => prompt.split('\nA: ').length - 1;
const qg: TextGenerator = { generate: async (ps) => ps.map((p) => (steps(p) < 2 ? `Q: step ${steps(p) + 1}?` : '[END]')) };
const qa: TextGenerator = { generate: async (ps) => ps.map((p) => `A: result ${steps(p) + 4}.`) };
const server = createSolveServer(new IterativeStudent(qg, qa));
let base = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('examples/http-service.ts', () => {
  it('streams each step as an NDJSON line, then the answer', async () => {
    const res = await fetch(`${base}/solve`, { method: 'POST', body: JSON.stringify({ question: 'Ann has 3 cats. How many?' }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { type: 'step', subquestion: 'step 1?', solution: 'result 4.' },
      { type: 'step', subquestion: 'step 2?', solution: 'result 5.' },
      { type: 'answer', answer: 5, stoppedBy: 'end-marker' },
    ]);
  });

  it('honours maxSteps and rejects bad requests', async () => {
    const capped = await fetch(`${base}/solve`, { method: 'POST', body: JSON.stringify({ question: 'x', maxSteps: 1 }) });
    const last = JSON.parse((await capped.text()).trim().split('\n').at(-1)!) as { stoppedBy: string };
    expect(last.stoppedBy).toBe('max-steps');
    expect((await fetch(`${base}/solve`, { method: 'POST', body: '{"question":' })).status).toBe(400);
    expect((await fetch(`${base}/solve`, { method: 'POST', body: '{}' })).status).toBe(400);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });
});
