import { createRequire } from 'node:module';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { parseGPT2Config } from '../src/arch/config.js';
import type { NativeProbe } from '../src/backend/native/probe.js';
import type { TransformerCore } from '../src/backend/types.js';
import { BackendUnavailableError } from '../src/errors.js';

// The native probes are replaced so each test decides what "this machine" has.
const probes = vi.hoisted(() => ({
  cpu: { ok: false, backend: 'native-cpu', reason: 'addon not built (test)' } as unknown,
  cuda: { ok: false, backend: 'native-cuda', reason: 'no CUDA device (test)' } as unknown,
}));
vi.mock('../src/backend/native/probe.js', () => ({
  probeNativeCpu: () => probes.cpu,
  probeNativeCuda: () => probes.cuda,
}));

const { selectBackend, withoutPaths } = await import('../src/backend/select.js');

const config = parseGPT2Config({ vocab_size: 40, n_positions: 16, n_embd: 16, n_layer: 1, n_head: 2 });
const hasTfjsNodeGpu = (() => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu');
    return true;
  } catch {
    return false;
  }
})();

function fakeNative(backend: 'native-cpu' | 'native-cuda'): NativeProbe {
  return { ok: true, backend, simd: 'avx2', threads: 2, version: '0.0.0-test', createCore: async () => ({ fake: backend }) as unknown as TransformerCore };
}

beforeEach(() => {
  probes.cpu = { ok: false, backend: 'native-cpu', reason: 'addon not built (test)' };
  probes.cuda = { ok: false, backend: 'native-cuda', reason: 'no CUDA device (test)' };
});

describe('selectBackend', () => {
  it.skipIf(hasTfjsNodeGpu)("'cuda' without CUDA explains how to get tfjs-node-gpu", async () => {
    const err = await selectBackend('cuda').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    const msg = (err as Error).message;
    expect(msg).toContain('@tensorflow/tfjs-node-gpu');
    expect(msg).toContain('CUDA 11.2');
    expect(msg).toContain('cuDNN 8.1');
    expect(msg).toContain('TFJS_NODE_CDN_STORAGE');
    expect(msg).toContain('no CUDA device (test)');
    expect((err as Error).cause).toBeInstanceOf(Error);
  });

  it('summaries shorten absolute paths to base names but keep relative commands whole', () => {
    const reason = 'CUDA addon at /work/app/node_modules/socratic-distill/native/cuda/build/socratic_cuda.node failed to load; rebuild it (node native/cuda/build.mjs --strict)';
    expect(withoutPaths(reason)).toBe('CUDA addon at socratic_cuda.node failed to load; rebuild it (node native/cuda/build.mjs --strict)');
    expect(withoutPaths("imported from C:\\app\\src\\runtime.ts")).toBe('imported from runtime.ts');
  });

  it("'native' throws the probe's reason and how to build the addon", async () => {
    const err = await selectBackend('native').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as BackendUnavailableError).backend).toBe('native-cpu');
    expect((err as Error).message).toMatch(/addon not built \(test\).*npm rebuild socratic-distill/);
  });

  it.skipIf(hasTfjsNodeGpu)("'auto' without native cores falls to tfjs-wasm and says why", async () => {
    const r = await selectBackend('auto');
    expect(r.backend).toBe('tfjs-wasm');
    expect(r.implementation).toBe('tfjs');
    expect(r.skipped.map((s) => s.backend)).toEqual(['native-cuda', 'tfjs-node-gpu', 'native-cpu']);
    expect(r.skipped[0]!.reason).toBe('no CUDA device (test)');
    expect(r.summary).toMatch(/^using tfjs-wasm \((no )?SIMD, 1 thread\) for selectBackend\('auto'\); passed over native-cuda/);
    expect(typeof r.simd).toBe('boolean');
    expect(r.versions['tfjs-core']).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.versions['tfjs-backend-wasm']).toBe(r.versions['tfjs-core']);
  });

  it("'auto' prefers native-cuda, then native-cpu, when their probes succeed", async () => {
    probes.cuda = fakeNative('native-cuda');
    probes.cpu = fakeNative('native-cpu');
    const cuda = await selectBackend('auto');
    expect([cuda.backend, cuda.device, cuda.skipped.length]).toEqual(['native-cuda', 'cuda', 0]);
    expect(await cuda.createCore(config)).toEqual({ fake: 'native-cuda' });
    probes.cuda = { ok: false, backend: 'native-cuda', reason: 'no CUDA device (test)' };
    const cpu = await selectBackend(hasTfjsNodeGpu ? 'cpu' : 'auto');
    expect([cpu.backend, cpu.implementation, cpu.simd, cpu.threads]).toEqual(['native-cpu', 'native', true, 2]);
  });

  it("'cpu' takes native-cpu when built, else tfjs-wasm", async () => {
    const wasm = await selectBackend('cpu');
    expect(wasm.backend).toBe('tfjs-wasm');
    expect(wasm.skipped).toEqual([{ backend: 'native-cpu', reason: 'addon not built (test)' }]);
    probes.cpu = fakeNative('native-cpu');
    expect((await selectBackend('cpu')).backend).toBe('native-cpu');
  });

  it.each(['wasm', 'tfjs-cpu'] as const)("'%s' builds a working tfjs core", async (prefer) => {
    const r = await selectBackend(prefer);
    expect(r.backend).toBe(prefer === 'wasm' ? 'tfjs-wasm' : 'tfjs-cpu');
    expect(r.skipped).toEqual([]);
    const core = await r.createCore(config, { seed: 1 });
    expect(core.info.backend).toBe(r.backend);
    const l = await core.loss({ batchSize: 1, seqLen: 4, inputIds: Int32Array.from([1, 2, 3, 4]), labels: Int32Array.from([1, 2, 3, 4]) });
    expect(l.tokens).toBe(3);
    expect(l.loss).toBeGreaterThan(0);
    core.dispose();
  });

  it('rejects an unknown preference', async () => {
    await expect(selectBackend('tpu' as never)).rejects.toBeInstanceOf(BackendUnavailableError);
  });
});
