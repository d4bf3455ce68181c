/**
 * Builds the browser bundle of socratic-distill (and the example page's script) with esbuild.
 * Shared by tsup.config.ts (`npm run build` -> dist/browser/), `npm run example:browser`
 * and test/browser-e2e.test.ts, so all three ship the same bytes.
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions, type Plugin } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, '../..');
export const BROWSER_ENTRY = join(REPO_ROOT, 'src/browser/index.ts');
const WASM_DIR = join(REPO_ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
export const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

/**
 * Modules that must never reach the browser bundle: Node built-ins, the tfjs backends the
 * page does not run (cpu registers every kernel on import), and tfjs-node. Code that imports
 * them only on Node paths (saving, training, the native probe) still bundles; calling such
 * a path in the browser throws an error that names the module.
 */
const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => (m.startsWith('node:') ? [m] : [m, `node:${m}`])));
const EXCLUDED_PACKAGES = new Set(['@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']);
const NAMESPACE = 'socratic-browser-unavailable';

export function browserOnlyPlugin(): Plugin {
  return {
    name: 'socratic-browser-only',
    setup(b) {
      b.onResolve({ filter: /^(node:|@tensorflow\/tfjs-(backend-cpu|node)|[a-z_]+(\/[a-z_]+)?$)/ }, (args) => {
        if (NODE_BUILTINS.has(args.path) || EXCLUDED_PACKAGES.has(args.path)) return { path: args.path, namespace: NAMESPACE };
        return undefined;
      });
      // Students pick a backend through selectBackend (native probes, tfjs-cpu) unless handed one;
      // the browser always hands them initBrowserBackend()'s report.
      b.onResolve({ filter: /\/backend\/select\.js$/ }, () => ({ path: 'selectBackend', namespace: NAMESPACE }));
      b.onLoad({ filter: /.*/, namespace: NAMESPACE }, async (args) => ({ contents: await stubModule(args.path), loader: 'js' }));
    },
  };
}

/** An ES module with the same export names whose every export throws when used. */
async function stubModule(name: string): Promise<string> {
  if (name === 'selectBackend') {
    const message = 'selectBackend() is not part of the browser build; pass the report of initBrowserBackend() as the backend';
    return `export function selectBackend() { throw new Error(${JSON.stringify(message)}); }`;
  }
  let names: string[] = [];
  try {
    names = Object.keys((await import(name)) as object).filter((k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k));
  } catch {
    // Not installed here (tfjs-node): nothing statically imports names from it.
  }
  const message = `${name} is not available in the socratic-distill browser build (it is Node-only or a backend the browser build leaves out)`;
  return [
    `const unavailable = () => { throw new Error(${JSON.stringify(message)}); };`,
    ...names.map((k) => `export const ${k} = unavailable;`),
    'export default unavailable;',
  ].join('\n');
}

export function libraryBuildOptions(outDir: string, minify = true): BuildOptions {
  return {
    entryPoints: { index: BROWSER_ENTRY },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    sourcemap: true,
    legalComments: 'none',
    // No keepNames: tfjs starts its wasm threads from the source text of a bundled function, and
    // keepNames' helper calls are undefined in that worker. src/browser/error-names.ts keeps error names.
    metafile: true,
    logLevel: 'warning',
    plugins: [browserOnlyPlugin()],
  };
}

export interface BundleReport {
  file: string;
  bytes: number;
  gzipBytes: number;
  /** Every input file that ended up in the bundle (paths relative to the repo). */
  inputs: string[];
}

/** The library bundle (index.js) with the .wasm files beside it. */
export async function buildLibrary(outDir: string): Promise<BundleReport> {
  await mkdir(outDir, { recursive: true });
  const result = await build(libraryBuildOptions(outDir));
  await copyWasmFiles(outDir);
  const file = join(outDir, 'index.js');
  const code = await readFile(file);
  return { file, bytes: code.byteLength, gzipBytes: gzipSync(code, { level: 9 }).byteLength, inputs: Object.keys(result.metafile?.inputs ?? {}) };
}

export async function copyWasmFiles(outDir: string): Promise<void> {
  await Promise.all(WASM_FILES.map((f) => copyFile(join(WASM_DIR, f), join(outDir, f))));
}

/** The example page's script; it imports the library from ./index.js next to it. */
export async function buildExampleApp(outDir: string): Promise<void> {
  const libraryAsSibling: Plugin = {
    name: 'library-as-sibling',
    setup(b) {
      b.onResolve({ filter: /src\/browser\/index\.js$/ }, () => ({ path: './index.js', external: true }));
    },
  };
  await build({
    entryPoints: { app: join(here, 'app.ts') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'warning',
    plugins: [libraryAsSibling],
  });
}

/** Library + page script + wasm into one directory the example server serves as /lib/. */
export async function buildExample(outDir: string): Promise<BundleReport> {
  const report = await buildLibrary(outDir);
  await buildExampleApp(outDir);
  return report;
}
