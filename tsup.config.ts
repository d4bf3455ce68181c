import { defineConfig } from 'tsup';
import { buildLibrary } from './examples/browser/bundle.js';

/** Subpath entries (socratic-distill/<name>), beside the curated root index. */
const SUBPATHS = {
  teacher: 'src/api/teacher.ts',
  data: 'src/api/data.ts',
  train: 'src/api/train.ts',
  eval: 'src/api/eval.ts',
  backend: 'src/api/backend.ts',
};

export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli/bin.ts', ...SUBPATHS },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', ...SUBPATHS, 'browser/index': 'src/browser/index.ts' } },
  target: 'es2022',
  platform: 'node',
  sourcemap: true,
  clean: true,
  // Shared chunks: the root and the subpath entries must hand out the very same classes (instanceof works across them).
  splitting: true,
  shims: true,
  // Optional peers and the native addon are resolved at run time, never bundled.
  external: ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'],
  // `socratic-distill/browser`: a separate self-contained ESM build for platform 'browser' (tfjs on wasm,
  // Node-only modules stubbed out) with the .wasm files beside it in dist/browser/. It runs after the
  // clean above, so nothing races it; see examples/browser/bundle.ts and docs/browser.md.
  onSuccess: async () => {
    const bundle = await buildLibrary('dist/browser');
    console.log(`browser dist/browser/index.js ${(bundle.bytes / 1024).toFixed(0)} KiB, ${(bundle.gzipBytes / 1024).toFixed(0)} KiB gzip`);
  },
});
