import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeNativeCpu } from '../src/backend/native/probe.js';

const root = resolve(__dirname, '..');

describe('native/build.mjs', () => {
  it('prints one line and exits 0 when the addon cannot be built (install must not fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sd-native-build-'));
    try {
      for (const f of ['package.json', 'binding.gyp', 'native']) cpSync(join(root, f), join(dir, f), { recursive: true });
      symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
      const env = { ...process.env, CXX: '/nonexistent/c++', CC: '/nonexistent/cc' };
      const r = spawnSync(process.execPath, ['native/build.mjs'], { cwd: dir, env, encoding: 'utf8' });
      expect(r.status).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^socratic-distill: native core not built \(.+\), using tfjs$/);
      const strict = spawnSync(process.execPath, ['native/build.mjs', '--strict'], { cwd: dir, env, encoding: 'utf8' });
      expect(strict.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('probeNativeCpu answers in one line either way', () => {
    const p = probeNativeCpu();
    if (p.ok) {
      expect(p.backend).toBe('native-cpu');
      expect(['avx512', 'avx2', 'scalar']).toContain(p.simd);
      expect(p.threads).toBeGreaterThan(0);
      expect(p.version).toMatch(/^\d+\.\d+\.\d+ \(/);
    } else {
      expect(p.reason).not.toContain('\n');
      expect(p.reason.length).toBeGreaterThan(0);
    }
  });
});
