#!/usr/bin/env node
// Builds .device-bundle/: everything a GPU machine WITHOUT Node.js needs to run the CUDA checks of this working tree
// (scripts/device-check.sh unpacks and runs it; docs/cuda.md "Checking on a GPU").
//   node scripts/device-bundle.mjs [--no-cli]
// Contents:
//   node.xz              this Node binary (process.execPath), stripped when `strip` exists, xz -9
//   node_modules.tar.xz  node_modules pruned to vitest, zod, tfjs and node-addon-api (+ their dependencies, not
//                        optional peers), without source maps, typings, markdown, tfjs's browser bundles and
//                        tests, and esbuild's second copy of its binary (the JS API runs @esbuild/<platform>'s)
//   addons.tar.xz        native/cuda/build/{socratic_cuda,socratic_cuda_emu,socratic_cuda_simt}.node built here from
//                        this tree's native/cuda (nvcc for the GPU addon, g++ for the two emulations), the CPU core
//                        build/Release/socratic_native.node, and the four N-API headers the emulation build checks for
//   fixtures.tar.xz      fixtures/gpt2/ and fixtures/modern/{llama,qwen3}/: the shared fixture files the CUDA tests
//                        and bench/cuda.ts read (GPT-2, and the Llama family's)
//   js/cuda-bench.mjs    esbuild bundle of bench/cuda.ts; js/cli.js of src/cli/main.ts (no tsx needed there; the
//                        name must end in cli.js, which main.ts checks before it runs)
//   manifest.json        commit, Node version, file sizes
// node.xz, addons.tar.xz and fixtures.tar.xz are kept from the last run while newer than their inputs.
// Env: SOCRATIC_SHARED (default ../shared). Writes nothing outside .device-bundle/.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, '.device-bundle');
const SHARED = resolve(process.env.SOCRATIC_SHARED ?? join(ROOT, '..', 'shared'));
const GPT2_FIXTURES = [
  'config.json', 'batch.json', 'fixture_meta.json', 'generate.json', 'generation_config.json', 'model.safetensors',
  'outputs.safetensors', 'grads.safetensors', 'params_after_step.safetensors', 'torch_gpu_nanogpt.py',
];
// What test/helpers/modern.ts loadModernFixture reads.
const MODERN_FIXTURES = [
  'config.json', 'batch.json', 'fixture_meta.json', 'generate.json', 'model.safetensors', 'outputs.safetensors', 'grads.safetensors',
  'params_after_step.safetensors',
];
/** Paths under $SOCRATIC_SHARED/fixtures. */
const FIXTURES = [
  ...GPT2_FIXTURES.map((f) => `gpt2/${f}`),
  ...['llama', 'qwen3'].flatMap((m) => MODERN_FIXTURES.map((f) => `modern/${m}/${f}`)),
];
// The layout-table reader the CUDA core includes from the CPU core's sources (../../src/layout_table.h).
const SHARED_HEADER = join('native', 'src', 'layout_table.h');
const KEEP_PACKAGES = ['vitest', 'zod', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', 'node-addon-api'];
const DROP = [
  /\.(map|d\.ts|d\.mts|d\.cts|md|markdown)$/i,
  /\/node_modules\/\.bin$/,
  /\/node_modules\/esbuild\/bin\/esbuild$/,
  /\/@tensorflow\/[^/]+\/dist\/.*_test\.js$/,
  /\/@tensorflow\/[^/]+\/dist\/tf-[^/]*(?<!\.node)\.js$/, // browser bundles; Node loads tf-*.node.js or the ESM tree
];
const NAPI_HEADERS = ['node_api.h', 'node_api_types.h', 'js_native_api.h', 'js_native_api_types.h'];

const step = (msg) => console.log(`device-bundle: ${msg}`);
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...opts });
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The installed packages `names` need, walking package-lock.json's dependency edges (absent optional ones skipped). */
function packageClosure(names) {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')).packages;
  const find = (from, name) => {
    for (let dir = from; ; dir = dir.includes('/node_modules/') ? dir.slice(0, dir.lastIndexOf('/node_modules/')) : '') {
      const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (lock[key] && existsSync(join(ROOT, key))) return key;
      if (!dir) return null;
    }
  };
  const seen = new Set();
  const queue = names.map((n) => find('', n));
  while (queue.length) {
    const key = queue.pop();
    if (!key || seen.has(key)) continue;
    seen.add(key);
    const p = lock[key];
    const peers = Object.keys(p.peerDependencies ?? {}).filter((d) => !p.peerDependenciesMeta?.[d]?.optional);
    for (const dep of [...Object.keys({ ...p.dependencies, ...p.optionalDependencies }), ...peers]) queue.push(find(key, dep));
  }
  return [...seen].sort();
}

function prunedNodeModules(stage) {
  const keys = packageClosure(KEEP_PACKAGES);
  for (const key of keys.filter((k) => !keys.some((o) => o !== k && k.startsWith(`${o}/`)))) {
    cpSync(join(ROOT, key), join(stage, key), {
      recursive: true,
      dereference: true,
      filter: (src) => !DROP.some((re) => re.test(src)),
    });
  }
  // Nested node_modules of a kept package came along with it; drop nested packages outside the closure.
  for (const key of keys) {
    const nested = join(stage, key, 'node_modules');
    if (!existsSync(nested)) continue;
    for (const name of readdirSync(nested).flatMap((n) => (n.startsWith('@') ? readdirSync(join(nested, n)).map((s) => `${n}/${s}`) : [n]))) {
      if (!keys.includes(`${key}/node_modules/${name}`)) rmSync(join(nested, name), { recursive: true, force: true });
    }
  }
  return keys.length;
}

/** Builds the three CUDA-core addons from a copy of native/cuda, so nothing is written into the checked-out build/. */
function addons(stage) {
  const cuda = join(stage, 'native', 'cuda');
  for (const part of ['build.mjs', 'src', 'emu']) cpSync(join(ROOT, 'native', 'cuda', part), join(cuda, part), { recursive: true });
  mkdirSync(dirname(join(stage, SHARED_HEADER)), { recursive: true });
  copyFileSync(join(ROOT, SHARED_HEADER), join(stage, SHARED_HEADER));
  // The copy resolves node-addon-api from the repository's node_modules (stage is inside .device-bundle/).
  for (const flag of ['--strict', '--emulate', '--emulate-simt']) {
    const r = spawnSync(process.execPath, [join(cuda, 'build.mjs'), flag], { encoding: 'utf8' });
    step(`native/cuda/build.mjs ${flag}: ${(r.stdout + r.stderr).trim().split('\n').at(-1)}`);
    if (r.status !== 0) throw new Error(`native/cuda/build.mjs ${flag} failed`);
  }
  const files = ['socratic_cuda.node', 'socratic_cuda_emu.node', 'socratic_cuda_simt.node'].map((f) => join('native', 'cuda', 'build', f));
  for (const f of files) if (!existsSync(join(stage, f))) throw new Error(`${f} was not built (is nvcc installed?)`);
  const cpu = join(ROOT, 'build', 'Release', 'socratic_native.node');
  if (!existsSync(cpu)) throw new Error(`${cpu} missing: run node native/build.mjs --strict first`);
  mkdirSync(join(stage, 'build', 'Release'), { recursive: true });
  copyFileSync(cpu, join(stage, 'build', 'Release', 'socratic_native.node'));
  files.push(join('build', 'Release', 'socratic_native.node'));
  // The emulation build looks for node_api.h under <node prefix>/include/node even when its output is up to date.
  const inc = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find((d) =>
    existsSync(join(d, 'node_api.h')),
  );
  if (!inc) throw new Error('node_api.h not found');
  mkdirSync(join(stage, 'node', 'include', 'node'), { recursive: true });
  for (const h of NAPI_HEADERS) copyFileSync(join(inc, h), join(stage, 'node', 'include', 'node', h));
  files.push(...NAPI_HEADERS.map((h) => join('node', 'include', 'node', h)));
  return files;
}

function esbuild(entry, out) {
  const bin = join(ROOT, 'node_modules', '.bin', 'esbuild');
  sh(bin, [
    entry, '--bundle', '--platform=node', '--format=esm', '--target=node20', '--minify', '--log-level=warning', `--outfile=${out}`,
    // tfjs and the optional peers stay external: they load from the unpacked node_modules (tfjs-wasm finds its .wasm there).
    '--external:@tensorflow/*',
    "--banner:js=import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);",
  ], { cwd: ROOT });
}

/** Whether `file` exists and is newer than every input (files or folders, walked). */
function fresh(file, inputs) {
  if (!existsSync(file)) return false;
  const newest = (p) => (statSync(p).isDirectory() ? Math.max(0, ...readdirSync(p).map((f) => newest(join(p, f)))) : statSync(p).mtimeMs);
  return statSync(file).mtimeMs > Math.max(...inputs.map(newest));
}

function main() {
  for (const tool of ['xz', 'tar']) if (!has(tool)) throw new Error(`${tool} not found`);
  const KEEP = ['node.xz', 'addons.tar.xz', 'fixtures.tar.xz'];
  mkdirSync(OUT, { recursive: true });
  for (const f of readdirSync(OUT)) if (!KEEP.includes(f)) rmSync(join(OUT, f), { recursive: true, force: true });
  const stage = join(OUT, 'stage');
  mkdirSync(stage, { recursive: true });

  step(`node ${process.version} from ${process.execPath}`);
  if (!fresh(join(OUT, 'node.xz'), [process.execPath])) {
    copyFileSync(process.execPath, join(stage, 'node'));
    if (has('strip')) sh('strip', [join(stage, 'node')]);
    writeFileSync(join(OUT, 'node.xz'), sh('xz', ['-9', '-c', join(stage, 'node')], { encoding: 'buffer', maxBuffer: 1 << 30 }));
  }

  const n = prunedNodeModules(join(stage, 'nm'));
  step(`node_modules: ${n} packages`);
  sh('tar', ['-cJf', join(OUT, 'node_modules.tar.xz'), '-C', join(stage, 'nm'), 'node_modules']);

  const cpuAddon = join(ROOT, 'build', 'Release', 'socratic_native.node');
  if (!fresh(join(OUT, 'addons.tar.xz'), [join(ROOT, 'native', 'cuda', 'src'), join(ROOT, 'native', 'cuda', 'emu'), join(ROOT, 'native', 'cuda', 'build.mjs'), join(ROOT, SHARED_HEADER), cpuAddon])) {
    const built = addons(join(stage, 'addons'));
    sh('tar', ['-cJf', join(OUT, 'addons.tar.xz'), '-C', join(stage, 'addons'), ...built]);
  } else step('addons.tar.xz: up to date');

  // This script as an input too: a changed FIXTURES list must not reuse an archive without the new files.
  const fixtureFiles = [...FIXTURES.map((f) => join(SHARED, 'fixtures', f)), fileURLToPath(import.meta.url)];
  if (!fresh(join(OUT, 'fixtures.tar.xz'), fixtureFiles)) {
    sh('tar', ['-cJf', join(OUT, 'fixtures.tar.xz'), '-C', SHARED, ...FIXTURES.map((f) => join('fixtures', f))]);
  }

  mkdirSync(join(OUT, 'js'), { recursive: true });
  esbuild('bench/cuda.ts', join(OUT, 'js', 'cuda-bench.mjs'));
  if (!process.argv.includes('--no-cli')) esbuild('src/cli/main.ts', join(OUT, 'js', 'cli.js'));
  rmSync(stage, { recursive: true, force: true });

  const files = [];
  const walk = (d) => readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(join(d, e.name)) : files.push(join(d, e.name))));
  walk(OUT);
  const sizes = Object.fromEntries(files.map((f) => [relative(OUT, f), statSync(f).size]));
  const dirty = sh('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT }).trim() !== '';
  const commit = sh('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).trim() + (dirty ? '+dirty' : '');
  const manifest = { built: new Date().toISOString(), commit, node: process.version, fixtures: FIXTURES, packages: KEEP_PACKAGES, sizes };
  writeFileSync(join(OUT, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  const tree = sh('git', ['ls-files', '-z'], { cwd: ROOT })
    .split('\0')
    .filter((f) => f && existsSync(join(ROOT, f)))
    .reduce((a, f) => a + statSync(join(ROOT, f)).size, 0);
  for (const [f, s] of Object.entries(sizes).sort((a, b) => b[1] - a[1]).slice(0, 6)) step(`  ${mib(s).padStart(9)}  ${f}`);
  step(`bundle ${mib(total)} + tracked working tree ${mib(tree)} = ${mib(total + tree)} (limit for the device upload: 64 MiB)`);
  // 2 MiB below the 64 MiB upload for what the working tree gains between a bundle and its run. With the Llama-family
  // fixtures the bundle measured 61.4 MiB (2026-12-03); --no-cli saves 2.0 MiB when the demo is not needed.
  if (total + tree > 62 * 2 ** 20) throw new Error('over 62 MiB: too big to carry to the device machine (try --no-cli)');
}

try {
  main();
} catch (e) {
  console.error(`device-bundle: FAILED: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
