// Builds the optional native core (build/Release/socratic_native.node) with npm's node-gyp.
// Never fails the install: without a compiler the library simply uses tfjs.
// `node native/build.mjs --strict` exits non-zero on failure (for CI and development).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');

function fail(reason) {
  console.log(`socratic-distill: native core not built (${reason}), using tfjs`);
  process.exit(strict ? 1 : 0);
}

if (process.env.SOCRATIC_DISTILL_SKIP_NATIVE === '1') fail('SOCRATIC_DISTILL_SKIP_NATIVE=1');
if (process.platform !== 'linux' && process.platform !== 'darwin') fail(`unsupported platform ${process.platform}`);

const nodeBin = dirname(process.execPath);
const candidates = [
  process.env.npm_config_node_gyp,
  join(nodeBin, '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  join(nodeBin, 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
];
const gyp = candidates.find((p) => p && existsSync(p));
if (!gyp) fail('node-gyp not found beside npm');

// Prefer the headers installed with this node binary, so no download is needed.
const args = [gyp, 'rebuild'];
const prefix = resolve(nodeBin, '..');
if (existsSync(join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);

const r = spawnSync(process.execPath, args, { cwd: root, stdio: strict ? 'inherit' : 'pipe', encoding: 'utf8' });
if (r.status !== 0) {
  const lines = `${r.stderr ?? ''}`.split('\n').filter((l) => /error/i.test(l));
  fail(lines[0]?.trim().slice(0, 160) || `node-gyp exited with ${r.status}`);
}
console.log('socratic-distill: native core built (build/Release/socratic_native.node)');
