import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSynthetic, type Problem, type SocraticChain } from '../src/data/index.js';
import { DatasetFormatError, OutputLockedError } from '../src/errors.js';
import { generateChains } from '../src/generate/index.js';
import { SimulatedTeacher, type TeacherClient } from '../src/teacher/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sd-resume-'));
const read = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SocraticChain);

describe('generateChains resume details', () => {
  const problems = generateSynthetic({ count: 40, seed: 9 });
  const teacher = new SimulatedTeacher({ errorRate: 0.3, seed: 2 });

  it('fills only the missing samples of partly done problems, with the same content as an uninterrupted run', async () => {
    const full = join(dir, 'full.jsonl');
    await generateChains({ teacher, problems, out: full, samplesPerProblem: 3, concurrency: 3 });
    const reference = read(full);
    expect(reference).toHaveLength(120);
    // A file holding only some samples: problem 0 has samples 0 and 2, problem 1 has sample 1.
    const partial = join(dir, 'partial.jsonl');
    const pick = (id: string, i: number) => reference.find((c) => c.problemId === id && c.teacher.sampleIndex === i)!;
    writeFileSync(partial, [pick(problems[0]!.id, 0), pick(problems[0]!.id, 2), pick(problems[1]!.id, 1)].map((c) => JSON.stringify(c)).join('\n') + '\n');
    const s = await generateChains({ teacher, problems, out: partial, samplesPerProblem: 3, concurrency: 3 });
    expect([s.alreadyDone, s.completed, s.chainsWritten]).toEqual([0, 40, 117]);
    const key = (c: SocraticChain) => `${c.problemId}#${c.teacher.sampleIndex}`;
    const got = read(partial);
    expect(new Set(got.map(key)).size).toBe(120);
    const byKey = new Map(reference.map((c) => [key(c), c]));
    for (const c of got) expect(c).toEqual(byKey.get(key(c)));
    // Nothing left to do on a third run.
    const again = await generateChains({ teacher, problems, out: partial, samplesPerProblem: 3 });
    expect([again.alreadyDone, again.completed, again.chainsWritten]).toEqual([40, 0, 0]);
  });

  it('treats a bad line before the end as corruption, naming the line; a complete last line without newline is kept', async () => {
    const out = join(dir, 'corrupt.jsonl');
    await generateChains({ teacher, problems: problems.slice(0, 5), out });
    const lines = readFileSync(out, 'utf8').split('\n');
    writeFileSync(out, [lines[0], lines[1], 'garbage', lines[2]].join('\n') + '\n');
    const err = await generateChains({ teacher, problems, out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetFormatError);
    expect((err as Error).message).toMatch(/corrupt\.jsonl:3: invalid JSON/);

    const noNewline = join(dir, 'nonewline.jsonl');
    writeFileSync(noNewline, [lines[0], lines[1]].join('\n'));
    const s = await generateChains({ teacher, problems: problems.slice(0, 5), out: noNewline });
    expect([s.alreadyDone, s.completed, s.repairedTruncatedBytes]).toEqual([2, 3, 0]);
    expect(read(noNewline).map((c) => c.problemId)).toEqual(expect.arrayContaining(problems.slice(0, 5).map((p) => p.id)));
    expect(read(noNewline)).toHaveLength(5);
  });

  it('records a teacher whose sample is malformed or that throws a plain error, and rejects duplicate problem ids', async () => {
    // A user's teacher only answers one sample; content the chain schema rejects is a recorded failure, never a write.
    const sloppy: TeacherClient = {
      id: 'sloppy',
      sample: async (p: Problem, request) => {
        if (p.id === problems[1]!.id) throw new Error('the model server is misconfigured');
        const good = await teacher.sample(p, request);
        return { ...good, steps: good.steps.map((s) => ({ ...s, subquestion: '' })) };
      },
    };
    const out = join(dir, 'sloppy.jsonl');
    const s = await generateChains({ teacher: sloppy, problems: problems.slice(0, 2), out });
    const byId = Object.fromEntries(s.failed.map((f) => [f.problemId, f]));
    expect(byId[problems[0]!.id]).toMatchObject({ kind: 'client', attempts: 1 });
    expect(byId[problems[0]!.id]!.reason).toMatch(/subquestion/);
    expect(byId[problems[1]!.id]).toMatchObject({ kind: 'client', attempts: 1, reason: 'the model server is misconfigured' });
    expect(existsSync(out) ? readFileSync(out, 'utf8') : '').toBe('');
    await expect(generateChains({ teacher, problems: [problems[0]!, problems[0]!], out: join(dir, 'dup.jsonl') })).rejects.toThrow(/duplicate problem id/);
  });

  it('refuses a second concurrent run on the same file, and takes over a lock left by a dead process', async () => {
    const out = join(dir, 'locked.jsonl');
    const slow = new SimulatedTeacher({ latencyMs: 20 });
    const first = generateChains({ teacher: slow, problems, out, concurrency: 1 });
    await new Promise((r) => setTimeout(r, 50));
    await expect(generateChains({ teacher: slow, problems, out })).rejects.toBeInstanceOf(OutputLockedError);
    await first;
    expect(read(out)).toHaveLength(40);
    // A pid that has exited (like a SIGKILLed run) does not block.
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.on('close', r));
    writeFileSync(`${out}.lock`, String(dead.pid));
    appendFileSync(out, '');
    const s = await generateChains({ teacher: slow, problems, out });
    expect(s.alreadyDone).toBe(40);
    expect(existsSync(`${out}.lock`)).toBe(false);
  });
});
