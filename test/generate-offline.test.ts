/** `--write-requests` / `--ingest`: request and result files in vLLM `run-batch`'s format (issue #20, item 2). */
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { generateSynthetic } from '../src/data/index.js';
import { SocraticChainSchema, type SocraticChain } from '../src/data/schema.js';
import { DatasetFormatError, InvalidOptionError } from '../src/errors.js';
import { generateChains, ingestBatchResults, writeBatchRequests } from '../src/generate/index.js';
import { OpenAICompatibleTeacher } from '../src/teacher/index.js';
import { ChainVerifier } from '../src/verify/index.js';
import { FakeOpenAI } from './fixtures-data/fake-openai.js';
import { VllmBatchRequestInput, vllmOutputLine, type VllmOutcome } from './fixtures-data/vllm-batch.js';

const dir = mkdtempSync(join(tmpdir(), 'sd-offline-'));
const MODEL = 'Qwen/Qwen2.5-7B-Instruct';
let live: FakeOpenAI | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await live?.close();
  live = undefined;
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

const readChains = (p: string): SocraticChain[] => (existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => SocraticChainSchema.parse(JSON.parse(l))) : []);
const problems = generateSynthetic({ count: 8, seed: 2 });
const byId = new Map(problems.map((p) => [p.id, p]));
const FLAGS = ['--dataset', 'synthetic', '--count', '8', '--seed', '2', '--samples', '2', '--model', MODEL];

/** What `vllm run-batch` would write for a request file, with an outcome per line. */
function runBatch(requestsPath: string, outcome: (customId: string) => VllmOutcome): string[] {
  return readFileSync(requestsPath, 'utf8').trim().split('\n').map((l) => {
    const request = VllmBatchRequestInput.parse(JSON.parse(l));
    return vllmOutputLine(request, byId.get(request.custom_id.split('#')[0]!), outcome(request.custom_id));
  });
}

describe('--write-requests and --ingest with vLLM run-batch files', () => {
  it('writes lines vLLM accepts and reads its output back: chains, failures, unknown ids and a torn last line', async () => {
    const requests = join(dir, 'requests.jsonl');
    const w = await cli(['generate', ...FLAGS, '--write-requests', requests]);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toContain(`wrote 16 request lines to ${requests}`);
    expect(w.stdout).toContain(`vllm run-batch -i ${requests} -o results.jsonl --model ${MODEL}`);
    const lines = readFileSync(requests, 'utf8').trim().split('\n').map((l) => VllmBatchRequestInput.parse(JSON.parse(l)));
    expect(lines.map((l) => l.custom_id)).toEqual(problems.flatMap((p) => [`${p.id}#0`, `${p.id}#1`]));
    expect(lines.every((l) => l.method === 'POST' && l.body.model === MODEL && l.body.max_tokens === 512 && l.body.temperature === 0.7)).toBe(true);

    const outcomes: Record<string, VllmOutcome> = { [`${problems[1]!.id}#1`]: 'error-string', [`${problems[3]!.id}#0`]: 'error-response', [`${problems[5]!.id}#0`]: 'off-format' };
    const output = runBatch(requests, (id) => outcomes[id] ?? 'ok');
    const unknownLine = vllmOutputLine({ ...lines[0]!, custom_id: 'not-a-problem#0' }, problems[0], 'ok');
    const torn = output.at(-1)!.slice(0, 90);
    const results = join(dir, 'results.jsonl');
    writeFileSync(results, [...output.slice(0, 4), unknownLine, ...output.slice(4, -1), torn].join('\n'));
    const out = join(dir, 'chains.jsonl');
    const first = await cli(['generate', ...FLAGS, '--ingest', results, '--out', out]);
    expect(first.code).toBe(1);
    expect(first.stdout).toContain(`ingested ${results}: 16 lines, 12 chains written to ${out}, 3 failed lines`);
    expect(first.stdout).toContain("1 lines with unknown custom_ids skipped (line 5: 'not-a-problem#0')");
    expect(first.stdout).toMatch(/the last line \(line 17, 90 bytes\) is cut off mid-record: skipped/);
    expect(first.stdout).toContain('tokens: 1,300 prompt + 260 completion, from the response bodies of the lines ingested');
    expect(first.stdout).toContain('4 samples still missing');
    const failures = JSON.parse(readFileSync(`${out}.failures.json`, 'utf8')) as { failures: { customId: string; kind: string; reason: string; status?: number }[] };
    expect(failures.failures.map((f) => [f.customId, f.kind, f.status])).toEqual([
      [`${problems[1]!.id}#1`, 'client', 400], [`${problems[3]!.id}#0`, 'client', 400], [`${problems[5]!.id}#0`, 'off-format', 200],
    ]);
    expect(failures.failures[0]!.reason).toMatch(/maximum context length is 2048 tokens/);
    expect(failures.failures[1]!.reason).toMatch(/^400: This model's maximum context length/);

    // Ingesting the same file again adds nothing.
    const before = readFileSync(out, 'utf8');
    const again = await cli(['generate', ...FLAGS, '--ingest', results, '--out', out, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ chainsWritten: 0, duplicates: 12 });
    expect(readFileSync(out, 'utf8')).toBe(before);

    // Once the engine finishes the last line, and a rerun answers the failed ones, every sample is there once.
    const wrong = await cli(['generate', ...FLAGS.slice(0, -1), 'gpt-4o-mini', '--ingest', results, '--out', out]);
    expect(wrong.stderr).toContain(`--model must name the model that answered: ${results} has replies from '${MODEL}', but the teacher's model is 'gpt-4o-mini' [CLI_USAGE]`);
    const requests2 = join(dir, 'requests2.jsonl');
    await cli(['generate', ...FLAGS, '--write-requests', requests2, '--out', out]);
    expect(readFileSync(requests2, 'utf8').trim().split('\n')).toHaveLength(4);
    const results2 = join(dir, 'results2.jsonl');
    writeFileSync(results2, runBatch(requests2, () => 'ok').join('\n') + '\n');
    const last = await cli(['generate', ...FLAGS, '--ingest', results2, '--out', out, '--json']);
    expect(last.code).toBe(0);
    expect(JSON.parse(last.stdout)).toMatchObject({ chainsWritten: 4, missing: 0, failed: [] });
    expect(existsSync(`${out}.failures.json`)).toBe(false);
    const keys = readChains(out).map((c) => `${c.problemId}#${c.teacher.sampleIndex}`);
    expect(keys.sort()).toEqual(lines.map((l) => l.custom_id).sort());
    expect(new ChainVerifier({ checkArithmetic: true }).verifyAll(readChains(out), problems).stats.kept).toBe(16);
  });

  it('ingested chains equal the live path\'s for the same replies; the wrong --model or a corrupt line is refused before writing', async () => {
    const teacher = new OpenAICompatibleTeacher({ model: MODEL, apiKey: 'unused' });
    const requests = join(dir, 'lib-requests.jsonl');
    expect(await writeBatchRequests({ teacher, problems, path: requests, samplesPerProblem: 2 })).toEqual({ path: requests, requests: 16, alreadyDone: 0 });
    const results = join(dir, 'lib-results.jsonl');
    writeFileSync(results, runBatch(requests, () => 'ok').join('\n') + '\n');
    const out = join(dir, 'lib-chains.jsonl');
    const s = await ingestBatchResults({ teacher, problems, results, out, samplesPerProblem: 2, pricing: { promptPerMillion: 1, completionPerMillion: 2 } });
    expect(s).toMatchObject({ chainsWritten: 16, missing: 0, usage: { promptTokens: 1600, completionTokens: 320 }, pricing: { source: 'given by the caller' } });

    live = await new FakeOpenAI({ problems }).start();
    const liveOut = join(dir, 'lib-live.jsonl');
    await generateChains({ teacher: new OpenAICompatibleTeacher({ baseURL: live.baseURL, model: MODEL, apiKey: 'unused' }), problems, out: liveOut, samplesPerProblem: 2, concurrency: 1 });
    expect(readChains(out)).toEqual(readChains(liveOut));

    const wrong = new OpenAICompatibleTeacher({ model: 'gpt-4o-mini', apiKey: 'unused' });
    const other = join(dir, 'lib-wrong.jsonl');
    const err = await ingestBatchResults({ teacher: wrong, problems, results, out: other, samplesPerProblem: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as Error).message).toContain(`has replies from '${MODEL}', but the teacher's model is 'gpt-4o-mini'`);
    expect(existsSync(other)).toBe(false);

    const corrupt = join(dir, 'lib-corrupt.jsonl');
    const text = readFileSync(results, 'utf8').split('\n');
    writeFileSync(corrupt, [text[0], '{"custom_id": ', ...text.slice(1)].join('\n'));
    const bad = await ingestBatchResults({ teacher, problems, results: corrupt, out: other, samplesPerProblem: 2 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(DatasetFormatError);
    expect((bad as Error).message).toMatch(/lib-corrupt\.jsonl:2: invalid JSON/);
    expect(existsSync(other)).toBe(false);
  });
});
