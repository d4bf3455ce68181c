import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { command } from '../src/cli/commands/generate.js';
import { CliUsageError } from '../src/cli/usage-error.js';

const dir = mkdtempSync(join(tmpdir(), 'sd-gen-family-'));

describe('generate --dataset synthetic --family', () => {
  it('asks the simulated teacher about problems of the chosen family', async () => {
    const out = join(dir, 'planning.jsonl');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const code = await command.run(['--teacher', 'simulated', '--dataset', 'synthetic', '--family', 'planning', '--people', '3', '--count', '12', '--seed', '4', '--error-rate', '0', '--out', out, '--json']);
      expect(code).toBe(0);
    } finally {
      write.mockRestore();
    }
    const ids = readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { problemId: string }).problemId);
    expect(ids).toHaveLength(12);
    expect(ids.every((id) => id.startsWith('synthetic-planning-4-'))).toBe(true);
  });

  it('rejects unknown families, bad family options and family flags on other datasets', async () => {
    const out = join(dir, 'x.jsonl');
    const base = ['--teacher', 'simulated', '--out', out];
    await expect(command.run([...base, '--dataset', 'synthetic', '--family', 'hard'])).rejects.toThrow(/--family must be chain\|long/);
    await expect(command.run([...base, '--dataset', 'synthetic', '--family', 'entities', '--people', '5'])).rejects.toThrow(CliUsageError);
    await expect(command.run([...base, '--dataset', 'gsm8k', '--data', dir, '--family', 'long'])).rejects.toThrow(/need --dataset synthetic/);
  });
});
