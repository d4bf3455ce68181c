/**
 * The intended layering (issue #15): students and the trainer reach a core only through the GPT2
 * model, arch/ sits below the cores, and data/ sits below verify/. Checked on the import statements
 * of the source files themselves, so a new import that breaks a rule fails here. The whole table of
 * docs/architecture.md is checked too: every folder imports only the layers its row allows.
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

  it('students/, train/ and arch/ never import backend/ (they use the model)', () => {
    expect(violations(['src/students', 'src/train', 'src/arch'], 'backend')).toEqual([]);
  });

  it("no file outside src/model/ reads a model's core (it is private; the trainer uses model.training)", () => {
    // backend/ is the core itself (its own `.core` names are labels, not a model's core).
    const outside = readdirSync(join(ROOT, 'src'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'model' && d.name !== 'backend')
      .flatMap((d) => sourceFiles(join('src', d.name)))
      .concat(['src/index.ts', 'src/errors.ts']);
    const reads = outside.flatMap((file) =>
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .map((line, i) => ({ line, at: `${file}:${i + 1}` }))
        .filter(({ line }) => CORE_ACCESS.test(line.replace(/\/\/.*$/, '')))
        .map(({ at, line }) => `${at}: ${line.trim()}`),
    );
    expect(reads).toEqual([]);
    // The scanner itself: it sees property reads, optional chains and bracket access, not words such as `score`.
    expect(['m.core.loss(b)', 'x?.core', "m['core']", 'const { core } = model'].map((l) => CORE_ACCESS.test(l))).toEqual([true, true, true, true]);
    expect(['score.core2', 'this.scores', 'coreCount', 'const core = model.training'].map((l) => CORE_ACCESS.test(l))).toEqual([false, false, false, false]);
  });

  it('data/ never imports verify/ (verify/ builds on data/)', () => {
    expect(violations(['src/data'], 'verify')).toEqual([]);
  });

  it('every folder under src/ imports only what its row in docs/architecture.md allows', () => {
    const violationsOfTable = Object.entries(ALLOWED).flatMap(([from, allowed]) =>
      filesOf(from).flatMap((file) =>
        importedAreas(file)
          .map((i) => ({ ...i, area: i.area.replace(/\.(ts|js)$/, '') }))
          .filter((i) => i.area !== from && !allowed.includes(i.area))
          .map((i) => `${file} imports ${i.specifier} (${from} may import: ${allowed.join(', ') || 'nothing'})`),
      ),
    );
    expect(violationsOfTable).toEqual([]);
    // Every folder has a row: a new folder must be placed in the layering on purpose.
    const folders = readdirSync(join(ROOT, 'src'), { withFileTypes: true }).map((d) => (d.isDirectory() ? d.name : d.name.replace(/\.ts$/, '')));
    expect(folders.filter((f) => !(f in ALLOWED))).toEqual([]);
  });

  it('docs/architecture.md names every folder of the table', () => {
    const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    expect(Object.keys(ALLOWED).filter((f) => !doc.includes(f === 'index' || f === 'errors' ? `${f}.ts` : `${f}/`))).toEqual([]);
  });
});

/** A read of a `core` property: `.core`, `?.core`, `['core']`, or a destructuring `{ core }`. */
const CORE_ACCESS = /\??\.core\b|\[\s*['"`]core['"`]\s*\]|\{[^}]*\bcore\b[^}]*\}\s*=/;

const LEAVES = ['io', 'util', 'errors'];
const PURE = ['generate', 'teacher', 'verify', 'data', 'tokenizer', ...LEAVES];
/** Each folder (or top-level file) of src/ and the folders it may import: the table of docs/architecture.md. */
const ALLOWED: Record<string, readonly string[]> = {
  index: ['reproduce', 'demo', 'eval', 'students', 'train', 'format', 'model', 'backend', 'arch', ...PURE],
  api: ['reproduce', 'demo', 'eval', 'students', 'train', 'format', 'model', 'backend', 'arch', ...PURE],
  cli: ['reproduce', 'demo', 'eval', 'students', 'train', 'format', 'model', 'backend', 'arch', ...PURE],
  browser: ['students', 'format', 'model', 'backend', 'arch', 'data', 'tokenizer', ...LEAVES],
  reproduce: ['demo', 'eval', 'students', 'train', 'format', 'model', 'backend', 'arch', ...PURE],
  demo: ['eval', 'students', 'train', 'format', 'model', 'backend', 'arch', ...PURE],
  eval: ['students', 'format', 'verify', 'data', 'tokenizer', ...LEAVES],
  students: ['train', 'format', 'model', 'arch', 'verify', 'data', 'tokenizer', ...LEAVES],
  train: ['format', 'model', 'arch', 'tokenizer', ...LEAVES],
  format: ['verify', 'data', ...LEAVES],
  model: ['backend', 'arch', 'tokenizer', ...LEAVES],
  backend: ['arch', ...LEAVES],
  arch: ['util', 'errors'],
  generate: ['teacher', 'verify', 'data', ...LEAVES],
  teacher: ['verify', 'data', ...LEAVES],
  verify: ['data', ...LEAVES],
  data: LEAVES,
  tokenizer: LEAVES,
  io: ['arch', 'util', 'errors'],
  util: ['errors'],
  // errors.ts names one type of data/schema (the usage a failed teacher call still bills): `import type` only.
  errors: ['data'],
};

/** The .ts files of a src/ folder, or the one top-level file `src/<name>.ts`. */
function filesOf(name: string): string[] {
  try {
    return sourceFiles(join('src', name));
  } catch {
    return [join('src', `${name}.ts`)];
  }
}

