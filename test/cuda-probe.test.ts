import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { presetConfig } from '../src/arch/config.js';

// These run everywhere (CI has nvcc but no GPU): the CUDA core must say clearly, in one line, why it is unusable.
const KNOWN_REASONS =
  /CUDA addon not built|failed to load|disabled by|no CUDA driver|no GPU visible|older than the CUDA runtime|compute capability|cuBLAS|CUDA initialisation failed/;
const REPO = resolve(__dirname, '..');

async function freshProbeModule(): Promise<typeof import('../src/backend/native/cudaProbe.js')> {
  vi.resetModules();
  return import('../src/backend/native/cudaProbe.js');
}

afterEach(() => {
  delete process.env.SOCRATIC_DISTILL_CUDA;
  delete process.env.SOCRATIC_DISTILL_DISABLE_CUDA;
  vi.resetModules();
});

describe('CUDA core probe without a usable GPU', () => {
  it('reports a clean one-line reason (or, on a GPU machine, a usable device)', async () => {
    const { probeNativeCudaImpl: probe } = await freshProbeModule();
    const p = probe();
    expect(p.backend).toBe('native-cuda');
    if (p.ok) {
      // A real GPU: the version line names the device and the precision.
      expect(p.version).toMatch(/CUDA runtime \d+\.\d+, driver \d+\.\d+, libcublas/);
      return;
    }
    expect(p.reason.length).toBeGreaterThan(10);
    expect(p.reason.length).toBeLessThan(300);
    expect(p.reason).not.toContain('\n');
    expect(p.reason).toMatch(KNOWN_REASONS);
  });

  it('names the addon file when the build is missing, and the loader error when it is not an addon', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cuda-probe-'));
    const bogus = join(dir, 'socratic_cuda.node');
    writeFileSync(bogus, 'not a shared library');
    process.env.SOCRATIC_DISTILL_CUDA = bogus;
    const bad = (await freshProbeModule()).probeNativeCudaImpl();
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.reason).toContain(`CUDA addon at ${bogus} failed to load`);
      expect(bad.reason).not.toContain('\n');
    }
    process.env.SOCRATIC_DISTILL_DISABLE_CUDA = '1';
    const off = (await freshProbeModule()).probeNativeCudaImpl();
    expect(off).toEqual({ ok: false, backend: 'native-cuda', reason: 'disabled by SOCRATIC_DISTILL_DISABLE_CUDA=1' });
  });

  it("selectBackend('cuda') throws BackendUnavailableError carrying the CUDA probe's reason", async () => {
    const { probeNativeCudaImpl: probe } = await freshProbeModule();
    const p = probe();
    if (p.ok) return; // a GPU machine: selection succeeds, covered by cuda-parity
    // Same module graph as select.js (resetModules gives fresh classes), so instanceof is meaningful.
    const { BackendUnavailableError } = await import('../src/errors.js');
    const { selectBackend } = await import('../src/backend/select.js');
    const { probeNativeCuda } = await import('../src/backend/native/probe.js');
    const wired = probeNativeCuda();
    const err = await selectBackend('cuda').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toContain('native-cuda');
    if (!wired.ok) expect((err as Error).message).toContain(wired.reason);
  });

  it('creating a core where CUDA is unusable fails with BackendUnavailableError, not a crash', async () => {
    const { loadCudaAddon } = await import('../src/backend/native/cudaAddon.js');
    const loaded = loadCudaAddon();
    if (!loaded.ok) return; // addon not built here: the probe test above covers the reason
    if (loaded.addon.probe().ok) return; // a real GPU
    const { NativeCore } = await import('../src/backend/native/core.js');
    const { BackendUnavailableError } = await import('../src/errors.js');
    const err = await NativeCore.create(presetConfig('tiny'), loaded.addon, { seed: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/^could not create the CUDA core: native-cuda: /);
  });
});

describe('native/cuda/build.mjs', () => {
  it('prints one line and exits 0 when it cannot build', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'native/cuda/build.mjs')], {
      env: { ...process.env, NVCC: '/nonexistent/bin/nvcc' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^socratic-distill: CUDA core (skipped|not built) \(.+\)$/);
  });
});
