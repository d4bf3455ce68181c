/**
 * The intended layering (issue #15): students and the trainer reach a core only through the GPT2
 * model, arch/ sits below the cores, and data/ sits below verify/. Checked on the import statements
 * of the source files themselves, so a new import that breaks a rule fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

/** Every module specifier of a file: static imports, re-exports and dynamic import() calls. */
function importSpecifiers(source: string): string[] {
  const patterns = [
    /^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/gm, // import x from '…', export { x } from '…' (also multi-line)
    /^\s*import\s*['"]([^'"]+)['"]/gm, // import '…' (side effects)
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, // await import('…')
  ];
  return patterns.flatMap((re) => [...source.matchAll(re)].map((m) => m[1]!));
}

/** The src/-relative folders a file's relative imports land in (`backend/types.js` -> `backend`). */
function importedAreas(file: string): Array<{ specifier: string; area: string }> {
  return importSpecifiers(readFileSync(join(ROOT, file), 'utf8'))
    .filter((s) => s.startsWith('.'))
    .map((specifier) => ({ specifier, area: relative(join(ROOT, 'src'), resolve(join(ROOT, dirname(file)), specifier)).split(/[\\/]/)[0]! }));
}

function violations(dirs: readonly string[], forbidden: string): string[] {
  return dirs.flatMap(sourceFiles).flatMap((file) => importedAreas(file).filter((i) => i.area === forbidden).map((i) => `${file} imports ${i.specifier}`));
}

describe('layering', () => {
  it('finds imports of every form (the scanner itself)', () => {
    const src = `import type { A } from '../backend/types.js';\nimport {\n  b,\n  c,\n} from '../verify/answer.js';\nexport { d } from './d.js';\nimport './side.js';\nconst m = await import('../backend/select.js');`;
    expect(importSpecifiers(src).sort()).toEqual(['../backend/select.js', '../backend/types.js', '../verify/answer.js', './d.js', './side.js']);
    // And on a real file that is allowed to reach the cores: the model wraps one.
    expect(importedAreas('src/model/gpt2.ts').map((i) => i.area)).toContain('backend');
  });

  it('students/, train/ and arch/ never import backend/ (they use the GPT2 model)', () => {
    expect(violations(['src/students', 'src/train', 'src/arch'], 'backend')).toEqual([]);
  });

  it('data/ never imports verify/ (verify/ builds on data/)', () => {
    expect(violations(['src/data'], 'verify')).toEqual([]);
  });
});
