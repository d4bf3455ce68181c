import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');

/** The README's library snippet must run as written (only its import path and step count are adapted). */
describe('README', () => {
  it('the "Using the library" snippet runs end to end', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const match = /## Using the library\n\n```ts\n([\s\S]*?)```/.exec(readme);
    expect(match, 'README has a ts snippet under "Using the library"').not.toBeNull();
    const code = match![1]!
      .replace("from 'socratic-distill'", `from ${JSON.stringify(join(ROOT, 'src/index.ts'))}`)
      .replace(/maxSteps: \d+, lr/, 'maxSteps: 10, lr');
    const dir = await mkdtemp(join(ROOT, '.tmp-readme-'));
    const file = join(dir, 'snippet.mts');
    await writeFile(file, code);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, timeout: 240_000 }).finally(() =>
      rm(dir, { recursive: true, force: true }),
    );
    expect(stdout).toMatch(/total: 500/);
    expect(stdout).toMatch(/kept: \d+/);
    expect(stdout).toMatch(/using (native-cpu|tfjs-wasm|tfjs-cpu)/);
  });
});
