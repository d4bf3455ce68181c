/**
 * A small HTTP service that embeds a student and streams its reasoning as NDJSON through
 * solveStreaming (the same events as the browser's): one {"type":"step",...} line per
 * (subquestion, solution) as soon as it is generated, then one {"type":"answer",...} line.
 *
 *   STUDENT_DIR=./my-iterative-student npx tsx examples/http-service.ts
 *   curl -N -X POST localhost:8787/solve -d '{"question":"Ann has 3 cats. She gets 2 more. How many cats does Ann have now?"}'
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { loadStudent, solveStreaming, userProblem, type StreamingSolver } from '../src/students/index.js';

const SolveRequestSchema = z.object({ question: z.string().min(1).max(4000), maxSteps: z.number().int().min(1).max(16).optional() });

async function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** An http.Server with POST /solve (NDJSON stream) and GET /health. The student is used one request at a time. */
export function createSolveServer(student: Pick<StreamingSolver, 'solve'>): Server {
  let queue: Promise<unknown> = Promise.resolve();
  return createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return;
    }
    if (req.method !== 'POST' || req.url !== '/solve') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"POST /solve or GET /health"}');
      return;
    }
    const job = async (): Promise<void> => {
      let body: z.infer<typeof SolveRequestSchema>;
      try {
        const parsed = SolveRequestSchema.safeParse(JSON.parse(await readBody(req)));
        if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? 'invalid body');
        body = parsed.data;
      } catch (err) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (err as Error).message }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
      const problem = userProblem(body.question, { id: 'http', dataset: 'custom' });
      for await (const event of solveStreaming(student, problem, { maxSteps: body.maxSteps })) {
        if (event.type === 'step') res.write(JSON.stringify({ type: 'step', subquestion: event.step.subquestion, solution: event.step.solution }) + '\n');
        else res.end(JSON.stringify({ type: 'answer', answer: event.solution.answer, stoppedBy: event.solution.stoppedBy }) + '\n');
      }
    };
    // One model, one request at a time: queue requests instead of interleaving decodes.
    queue = queue.then(job).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: (err as Error).message }) + '\n');
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.env.STUDENT_DIR;
  if (!dir) {
    console.error('set STUDENT_DIR to a student directory, e.g. an Iterative one (socratic-distill train --student iterative ... --out <dir>)');
    process.exit(2);
  }
  const student = await loadStudent(dir);
  const port = Number(process.env.PORT ?? 8787);
  createSolveServer(student).listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}/solve`));
}
