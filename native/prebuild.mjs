// `npm run prebuild`: builds the addon that ships in the npm tarball as
// prebuilds/<platform>-<arch>/socratic_native.napi.node (prebuildify / node-gyp-build layout), so
// `npm install` needs no compiler. It is built without OpenBLAS (the built-in sgemm picks AVX-512,
// AVX2+FMA or scalar code at run time, so one file runs on any x86-64), with libstdc++ and libgcc linked
// statically and the compiler's libgomp.so.1 copied beside it (found through rpath $ORIGIN; GCC's
// runtime library exception allows shipping it), so it needs nothing but glibc at run time.
// The build runs in a temporary copy of the sources, leaving build/Release (a development build,
// maybe with OpenBLAS) alone.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeGypCommand, prebuildDir } from './node-gyp.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const gyp = nodeGypCommand();
if (!gyp) {
  console.error('prebuild: npm\'s node-gyp not found');
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), 'sd-prebuild-'));
try {
  for (const p of ['binding.gyp', 'package.json', 'native/src', 'native/detect-blas.cjs']) cpSync(join(root, p), join(work, p), { recursive: true });
  const env = {
    ...process.env,
    SOCRATIC_DISTILL_NO_BLAS: '1',
    SOCRATIC_DISTILL_PREBUILD: '1',
    NODE_PATH: join(root, 'node_modules'), // binding.gyp asks node-addon-api for its include dir
  };
  const r = spawnSync(process.execPath, [...gyp, 'rebuild'], { cwd: work, env, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const outDir = prebuildDir(root);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, 'socratic_native.napi.node');
  copyFileSync(join(work, 'build/Release/socratic_native.node'), out);
  const gomp = spawnSync(process.env.CXX || 'c++', ['-print-file-name=libgomp.so.1'], { encoding: 'utf8' }).stdout.trim();
  copyFileSync(realpathSync(gomp), join(outDir, 'libgomp.so.1'));
  // Check it loads in a fresh process and report what it depends on.
  const check = spawnSync(process.execPath, ['-e', `const a=require(${JSON.stringify(out)});console.log(JSON.stringify(a.info()))`], { encoding: 'utf8' });
  if (check.status !== 0) {
    console.error(`prebuild: ${out} does not load:\n${check.stderr}`);
    process.exit(1);
  }
  const ldd = spawnSync('ldd', [out], { encoding: 'utf8' });
  const libs = (ldd.stdout ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  console.log(`prebuild: wrote ${out.slice(root.length + 1)} ${check.stdout.trim()}\n  ${libs.join('\n  ')}`);
  const bad = libs.filter((l) => /stdc\+\+|openblas/.test(l) || (/gomp/.test(l) && !l.includes(outDir)));
  if (bad.length) {
    console.error(`prebuild: the prebuilt addon must need only glibc and its own libgomp, not: ${bad.join('; ')}`);
    process.exit(1);
  }
  // It must run on AVX2-only and pre-AVX CPUs: every ymm/zmm instruction has to sit in a function that
  // is only reached after a CPUID check (the gemm ISA copies, target_clones variants).
  const dis = spawnSync('objdump', ['-d', '-C', '--no-show-raw-insn', out], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (dis.status === 0) {
    let fn = '';
    const stray = new Set();
    for (const line of dis.stdout.split('\n')) {
      if (/^[0-9a-f]+ <.*>:$/.test(line)) fn = line;
      else if (/[yz]mm/.test(line) && !/avx512_isa::|avx2_isa::|arch_x86_64_v[34]/.test(fn)) stray.add(fn);
    }
    if (stray.size) {
      console.error(`prebuild: AVX code outside the run-time dispatched functions:\n  ${[...stray].join('\n  ')}`);
      process.exit(1);
    }
    console.log('prebuild: every AVX/AVX-512 instruction is behind a CPUID dispatch');
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
