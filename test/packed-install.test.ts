/**
 * What a user gets from the published package: `npm pack`, install the tarball into a fresh project,
 * then run the installed bin (through npm's symlink, as `npx socratic-distill`) and import the package.
 * One install is shared by every assertion in this file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { hasSharedData, SHARED_DATA } from './fixtures-data/shared.js';
import { FIXTURE_DIR, hasFixtures } from './helpers/fixtures.js';
import { packAndInstall, REPO_ROOT, type PackedInstall } from './helpers/packed.js';

const run = promisify(execFile);

let pkg: PackedInstall;

beforeAll(async () => {
  // The native build has its own test (native-build.test.ts); here it would only cost minutes.
  pkg = await packAndInstall({ env: { SOCRATIC_DISTILL_SKIP_NATIVE: '1', SOCRATIC_SKIP_CUDA: '1' } });
}, 300_000);
afterAll(() => pkg?.remove());

/** The README's runnable command-line block: the ```sh block of the Command line section that runs `generate`. */
async function readmeCliBlock(): Promise<string> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Command line'), readme.indexOf('## Backends and speed'));
  const block = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('socratic-distill generate'));
  if (!block) throw new Error('README: no ```sh block with `socratic-distill generate` under "## Command line"');
  return block;
}

/** The README's library snippet: the ```js block under "## Using the library". */
async function readmeSnippet(): Promise<string> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const m = /## Using the library\n[\s\S]*?```js\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README: no ```js block under "## Using the library"');
  return m[1]!;
}

/** The accuracy a README line promises: `expect about NN%`. */
function statedAccuracy(line: string): number {
  const m = /expect about (\d+(?:\.\d+)?)%/.exec(line);
  if (!m) throw new Error(`README line states no accuracy ("expect about NN%"): ${line}`);
  return Number(m[1]);
}

/** How far a measured accuracy may fall from the README's figure (points): the README says the same. */
const ACCURACY_MARGIN = 10;

/**
 * The README walkthroughs train for real, so they need the native core. This install skipped compiling it to save
 * minutes; the addon that `npm rebuild socratic-distill` (the README's second install line) would build from these
 * same sources is the repository's own build, so it is copied in place of that rebuild. Without one, skip.
 */
const BUILT_ADDON = join(REPO_ROOT, 'build/Release/socratic_native.node');
const HAS_ADDON = existsSync(BUILT_ADDON);
if (!HAS_ADDON) console.warn('packed-install: the README walkthroughs are skipped: no native build (run `node native/build.mjs --strict`)');

async function installBuiltAddon(): Promise<void> {
  const dest = join(pkg.project, 'node_modules/socratic-distill/build/Release');
  await mkdir(dest, { recursive: true });
  await copyFile(BUILT_ADDON, join(dest, 'socratic_native.node'));
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

  it.skipIf(!HAS_ADDON)("runs the README's command-line block verbatim, and its student scores what the README says", async () => {
    const block = await readmeCliBlock();
    expect(block.match(/^npx socratic-distill \w+/gm)!.map((c) => c.split(' ')[2])).toEqual(['generate', 'verify', 'export', 'train', 'solve', 'eval']);
    await installBuiltAddon();
    await writeFile(join(pkg.project, 'walkthrough.sh'), block);
    const r = await pkg.sh('sh -e walkthrough.sh', { timeoutMs: 900_000 });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).not.toContain('note: the loss is still high');
    expect(r.stdout).not.toContain('stopped: the student began repeating itself');
    for (const f of ['chains.jsonl', 'kept.jsonl', 'train.jsonl', 'students/unified/student.json', 'eval-output/report.html']) {
      expect(existsSync(join(pkg.project, f)), f).toBe(true);
    }
    // The default checkpoint folder is gone once the student is saved.
    expect(existsSync(join(pkg.project, 'students/unified/checkpoint'))).toBe(false);
    const report = JSON.parse(readFileSync(join(pkg.project, 'eval-output/report.json'), 'utf8')) as { summary: Array<{ flexible: { mean: number } }>; backend?: string };
    const measured = 100 * report.summary[0]!.flexible.mean;
    const stated = statedAccuracy(block.split('\n').find((l) => l.includes('socratic-distill eval'))!);
    console.log(`README CLI walkthrough: held-out accuracy ${measured.toFixed(1)}% (README: about ${stated}%)`);
    expect(Math.abs(measured - stated)).toBeLessThanOrEqual(ACCURACY_MARGIN);
    // The calculator figure the README gives for the same student.
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    const calcStated = statedAccuracy(readme.slice(readme.indexOf('`eval --calculator`')).split('\n').slice(0, 2).join(' '));
    const calc = await pkg.sh('npx socratic-distill eval --student students/unified --dataset synthetic --task demo --count 200 --seed 1 --calculator --out eval-calc', { timeoutMs: 300_000 });
    expect(calc.code, calc.stderr).toBe(0);
    const withCalc = 100 * (JSON.parse(readFileSync(join(pkg.project, 'eval-calc/report.json'), 'utf8')) as typeof report).summary[0]!.flexible.mean;
    console.log(`README CLI walkthrough with --calculator: ${withCalc.toFixed(1)}% (README: about ${calcStated}%)`);
    expect(Math.abs(withCalc - calcStated)).toBeLessThanOrEqual(ACCURACY_MARGIN);
    // solve printed the answer the README says it prints.
    const solveLine = block.split('\n').find((l) => l.includes('socratic-distill solve'))!;
    expect(r.stdout).toContain(/then (#### \S+)/.exec(solveLine)![1]!);
    // vega and vega-lite are optional peers, so a plain install has no charts: the report says how to get them.
    expect(existsSync(join(pkg.project, 'node_modules/vega'))).toBe(false);
    const html = readFileSync(join(pkg.project, 'eval-output/report.html'), 'utf8');
    expect(html).not.toContain('<svg');
    expect(html).toContain('npm install vega vega-lite');
  }, 900_000);

  it.skipIf(!HAS_ADDON)("runs the README's library snippet verbatim with node, and its student scores what the README says", async () => {
    const code = await readmeSnippet();
    expect(code).toContain("from 'socratic-distill'");
    await installBuiltAddon();
    await writeFile(join(pkg.project, 'walkthrough.mjs'), code);
    const r = await pkg.sh('node walkthrough.mjs', { timeoutMs: 900_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/total: 8000/);
    expect(r.stdout).toMatch(/using native-cpu/);
    const measured = Number(/held-out accuracy: (\d+(?:\.\d+)?)%/.exec(r.stdout)![1]);
    const stated = statedAccuracy(code.split('\n').find((l) => l.includes('held-out accuracy'))!);
    console.log(`README library snippet: held-out accuracy ${measured.toFixed(1)}% (README: about ${stated}%)`);
    expect(Math.abs(measured - stated)).toBeLessThanOrEqual(ACCURACY_MARGIN);
    expect(r.stdout).toMatch(/^Q: .+\nA: .+$/m);
    expect(r.stdout).toMatch(/^#### \S+ \(gold \d+\)$/m);
  }, 900_000);

  it('docs/reproduce.md points only at what the package ships, and its build step runs from the installed package', async () => {
    const doc = await readFile(join(REPO_ROOT, 'docs/reproduce.md'), 'utf8');
    // No npm scripts (a user's project has none of ours) and no file that is not in the tarball.
    expect(doc).not.toMatch(/npm run /);
    for (const [, link] of doc.matchAll(/\]\(((?:\.\.\/)?[\w./-]+\.\w+)\)/g)) {
      const path = join('docs', link!).replace(/^docs\/\.\.\//, '');
      expect(pkg.files, `${link} linked from docs/reproduce.md`).toContain(path);
    }
    // Every source the CUDA build compiles ships in the tarball.
    const { stdout } = await run('git', ['ls-files', 'native/cuda/src', 'native/cuda/emu', 'native/cuda/build.mjs'], { cwd: REPO_ROOT });
    for (const f of stdout.trim().split('\n')) expect(pkg.files, f).toContain(f);
    // `npx socratic-distill build-cuda` runs the installed package's build script; asked by name, no toolkit is a failure.
    const r = await pkg.sh('npx socratic-distill build-cuda', { env: { NVCC: '/nonexistent/nvcc', SOCRATIC_SKIP_CUDA: '' } });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('socratic-distill: CUDA core skipped (NVCC=/nonexistent/nvcc does not exist)');
    expect(r.stderr).toContain('socratic-distill build-cuda: no CUDA core was built (');
    expect(r.stderr).toContain('node_modules/socratic-distill/native/cuda/build/socratic_cuda.node does not exist');
  });

  it.skipIf(!hasFixtures || !hasSharedData)("reproduce runs from the installed package: the CLI and docs/reproduce.md's library snippet, on the tiny fixture checkpoint", async () => {
    if (HAS_ADDON) await installBuiltAddon();
    const data = join(pkg.project, 'gsm8k-tiny');
    await mkdir(data, { recursive: true });
    const lines = (file: string) => {
      const path = join(SHARED_DATA, 'gsm8k', file);
      return (path.endsWith('.gz') ? gunzipSync(readFileSync(path)).toString('utf8') : readFileSync(path, 'utf8')).split('\n').filter((l) => l.trim());
    };
    // Problems whose every example fits the fixture's 128 positions (as in reproduce.test.ts).
    const train = lines('train_socratic.jsonl.gz');
    const test = lines('test_socratic.jsonl');
    await writeFile(join(data, 'train_socratic.jsonl'), [1061, 535, 1198, 826, 605, 661, 576, 1000].map((i) => train[i]).join('\n') + '\n');
    await writeFile(join(data, 'test_socratic.jsonl'), [117, 305].map((i) => test[i]).join('\n') + '\n');

    const cli = await pkg.sh(`npx socratic-distill reproduce --init ${FIXTURE_DIR} --data gsm8k-tiny --out repro-cli --steps 2 --batch 4 --max-steps 2 --measure-steps 1`, { timeoutMs: 600_000 });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stderr).toMatch(/time estimate: \d+ training tokens/);
    expect(existsSync(join(pkg.project, 'repro-cli/report.json'))).toBe(true);

    const doc = await readFile(join(REPO_ROOT, 'docs/reproduce.md'), 'utf8');
    const snippet = /```js\n([\s\S]*?)```/.exec(doc)![1]!;
    await writeFile(join(pkg.project, 'reproduce-gsm8k.mjs'), snippet);
    const lib = await pkg.sh(`node reproduce-gsm8k.mjs ${FIXTURE_DIR} gsm8k-tiny repro-lib 2`, { timeoutMs: 600_000 });
    expect(lib.code, lib.stderr).toBe(0);
    expect(lib.stdout).toMatch(/^Iterative Socratic \(QG\+QA\): \d+\.\d% flexible$/m);
    expect(lib.stdout).toMatch(/^training: estimated \d+ s, took \d+ s; reports in repro-lib$/m);
    expect(existsSync(join(pkg.project, 'repro-lib/timing.json'))).toBe(true);
  }, 1_200_000);

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
