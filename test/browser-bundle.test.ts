/** What goes into the browser bundle (`socratic-distill/browser`), checked on a real esbuild build. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLibrary, type BundleReport, WASM_FILES } from '../examples/browser/bundle.js';

describe('browser bundle', () => {
  let dir: string;
  let bundle: BundleReport;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'socratic-browser-bundle-'));
    bundle = await buildLibrary(dir);
  }, 60_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('leaves out Node-only modules, the native cores and the unused tfjs backends', () => {
    const stubbed = bundle.inputs.filter((i) => i.startsWith('socratic-browser-unavailable:')).map((i) => i.split(':').slice(1).join(':'));
    // Node built-ins are only ever replaced by throwing stubs, never bundled from Node's sources.
    expect(stubbed).toEqual(expect.arrayContaining(['node:fs/promises', 'node:path', '@tensorflow/tfjs-backend-cpu', 'selectBackend']));
    const real = bundle.inputs.filter((i) => !i.startsWith('socratic-browser-unavailable:'));
    const forbidden = [
      /^src\/backend\/native\//, // the N-API addon loaders and CUDA
      /^src\/backend\/select\.ts$/, // native probes; the browser passes initBrowserBackend()'s report
      /tfjs-backend-cpu\/dist\/(backend_cpu|register_all_kernels|index)\.js$/, // the cpu backend itself (its shared kernels are wasm's)
      /tfjs-node/,
      /node_modules\/(openai|vega|vega-lite)\//,
      /^src\/(teacher|eval|cli|demo)\//,
    ];
    for (const pattern of forbidden) expect(real.filter((i) => pattern.test(i)), String(pattern)).toEqual([]);
    expect(real).toEqual(expect.arrayContaining(['src/browser/index.ts', 'src/students/iterative.ts', 'src/backend/tfjs/core.ts']));
  });

  it('ships the wasm binaries beside the bundle and stays small', async () => {
    const files = await readdir(dir);
    for (const f of WASM_FILES) expect(files).toContain(f);
    // Budget, not a measurement: docs/browser.md records the measured size. Most of it is the GPT-2 BPE table.
    expect(bundle.gzipBytes).toBeLessThan(450 * 1024);
    console.log(`browser bundle: ${bundle.bytes} bytes, ${bundle.gzipBytes} bytes gzip -9 (without .wasm)`);
  });
});
