import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliCommand } from '../command.js';
import { parseFlags } from './data-flags.js';

const HELP = `usage: socratic-distill build-cuda [--force] [--emulate]

Builds the optional CUDA core of this installed package (native/cuda/build/socratic_cuda.node) with nvcc, from
the sources the package ships, so that --backend auto (and cuda) can use an NVIDIA GPU. It needs a CUDA toolkit
(nvcc; CUDA_HOME / CUDA_PATH / NVCC to point at one) and a C++ compiler; no GPU is needed to build. Unlike the
install script, which skips the CUDA core quietly, it exits non-zero when the toolkit is there but the build
fails, naming the log. --force rebuilds even when the addon is newer than its sources. --emulate builds the
CPU-emulated test build instead (no nvcc; tests only). \`npm rebuild socratic-distill\` rebuilds the native CPU
core and the CUDA core together.`;

const FLAGS = { force: { type: 'boolean' }, emulate: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

/** The installed package's root: the folder above this file whose package.json is socratic-distill's. */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'socratic-distill') return dir;
    if (dirname(dir) === dir) throw new Error(`socratic-distill's package.json not found above ${from}; reinstall the package`);
  }
}

export const command: CliCommand = {
  name: 'build-cuda',
  summary: 'build the optional CUDA core of the installed package (needs nvcc)',
  async run(argv) {
    const v = parseFlags(argv, FLAGS);
    if (v.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    const cuda = join(packageRoot(), 'native', 'cuda');
    const args = [join(cuda, 'build.mjs'), v.emulate ? '--emulate' : '--strict', ...(v.force ? ['--force'] : [])];
    const code = await new Promise<number>((done, fail) => {
      const child = spawn(process.execPath, args, { stdio: 'inherit' });
      child.on('error', fail);
      child.on('close', (c) => done(c ?? 1));
    });
    // The build script skips quietly without a toolkit (right for npm install); asked for by name, that is a failure.
    const target = join(cuda, 'build', v.emulate ? 'socratic_cuda_emu.node' : 'socratic_cuda.node');
    if (code === 0 && !existsSync(target)) {
      process.stderr.write(`socratic-distill build-cuda: no CUDA core was built (${target} does not exist); see the line above\n`);
      return 1;
    }
    return code;
  },
};
