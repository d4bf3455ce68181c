import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');

/**
 * The README's library snippet, fast: from the source tree with 10 training steps instead of its budget, so a
 * change that breaks it fails here in seconds. The packed-package test (packed-install.test.ts) runs it
 * verbatim and checks the accuracy the README states.
 */
describe('README', () => {
  it('the "Using the library" snippet is plain JavaScript and runs end to end', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const match = /## Using the library\n[\s\S]*?```js\n([\s\S]*?)```/.exec(readme);
    expect(match, 'README has a js snippet under "Using the library"').not.toBeNull();
    const snippet = match![1]!;
    // Plain JavaScript, as the README says: no TypeScript-only syntax (non-null `!`, type annotations, `as`).
    expect(snippet.replace(/\/\/.*$/gm, '')).not.toMatch(/[\w\])]!\.|[\w\])]!;|: (string|number|boolean)\b| as [A-Z]/);
    const code = snippet
      .replace("from 'socratic-distill'", `from ${JSON.stringify(join(ROOT, 'src/index.ts'))}`)
      .replace(/maxSteps: \d+, lr/, 'maxSteps: 10, lr');
    expect(code).toContain('maxSteps: 10, lr');
    const dir = await mkdtemp(join(ROOT, '.tmp-readme-'));
    const file = join(dir, 'snippet.mjs');
    await writeFile(file, code);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, timeout: 240_000 }).finally(() =>
      rm(dir, { recursive: true, force: true }),
    );
    expect(stdout).toMatch(/total: 8000/);
    expect(stdout).toMatch(/kept: \d+/);
    expect(stdout).toMatch(/using (native-cpu|tfjs-wasm|tfjs-cpu)/);
    expect(stdout).toMatch(/^held-out accuracy: \d+\.\d%$/m);
    expect(stdout).toMatch(/^#### \S+ \(gold \d+\)$/m);
  }, 300_000);
});
