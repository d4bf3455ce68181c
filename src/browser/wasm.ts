import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { ModelConfig } from '../arch/config.js';
import { createTfjsCore } from '../backend/tfjs/core.js';
import { initTfjsBackend, tf } from '../backend/tfjs/runtime.js';
import type { BackendReport, NamedTensors } from '../backend/types.js';
import { BackendUnavailableError } from '../errors.js';

/** The .wasm files the page must serve; the browser build copies them next to its bundle. */
export const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;

export interface BrowserBackendOptions {
  /**
   * URL prefix (ending in `/`) where the WASM_FILES are served. Default: the directory of this
   * bundle, where `npm run build` puts them (dist/browser/).
   */
  wasmPaths?: string;
  /**
   * Worker threads for the wasm kernels. 'auto' (default) uses tfjs' default count when the page
   * is cross-origin isolated (COOP/COEP headers, so SharedArrayBuffer exists) and 1 otherwise.
   * A number asks for that many (ignored when not isolated); false forces one thread.
   */
  threads?: 'auto' | number | false;
}

let chosen: { paths: string; report: Promise<BackendReport> } | undefined;

/**
 * Start tfjs on wasm (SIMD where the browser has it) and return a BackendReport whose
 * createCore builds wasm cores (GPT-2 or the Llama family). tfjs is one engine per page, so this runs once;
 * a second call with other wasmPaths is an error instead of a silent no-op.
 */
export function initBrowserBackend(options: BrowserBackendOptions = {}): Promise<BackendReport> {
  const paths = options.wasmPaths ?? defaultWasmPaths();
  if (chosen) {
    if (chosen.paths !== paths) {
      return Promise.reject(new BackendUnavailableError('tfjs-wasm', `wasm is already initialised from ${chosen.paths}; it cannot be re-pointed to ${paths}`));
    }
    return chosen.report;
  }
  const report = start(paths, options.threads ?? 'auto');
  chosen = { paths, report };
  report.catch(() => (chosen = undefined));
  return report;
}

function defaultWasmPaths(): string {
  return new URL('./', import.meta.url).href;
}

async function start(paths: string, threads: 'auto' | number | false): Promise<BackendReport> {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  setWasmPaths(paths.endsWith('/') ? paths : `${paths}/`);
  // Without isolation SharedArrayBuffer is missing and the threaded binary cannot start; say so up front.
  if (!isolated || threads === false) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  else if (typeof threads === 'number') setThreadsCount(threads);
  let info;
  try {
    info = await initTfjsBackend('wasm');
  } catch (cause) {
    throw new BackendUnavailableError(
      'tfjs-wasm',
      `the wasm backend did not start; are ${WASM_FILES.join(', ')} served under ${paths} (with Content-Type application/wasm)? ` +
        `(${(cause as Error).message})`,
      { cause },
    );
  }
  const threadCount = getThreadsCount();
  const simd = Boolean(info.simd);
  const traits = `${simd ? 'SIMD' : 'no SIMD'}, ${threadCount} thread${threadCount === 1 ? '' : 's'}${isolated ? '' : ' (page not cross-origin isolated)'}`;
  return {
    backend: 'tfjs-wasm',
    implementation: 'tfjs',
    device: 'wasm',
    simd,
    threads: threadCount,
    versions: info.versions,
    skipped: [],
    summary: `using tfjs-wasm (${traits}) in the browser`,
    createCore: (config: ModelConfig, init?: { weights?: NamedTensors; seed?: number }) => createTfjsCore(config, { backend: 'wasm', ...init }),
  };
}
