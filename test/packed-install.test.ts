/**
 * What a user gets from the published package: `npm pack`, install the tarball into a fresh project,
 * then run the installed bin (through npm's symlink, as `npx socratic-distill`) and import the package.
 * One install is shared by every assertion in this file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packAndInstall, REPO_ROOT, type PackedInstall } from './helpers/packed.js';

let pkg: PackedInstall;

beforeAll(async () => {
  // The native build has its own test (native-build.test.ts); here it would only cost minutes.
  pkg = await packAndInstall({ env: { SOCRATIC_DISTILL_SKIP_NATIVE: '1', SOCRATIC_SKIP_CUDA: '1' } });
}, 300_000);
afterAll(() => pkg?.remove());

/** The README's runnable command-line block: every line that starts with `npx socratic-distill`. */
async function readmeCommands(): Promise<string[]> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Command line'), readme.indexOf('## Backends and speed'));
  return section.split('\n').filter((l) => l.startsWith('npx socratic-distill '));
}

describe('the installed package', () => {
  it('`npx socratic-distill --help` prints the usage through the npm bin symlink', async () => {
    const r = await pkg.sh('npx socratic-distill --help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: socratic-distill <command> [options]');
    for (const c of ['generate', 'verify', 'train', 'eval', 'solve', 'export', 'demo']) expect(r.stdout).toContain(`  ${c}`);
    const sub = await pkg.sh('npx socratic-distill generate --help');
    expect(sub.stdout).toContain('usage: socratic-distill generate');
  });

  it('generate then verify through the bin write the files they report', async () => {
    const gen = await pkg.sh('npx socratic-distill generate --teacher simulated --dataset synthetic --count 12 --out g.jsonl');
    expect(gen.stderr).toBe('');
    expect(gen.code).toBe(0);
    expect(gen.stdout).toMatch(/^finished: 12\/12 problems done .* 12 chains written to g\.jsonl$/m);
    expect(readFileSync(join(pkg.project, 'g.jsonl'), 'utf8').trim().split('\n')).toHaveLength(12);
    const ver = await pkg.sh('npx socratic-distill verify --dataset synthetic --count 12 --chains g.jsonl --out k.jsonl --json');
    expect(ver.code).toBe(0);
    const stats = JSON.parse(ver.stdout) as { total: number; kept: number; rejected: number };
    expect(stats.total).toBe(12);
    expect(stats.kept + stats.rejected).toBe(12);
    expect(stats.kept).toBeGreaterThan(0);
    const kept = readFileSync(join(pkg.project, 'k.jsonl'), 'utf8').trim().split('\n');
    expect(kept).toHaveLength(stats.kept);
  });

  it('a usage mistake exits non-zero with a one-line message', async () => {
    const r = await pkg.sh('npx socratic-distill generate --teacher simulated --dataset synthetic --count -5 --out x.jsonl');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("socratic-distill generate: --count must be an integer >= 1, got '-5' [CLI_USAGE]");
  });

  it("runs the README's command-line block verbatim (training with a smaller model and fewer steps)", async () => {
    const commands = await readmeCommands();
    expect(commands.map((c) => c.split(/\s+/)[2])).toEqual(['generate', 'verify', 'export', 'train', 'solve', 'eval']);
    for (const line of commands) {
      // Like the README's library snippet test: same command, a budget CI can afford (the last flag wins).
      const cmd = line.includes(' train ') ? `${line} --steps 2 --n-embd 32 --n-layer 1 --n-head 2 --n-positions 256 --batch-size 4` : line;
      const r = await pkg.sh(cmd, { timeoutMs: 180_000 });
      expect(r.code, `${cmd}\n${r.stderr}`).toBe(0);
    }
    for (const f of ['chains.jsonl', 'kept.jsonl', 'train.jsonl', 'students/unified/student.json', 'eval-output/report.html']) {
      expect(existsSync(join(pkg.project, f)), f).toBe(true);
    }
    // vega and vega-lite are optional peers, so a plain install has no charts: the report says how to get them.
    expect(existsSync(join(pkg.project, 'node_modules/vega'))).toBe(false);
    const html = readFileSync(join(pkg.project, 'eval-output/report.html'), 'utf8');
    expect(html).not.toContain('<svg');
    expect(html).toContain('npm install vega vega-lite');
  }, 600_000);

  it('without the optional openai package, --teacher openai fails in one line that says what to install', async () => {
    expect(existsSync(join(pkg.project, 'node_modules/openai'))).toBe(false);
    const r = await pkg.sh('npx socratic-distill generate --teacher openai --base-url http://127.0.0.1:9/v1 --dataset synthetic --count 3 --out o.jsonl');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      "socratic-distill generate: OpenAICompatibleTeacher needs the optional package 'openai', which is not installed; install it with: npm install openai [OPTIONAL_DEPENDENCY_MISSING]",
    );
  });

  it('importing the package runs nothing: no output, no CLI', async () => {
    const r = await pkg.sh(`node --input-type=module -e "const m = await import('socratic-distill'); console.log(typeof m.generateChains)"`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('function\n');
    expect(r.stderr).toBe('');
  });

  it('the subpath entries load from ESM and CommonJS and hand out the same classes as the root', async () => {
    const esm = `const root = await import('socratic-distill'); const t = await import('socratic-distill/teacher'); const d = await import('socratic-distill/data'); const tr = await import('socratic-distill/train'); const ev = await import('socratic-distill/eval'); const b = await import('socratic-distill/backend'); console.log([root.SimulatedTeacher === t.SimulatedTeacher, root.ChainVerifier === d.ChainVerifier, typeof tr.train, root.Evaluator === ev.Evaluator, typeof b.initWeights].join(' '))`;
    const r = await pkg.sh(`node --input-type=module -e "${esm.replace(/"/g, '\\"')}"`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('true true function true function\n');
    const cjs = await pkg.sh(`node -e "const r = require('socratic-distill'); const t = require('socratic-distill/teacher'); console.log(r.OpenAICompatibleTeacher === t.OpenAICompatibleTeacher, r.SimulatedTeacher === t.SimulatedTeacher)"`);
    expect(cjs.stdout).toBe('true true\n');
  });

  it('importing socratic-distill/browser in Node fails with a typed error that names the Node entry', async () => {
    const script = `try { await import('socratic-distill/browser'); console.log('imported'); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }`;
    const r = await pkg.sh(`node --input-type=module -e "${script.replace(/"/g, '\\"')}"`);
    const err = JSON.parse(r.stdout) as { name: string; code: string; message: string };
    expect(err.name).toBe('BackendUnavailableError');
    expect(err.code).toBe('BACKEND_UNAVAILABLE');
    expect(err.message).toContain("import 'socratic-distill'");
    expect(err.message).not.toContain('TextEncoder');
  });

  it('ships every doc the README links to', async () => {
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    const linked = [...new Set([...readme.matchAll(/\]\((docs\/[^)#]+)\)/g)].map((m) => m[1]!))];
    expect(linked.length).toBeGreaterThan(5);
    for (const doc of linked) {
      expect(pkg.files, doc).toContain(doc);
      expect(existsSync(join(pkg.project, 'node_modules/socratic-distill', doc)), doc).toBe(true);
    }
  });
});
