import { defineConfig } from 'tsup';
import { buildLibrary } from './examples/browser/bundle.js';

export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli/bin.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', 'browser/index': 'src/browser/index.ts' } },
  target: 'es2022',
  platform: 'node',
  sourcemap: true,
  clean: true,
  splitting: false,
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
