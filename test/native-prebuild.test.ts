import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The npm tarball carries a prebuilt addon (prebuilds/linux-x64, `npm run build:prebuild`): installed
// where no compiler exists, the package must still get the native CPU core without compiling.
// This packs the repo, installs the tarball into a fresh project with every compiler hidden, and
// asks selectBackend('auto') which backend it picks. Builds dist/ and the prebuild first if missing.
const root = resolve(import.meta.dirname, '..');
const supported = process.platform === 'linux' && process.arch === 'x64';
const work = mkdtempSync(join(tmpdir(), 'sd-packed-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

/** PATH whose first folder shadows every compiler and make with a stub that fails. */
function pathWithoutCompilers(): string {
  const bin = join(work, 'no-compilers');
  mkdirSync(bin, { recursive: true });
  for (const c of ['cc', 'c++', 'gcc', 'g++', 'clang', 'clang++', 'make', 'nvcc']) {
    writeFileSync(join(bin, c), '#!/bin/sh\necho "$0: hidden by the test" >&2\nexit 127\n');
    chmodSync(join(bin, c), 0o755);
  }
  return `${bin}:${process.env.PATH}`;
}

describe.skipIf(!supported)('packed tarball on a machine without a compiler', () => {
  it('installs the prebuilt addon and selectBackend("auto") picks the native CPU core', () => {
    if (!existsSync(join(root, 'dist/index.js'))) sh('npx', ['tsup'], root);
    const pre = join(root, 'prebuilds/linux-x64');
    if (!existsSync(pre) || !readdirSync(pre).some((f) => f.endsWith('.node'))) sh(process.execPath, ['native/prebuild.mjs'], root);

    const packed = JSON.parse(sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], root)) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toContain('prebuilds/linux-x64/socratic_native.napi.node');
    expect(files).toContain('prebuilds/linux-x64/libgomp.so.1');
    expect(files.some((f) => f.startsWith('build/'))).toBe(false);

    const proj = join(work, 'proj');
    mkdirSync(proj);
    writeFileSync(join(proj, 'package.json'), '{"name":"packed-test","version":"1.0.0","private":true}\n');
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: pathWithoutCompilers(), CXX: 'false', CC: 'false', NVCC: '/nonexistent/nvcc' };
    for (const k of ['SOCRATIC_DISTILL_NATIVE', 'SOCRATIC_DISTILL_DISABLE_NATIVE', 'SOCRATIC_DISTILL_SKIP_NATIVE']) delete env[k];
    // --prefer-offline: the dependencies come from npm's cache when this repo's own install put them there.
    const install = sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', join(work, packed[0]!.filename)], proj, env);
    expect(install).toContain('socratic-distill: using the prebuilt native core');
    expect(existsSync(join(proj, 'node_modules/socratic-distill/build'))).toBe(false); // nothing was compiled

    const probe = `import { selectBackend } from 'socratic-distill';
      const r = await selectBackend('auto');
      console.log(JSON.stringify({ backend: r.backend, versions: r.versions }));`;
    const out = JSON.parse(sh(process.execPath, ['--input-type=module', '-e', probe], proj, env).trim().split('\n').pop()!) as { backend: string; versions: Record<string, string> };
    expect(out.backend).toBe('native-cpu');
    expect(out.versions.native).toMatch(/builtin (avx512|avx2|scalar)/);
  }, 300_000);
});
