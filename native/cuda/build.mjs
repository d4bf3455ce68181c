#!/usr/bin/env node
// Builds the optional CUDA core (native/cuda/build/socratic_cuda.node) when a CUDA toolkit is present.
// Prints ONE line on skip or failure and exits 0, so `npm ci` never fails because of it.
//   --strict   exit 1 when nvcc exists but the build fails (CI uses this: the CUDA code must compile there)
//   --force    rebuild even when the addon is newer than every source
//   --emulate  build build/socratic_cuda_emu.node instead: the same host code (src/*.cc) on g++ only, with the CUDA
//              runtime, cuBLAS and the kernels replaced by CPU stand-ins (emu/). Tests use it to check the host
//              orchestration without a GPU; it is never loaded by the library.
//   --emulate-simt  build build/socratic_cuda_simt.node: like --emulate, but with the REAL kernels of src/*.cu
//              compiled by g++ against a fiber model of CUDA threads (emu/include/simt.h). Slow; tests only.
// Env: CUDA_HOME / CUDA_PATH (toolkit root), NVCC (compiler), CXX (host compiler), SOCRATIC_SKIP_CUDA=1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const srcDir = join(here, 'src');
// The layout-table reader shared with the CPU core (included as ../../src/layout_table.h); a change rebuilds everything.
const sharedHeaders = [join(here, '..', 'src', 'layout_table.h')];
const outDir = join(here, 'build');
const target = join(outDir, 'socratic_cuda.node');
const strict = process.argv.includes('--strict');
const force = process.argv.includes('--force');
const say = (msg) => console.log(`socratic-distill: CUDA core ${msg}`);

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function findToolkit() {
  if (process.env.NVCC && !existsSync(process.env.NVCC)) return { skip: `NVCC=${process.env.NVCC} does not exist` };
  const nvcc = process.env.NVCC || which('nvcc') || (existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : null);
  if (!nvcc) return { skip: 'no CUDA toolkit: nvcc not found; set CUDA_HOME to build it' };
  const roots = [process.env.CUDA_HOME, process.env.CUDA_PATH, resolve(dirname(realpathSync(nvcc)), '..'), '/usr/local/cuda'];
  const root = roots.find((r) => r && existsSync(join(r, 'include', 'cuda_runtime.h')));
  if (!root) return { nvcc, error: `nvcc at ${nvcc} but no include/cuda_runtime.h under CUDA_HOME, CUDA_PATH or /usr/local/cuda` };
  const libDirs = [join(root, 'lib64'), join(root, 'lib'), join(root, 'targets', 'x86_64-linux', 'lib'), join(root, 'targets', 'sbsa-linux', 'lib')];
  const lib = libDirs.find((d) => existsSync(join(d, 'libcudart_static.a')));
  if (!lib) return { nvcc, error: `no libcudart_static.a under ${root}` };
  return { nvcc, root, lib };
}

function nodeIncludeDir() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    resolve(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return candidates.find((d) => d && existsSync(join(d, 'node_api.h'))) ?? null;
}

function run(cmd, args) {
  return new Promise((resolveRun) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => resolveRun({ ok: false, out: `${cmd}: ${e.message}` }));
    child.on('close', (code) => resolveRun({ ok: code === 0, out }));
  });
}

async function buildEmulated(simt) {
  const nodeInc = nodeIncludeDir();
  if (!nodeInc) return say('emulation not built (Node headers with node_api.h not found)'), 1;
  const napiInc = dirname(createRequire(import.meta.url).resolve('node-addon-api/package.json'));
  const emuDir = join(here, 'emu');
  const out = join(outDir, simt ? 'socratic_cuda_simt.node' : 'socratic_cuda_emu.node');
  const emuFiles = readdirSync(emuDir).filter((f) => f.endsWith('.cc') && f !== (simt ? 'kernels_cpu.cc' : 'simt.cc'));
  const files = [
    // Every host .cc except the cuBLAS loader, which emu/cublas_emu.cc replaces.
    ...readdirSync(srcDir).filter((f) => f.endsWith('.cc') && f !== 'cublas_dyn.cc').map((f) => join(srcDir, f)),
    ...emuFiles.map((f) => join(emuDir, f)),
    ...(simt ? readdirSync(srcDir).filter((f) => f.endsWith('.cu')).map((f) => join(srcDir, f)) : []),
  ];
  const inputs = [
    ...files,
    ...readdirSync(srcDir).map((f) => join(srcDir, f)),
    ...readdirSync(join(emuDir, 'include')).map((f) => join(emuDir, 'include', f)),
    ...sharedHeaders,
    fileURLToPath(import.meta.url),
  ];
  if (!force && existsSync(out) && statSync(out).mtimeMs > Math.max(...inputs.map((f) => statSync(f).mtimeMs))) return say(`emulation up to date (${out})`), 0;
  const objDir = join(outDir, simt ? 'simt' : 'emu');
  mkdirSync(objDir, { recursive: true });
  const cxx = process.env.CXX || 'g++';
  const t0 = Date.now();
  const objs = [];
  const queue = [...files];
  let failed = null;
  const worker = async () => {
    for (let f = queue.shift(); f && !failed; f = queue.shift()) {
      const obj = join(objDir, `${f.startsWith(emuDir) ? 'emu_' : ''}${f.split('/').pop()}.o`);
      objs.push(obj);
      const args = [...(f.endsWith('.cu') ? ['-x', 'c++'] : []), '-c', '-O2', '-std=c++17', '-fPIC', `-I${join(emuDir, 'include')}`, `-I${srcDir}`, `-I${nodeInc}`, `-I${napiInc}`,
        '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', f, '-o', obj];
      const r = await run(cxx, args);
      if (!r.ok) failed = `${f}: ${r.out.split('\n').find((l) => l.includes('error')) ?? r.out.slice(0, 200)}`;
    }
  };
  await Promise.all(Array.from({ length: Math.min(2, availableParallelism()) }, worker));
  if (!failed) {
    const r = await run(cxx, ['-shared', '-o', out, ...objs]);
    if (!r.ok) failed = `link: ${r.out.slice(0, 200)}`;
  }
  if (failed) return say(`emulation not built (${failed})`), 1;
  say(`emulation built ${out} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

async function main() {
  if (process.argv.includes('--emulate')) return buildEmulated(false);
  if (process.argv.includes('--emulate-simt')) return buildEmulated(true);
  if (process.env.SOCRATIC_SKIP_CUDA === '1') return say('skipped (SOCRATIC_SKIP_CUDA=1)'), 0;
  const tk = findToolkit();
  if (tk.skip) return say(`skipped (${tk.skip})`), 0;
  if (tk.error) return say(`not built (${tk.error})`), strict ? 1 : 0;
  const nodeInc = nodeIncludeDir();
  if (!nodeInc) return say('not built (Node headers with node_api.h not found; set npm_config_nodedir)'), strict ? 1 : 0;
  let napiInc;
  try {
    napiInc = dirname(createRequire(import.meta.url).resolve('node-addon-api/package.json'));
  } catch {
    return say('not built (node-addon-api is not installed)'), strict ? 1 : 0;
  }

  const sources = readdirSync(srcDir).filter((f) => /\.(cu|cc)$/.test(f));
  const newest = Math.max(
    ...readdirSync(srcDir).map((f) => statSync(join(srcDir, f)).mtimeMs),
    ...sharedHeaders.map((f) => statSync(f).mtimeMs),
    statSync(fileURLToPath(import.meta.url)).mtimeMs,
  );
  if (!force && existsSync(target) && statSync(target).mtimeMs > newest) return say(`up to date (${target})`), 0;
  mkdirSync(join(outDir, 'obj'), { recursive: true });

  const cxx = process.env.CXX || 'g++';
  const inc = [`-I${join(tk.root, 'include')}`, `-I${srcDir}`];
  // sm_80 (A100, and sm_86/89 run it too) + sm_90 (H100/H200) SASS, and compute_90 PTX so newer GPUs can JIT.
  const arch = ['-gencode', 'arch=compute_80,code=sm_80', '-gencode', 'arch=compute_90,code=[sm_90,compute_90]'];
  // Headers and this script invalidate every object; otherwise an object is rebuilt only when its source changed.
  const headerTime = Math.max(
    statSync(fileURLToPath(import.meta.url)).mtimeMs,
    ...readdirSync(srcDir).filter((f) => /\.(h|cuh)$/.test(f)).map((f) => statSync(join(srcDir, f)).mtimeMs),
    ...sharedHeaders.map((f) => statSync(f).mtimeMs),
  );
  const fresh = (obj, file) => !force && existsSync(obj) && statSync(obj).mtimeMs > Math.max(headerTime, statSync(file).mtimeMs);
  const all = sources.map((f) => {
    const obj = join(outDir, 'obj', `${f}.o`);
    const file = join(srcDir, f);
    if (f.endsWith('.cu')) return { obj, file, cmd: tk.nvcc, args: ['-c', '-O3', '-std=c++17', '-Xcompiler', '-fPIC', ...arch, ...inc, file, '-o', obj] };
    const napi = f === 'addon.cc' ? [`-I${nodeInc}`, `-I${napiInc}`, '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS'] : [];
    return { obj, file, cmd: cxx, args: ['-c', '-O2', '-std=c++17', '-fPIC', '-fexceptions', ...inc, ...napi, file, '-o', obj] };
  });
  const jobs = all.filter((j) => !fresh(j.obj, j.file));

  const t0 = Date.now();
  const log = [];
  const queue = [...jobs];
  let failed = null;
  const worker = async () => {
    for (let j = queue.shift(); j && !failed; j = queue.shift()) {
      const r = await run(j.cmd, j.args);
      log.push(`$ ${j.cmd} ${j.args.join(' ')}\n${r.out}`);
      if (!r.ok) failed = `${j.cmd} failed on ${j.args.find((a) => a.startsWith(srcDir) && !a.startsWith('-I'))}`;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(availableParallelism(), jobs.length || 1)) }, worker));
  if (!failed) {
    const link = ['-shared', '-o', target, ...all.map((j) => j.obj), `-L${tk.lib}`, '-lcudart_static', '-ldl', '-lpthread', '-lrt'];
    const r = await run(cxx, link);
    log.push(`$ ${cxx} ${link.join(' ')}\n${r.out}`);
    if (!r.ok) failed = `${cxx} failed to link ${target}`;
  }
  writeFileSync(join(outDir, 'build.log'), log.join('\n'));
  if (failed) return say(`not built (${failed}; see ${join(outDir, 'build.log')})`), strict ? 1 : 0;
  say(`built ${target} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    say(`not built (${e instanceof Error ? e.message : String(e)})`);
    process.exit(strict ? 1 : 0);
  },
);
