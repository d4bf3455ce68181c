// Builds the optional native core (build/Release/socratic_native.node) with npm's node-gyp.
// Never fails the install: without a compiler the library simply uses tfjs.
// At install (no --strict) a prebuilt addon shipped in prebuilds/<platform>-<arch>/ that loads here is
// used as is and nothing is compiled (the better-sqlite3 / sharp convention); set
// SOCRATIC_DISTILL_BUILD_FROM_SOURCE=1 (or npm's --build-from-source) to compile anyway, e.g. to link
// OpenBLAS. `node native/build.mjs --strict` always compiles and exits non-zero on failure (CI, development).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeGypCommand, prebuildDir } from './node-gyp.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');

function fail(reason) {
  console.log(`socratic-distill: native core not built (${reason}), using tfjs`);
  process.exit(strict ? 1 : 0);
}

/** The first prebuilt addon for this platform that loads in a child process, or undefined. */
function usablePrebuild() {
  const dir = prebuildDir(root);
  if (!existsSync(dir)) return undefined;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.node') && n.split('.').includes('napi'))) {
    const path = join(dir, f);
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path)}).info()`], { stdio: 'ignore' });
    if (r.status === 0) return path;
  }
  return undefined;
}

if (process.env.SOCRATIC_DISTILL_SKIP_NATIVE === '1') fail('SOCRATIC_DISTILL_SKIP_NATIVE=1');
const fromSource = strict || process.env.SOCRATIC_DISTILL_BUILD_FROM_SOURCE === '1' || process.env.npm_config_build_from_source === 'true';
if (!fromSource) {
  const pre = usablePrebuild();
  if (pre) {
    console.log(`socratic-distill: using the prebuilt native core (${pre.slice(root.length + 1)})`);
    process.exit(0);
  }
}
if (process.platform !== 'linux' && process.platform !== 'darwin') fail(`unsupported platform ${process.platform}`);

const gyp = nodeGypCommand();
if (!gyp) fail('node-gyp not found beside npm');
const r = spawnSync(process.execPath, [...gyp, 'rebuild'], { cwd: root, stdio: strict ? 'inherit' : 'pipe', encoding: 'utf8' });
if (r.status !== 0) {
  const lines = `${r.stderr ?? ''}`.split('\n').filter((l) => /error/i.test(l));
  fail(lines[0]?.trim().slice(0, 160) || `node-gyp exited with ${r.status}`);
}
console.log('socratic-distill: native core built (build/Release/socratic_native.node)');
