import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Problem } from '../../src/data/schema.js';
import { LocalHttpServer } from './local-http.js';

export type Fault = '429' | '500' | '503' | 'hang' | 'reset' | 'truncated' | 'off-format' | '401-echo';

export interface FakeServerOptions {
  problems: readonly Problem[];
  /** Faults to inject for a problem on its Nth request (0-based); later requests succeed. */
  faultsFor?: (problem: Problem, attempt: number) => Fault | undefined;
  retryAfterSeconds?: number;
  /** Delay before every answer, to keep requests in flight. */
  delayMs?: number;
}

export interface RequestLog {
  problemId: string;
  attempt: number;
  at: number;
  fault: Fault | undefined;
  authorization: string | undefined;
}

/**
 * A real HTTP server on 127.0.0.1:<ephemeral> that speaks the chat-completions
 * API. It answers with the problem's gold decomposition in the Q/A format the
 * prompt asks for, after injecting the scheduled faults.
 */
export class FakeOpenAI extends LocalHttpServer {
  readonly log: RequestLog[] = [];
  private readonly byQuestion = new Map<string, Problem>();
  private readonly attempts = new Map<string, number>();

  constructor(private readonly options: FakeServerOptions) {
    super();
    for (const p of options.problems) this.byQuestion.set(p.question, p);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    const request = JSON.parse(body) as { model: string; messages: { role: string; content: string }[] };
    const last = request.messages.at(-1)!.content;
    const question = last.replace(/^(?:Facts: .*\n)?Question: /s, '');
    const problem = this.byQuestion.get(question);
    if (!problem) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `unknown question` } }));
      return;
    }
    const attempt = this.attempts.get(problem.id) ?? 0;
    this.attempts.set(problem.id, attempt + 1);
    const fault = this.options.faultsFor?.(problem, attempt);
    const auth = req.headers.authorization;
    this.log.push({ problemId: problem.id, attempt, at: Date.now(), fault, authorization: auth });
    const json = (status: number, payload: unknown, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(payload));
    switch (fault) {
      case '429':
        return void json(429, { error: { message: 'Rate limit reached', type: 'requests' } }, { 'retry-after': String(this.options.retryAfterSeconds ?? 1) });
      case '500':
      case '503':
        return void json(Number(fault), { error: { message: 'upstream overloaded' } });
      case 'hang':
        return; // never answer; the client must time out
      case 'reset':
        req.socket.destroy();
        return;
      case '401-echo':
        return void json(401, { error: { message: `Incorrect API key provided: ${auth?.replace('Bearer ', '')}` } });
      default:
        break;
    }
    if (this.options.delayMs) await new Promise((r) => setTimeout(r, this.options.delayMs));
    const content = fault === 'off-format' ? 'I am not sure, sorry.' : solution(problem);
    const payload = JSON.stringify({
      id: `chatcmpl-${problem.id}-${attempt}`,
      object: 'chat.completion',
      created: 0,
      model: request.model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
    });
    if (fault === 'truncated') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(payload.slice(0, Math.floor(payload.length / 2)));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(payload);
  }
}

function solution(problem: Problem): string {
  const steps = (problem.meta?.goldSteps ?? []) as { subquestion: string; solution: string }[];
  return [...steps.flatMap((s, i) => [`Q${i + 1}: ${s.subquestion}`, `A${i + 1}: ${s.solution}`]), `Final answer: ${String(problem.answer)}`].join('\n');
}
