/** Without the optional `openai` package, an OpenAI teacher stops the run with a typed error that says what to install (issue #15, item 6). */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { generateSynthetic } from '../src/data/index.js';
import { OptionalDependencyError } from '../src/errors.js';
import { generateChains, generateChainsBatch } from '../src/generate/index.js';
import { OpenAICompatibleTeacher } from '../src/teacher/index.js';

// What Node throws when a package is not installed.
vi.mock('openai', () => {
  throw Object.assign(new Error("Cannot find package 'openai' imported from /project/node_modules/socratic-distill/dist/index.js"), { code: 'ERR_MODULE_NOT_FOUND' });
});

describe('OpenAICompatibleTeacher without the openai package', () => {
  it('constructs (the SDK loads on the first request), then fails with OptionalDependencyError naming the package', async () => {
    const teacher = new OpenAICompatibleTeacher({ baseURL: 'http://127.0.0.1:9/v1', apiKey: 'k' });
    expect(teacher.id).toBe('openai');
    const err = await teacher.decompose(generateSynthetic({ count: 1, seed: 0 })[0]!).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptionalDependencyError);
    expect(err).toMatchObject({ code: 'OPTIONAL_DEPENDENCY_MISSING', packages: ['openai'], feature: 'OpenAICompatibleTeacher' });
    expect((err as Error).message).toBe("OpenAICompatibleTeacher needs the optional package 'openai', which is not installed; install it with: npm install openai");
  });

  it('generateChains stops with that error instead of listing every problem as failed, and writes no chains', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sd-nopeer-')), 'chains.jsonl');
    const teacher = new OpenAICompatibleTeacher({ baseURL: 'http://127.0.0.1:9/v1', apiKey: 'k' });
    const problems = generateSynthetic({ count: 20, seed: 1 });
    await expect(generateChains({ teacher, problems, out, concurrency: 4, retry: { baseDelayMs: 1 } })).rejects.toBeInstanceOf(OptionalDependencyError);
    expect(existsSync(out) ? readFileSync(out, 'utf8') : '').toBe('');
    expect(existsSync(`${out}.failures.json`)).toBe(false);
    expect(existsSync(`${out}.lock`)).toBe(false);
  });

  it('generateChainsBatch stops with that error as well, before any chain, failure list or batch', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sd-nopeer-batch-')), 'chains.jsonl');
    const teacher = new OpenAICompatibleTeacher({ baseURL: 'http://127.0.0.1:9/v1', apiKey: 'k' });
    const problems = generateSynthetic({ count: 5, seed: 1 });
    await expect(generateChainsBatch({ teacher, problems, out, retry: { baseDelayMs: 1 } })).rejects.toBeInstanceOf(OptionalDependencyError);
    expect(existsSync(out) ? readFileSync(out, 'utf8') : '').toBe('');
    expect(existsSync(`${out}.failures.json`)).toBe(false);
    expect(existsSync(`${out}.lock`)).toBe(false);
    // The plan was recorded, never uploaded: the next run (with the package installed) plans again.
    expect(JSON.parse(readFileSync(`${out}.batch.json`, 'utf8')).current).toMatchObject({ requests: 5 });
    expect(JSON.parse(readFileSync(`${out}.batch.json`, 'utf8')).current.inputFileId).toBeUndefined();
  });
});
