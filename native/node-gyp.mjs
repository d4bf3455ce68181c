// Finds npm's bundled node-gyp and the headers installed beside this node binary, so building the
// addon needs no download. Shared by build.mjs (install) and prebuild.mjs (npm run prebuild).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** [node-gyp.js, ...extra args] or null when npm's node-gyp is not found. */
export function nodeGypCommand() {
  const nodeBin = dirname(process.execPath);
  const candidates = [
    process.env.npm_config_node_gyp,
    join(nodeBin, '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    join(nodeBin, 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  const gyp = candidates.find((p) => p && existsSync(p));
  if (!gyp) return null;
  const prefix = resolve(nodeBin, '..');
  return existsSync(join(prefix, 'include/node/node_api.h')) ? [gyp, `--nodedir=${prefix}`] : [gyp];
}

/** The prebuilds/ folder name for this machine (prebuildify / node-gyp-build layout). */
export const prebuildDir = (root) => join(root, 'prebuilds', `${process.platform}-${process.arch}`);
