import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  target: 'es2022',
  platform: 'node',
  sourcemap: true,
  clean: true,
  splitting: false,
  shims: true,
  // Optional peers and the native addon are resolved at run time, never bundled.
  external: ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'],
});
