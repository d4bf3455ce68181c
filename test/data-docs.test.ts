import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'sd-docs-'));

/** The ```ts run blocks of a doc, with the package import pointed at this checkout. */
function snippets(doc: string): string[] {
  const text = readFileSync(join(ROOT, 'docs', doc), 'utf8');
  return [...text.matchAll(/```ts run\n([\s\S]*?)```/g)].map((m) => m[1]!.replaceAll("from 'socratic-distill'", `from '${join(ROOT, 'src/index.ts')}'`));
}

describe('runnable snippets in docs', () => {
  for (const doc of ['data.md', 'teachers.md']) {
    it(`every \`ts run\` block in docs/${doc} runs`, () => {
      const blocks = snippets(doc);
      expect(blocks.length).toBeGreaterThanOrEqual(doc === 'data.md' ? 4 : 2);
      blocks.forEach((code, i) => {
        const file = join(dir, `${doc}-${i}.mts`);
        writeFileSync(file, code);
        const out = execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        expect(out.length).toBeGreaterThan(0);
      });
    });
  }
});
