import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireFirstAddon } from '../src/backend/native/common.js';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import { CORE_ABI, type CoreAddon } from '../src/backend/native/rawCore.js';

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

describe('addon loading', () => {
  it('refuses an addon built for another core interface, naming the rebuild command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sd-native-abi-'));
    try {
      // require() loads a .cjs module the way it loads a .node addon: enough to stand in for a stale build.
      const stale = join(dir, 'stale.cjs');
      writeFileSync(stale, 'module.exports = { NativeCore: function () {} };'); // before the shared interface: no abi
      const current = join(dir, 'current.cjs');
      writeFileSync(current, `module.exports = { abi: ${CORE_ABI}, device: 'cpu', GptCore: function () {} };`);
      const old = requireFirstAddon<CoreAddon>([stale], 'native addon', 'not built', 'node native/build.mjs --strict');
      expect(old).toEqual({
        ok: false,
        reason: `native addon at ${stale} failed to load: it implements core interface 1, this library needs ${CORE_ABI}; rebuild it (node native/build.mjs --strict)`,
      });
      const ok = requireFirstAddon<CoreAddon>([join(dir, 'missing.node'), current], 'native addon', 'not built', '');
      expect(ok.ok && ok.path).toBe(current);
      expect(requireFirstAddon<CoreAddon>([join(dir, 'missing.node')], 'native addon', 'not built', '')).toEqual({ ok: false, reason: 'not built' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
