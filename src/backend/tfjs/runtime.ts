import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError } from '../../errors.js';

/** tfjs backend names as registered with tfjs-core. `tensorflow` is the one tfjs-node-gpu registers. */
export type TfjsBackendName = 'cpu' | 'wasm' | 'tensorflow';

export interface TfjsRuntimeInfo {
  backend: TfjsBackendName;
  simd?: boolean;
  threads?: number;
  versions: Record<string, string>;
}

const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';
const ready = new Map<TfjsBackendName, Promise<TfjsRuntimeInfo>>();

/** True when running under Node (as opposed to a browser bundle). */
const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/**
 * Load and initialise one tfjs backend once per process. The backend packages are imported
 * lazily so that importing this library does not pay for wasm (or a GPU driver) it never uses.
 */
export function initTfjsBackend(name: TfjsBackendName): Promise<TfjsRuntimeInfo> {
  let p = ready.get(name);
  if (!p) {
    p = load(name);
    ready.set(name, p);
    p.catch(() => ready.delete(name));
  }
  return p;
}

async function load(name: TfjsBackendName): Promise<TfjsRuntimeInfo> {
  const versions: Record<string, string> = { 'tfjs-core': tf.version_core };
  if (name === 'cpu') {
    const cpu = await import('@tensorflow/tfjs-backend-cpu');
    versions['tfjs-backend-cpu'] = cpu.version_cpu;
    await activate('cpu');
    // The cpu backend prints a banner recommending tfjs-node on first use; our CLI output should not carry it.
    const backend = tf.findBackend('cpu') as { firstUse?: boolean } | null;
    if (backend && 'firstUse' in backend) backend.firstUse = false;
    return { backend: 'cpu', threads: 1, versions };
  }
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    versions['tfjs-backend-wasm'] = wasm.version_wasm;
    if (isNode) {
      // In Node the emscripten loader cannot find the .wasm files next to the bundle; point it at the package.
      const require = createRequire(import.meta.url);
      const dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      wasm.setWasmPaths(`${dir}/`);
    }
    await activate('wasm');
    const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    return { backend: 'wasm', simd, threads: wasm.getThreadsCount(), versions };
  }
  let mod: { version?: Record<string, string> };
  try {
    // A variable specifier keeps bundlers and tsc from resolving the optional peer at build time.
    const specifier: string = TFJS_NODE_GPU;
    mod = (await import(specifier)) as { version?: Record<string, string> };
  } catch (cause) {
    throw new BackendUnavailableError('tfjs-node-gpu', tfjsNodeGpuHelp('could not be loaded'), { cause });
  }
  if (!tf.findBackendFactory('tensorflow')) {
    throw new BackendUnavailableError(
      'tfjs-node-gpu',
      `${TFJS_NODE_GPU} loaded but registered its backend with a different copy of @tensorflow/tfjs-core than ` +
        `this library uses (${tf.version_core}); install matching versions so npm dedupes tfjs-core.`,
    );
  }
  for (const [k, v] of Object.entries(mod.version ?? {})) versions[k] = String(v);
  await activate('tensorflow');
  return { backend: 'tensorflow', versions };
}

async function activate(name: TfjsBackendName): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new BackendUnavailableError(`tfjs-${name}`, `tfjs backend "${name}" failed to initialise`);
}

export function tfjsNodeGpuHelp(what: string): string {
  return (
    `${TFJS_NODE_GPU} ${what}. Install it with \`npm install ${TFJS_NODE_GPU}\` on a machine with ` +
    'CUDA 11.2 and cuDNN 8.1 (it downloads libtensorflow 2.9.1 at install time; offline: set TFJS_NODE_CDN_STORAGE ' +
    `to a mirror or place libtensorflow in node_modules/${TFJS_NODE_GPU}/deps), or use the native CUDA core.`
  );
}

/**
 * tfjs-core is a process-wide singleton with one active backend. Every core calls this before
 * running ops so that cores on different backends can coexist (tensors stay on their own backend).
 */
export async function useBackend(name: TfjsBackendName): Promise<void> {
  if (tf.getBackend() !== name) await activate(name);
}

export { tf };
