import { describe, expect, it } from 'vitest';
import { KEEP_MARKER, renderDoc, spliceSection } from '../bench/report.js';
import { pairedRow } from '../bench/finetune-paired.js';
import { FINETUNE_HEAD, type FinetuneResult, finetuneComparison, finetuneRow, nativeEstimate, runFinetune, torchEstimate } from '../bench/finetune.js';
import { loadNativeAddon } from '../src/backend/native/addon.js';

// The fine-tuning section of the bench (bench/finetune.ts) without running a model: cases above the memory limit
// are refused from their estimates before any process starts, and the comparison reads the targets right.
const loaded = loadNativeAddon();
const GiB = 2 ** 30;

describe('bench fine-tuning section', () => {
  it.skipIf(!loaded.ok)('estimates Qwen3-0.6B from the buffer plan and refuses what passes the limit without starting it', async () => {
    if (!loaded.ok) return;
    const addon = loaded.addon;
    // Full: 16 bytes a parameter (596M) plus activations; LoRA: the frozen base once plus the same activations.
    const full = nativeEstimate(addon, 'qwen3-0.6b', 'full', 4, 512);
    const lora = nativeEstimate(addon, 'qwen3-0.6b', 'lora', 4, 512);
    expect(full / GiB).toBeGreaterThan(16 * 0.596e9 / GiB);
    expect(lora / full).toBeLessThan(0.55);
    expect(torchEstimate('qwen3-0.6b', 'full', 4, 512)).toBeGreaterThan(full);
    const lines: string[] = [];
    const results = await runFinetune(addon, ['qwen3-0.6b'], { quick: true, limitBytes: 2 * GiB, torchPy: '/nonexistent/python', log: (l) => lines.push(l) });
    expect(results).toHaveLength(8); // 2 shapes x full/LoRA x native/PyTorch
    for (const r of results) {
      expect(r.status).toBe('refused');
      expect(r.reason).toMatch(/needs about \d+\.\d\d GiB by its estimate, above the 2\.00 GiB limit \(--memory-limit\)/);
      expect(r.tokensPerS).toBeNull();
    }
    expect(lines).toHaveLength(8);
    expect(lines[0]).toMatch(/^\| qwen3-0\.6b \| 1x512 \| full \| native CPU \| n\/a \| n\/a \| n\/a \| n\/a \| \d+\.\d\d GiB \| 0 \|/);
  });

  it('compares LoRA with full per shape and core, with the targets on the native rows only', () => {
    const r = (mode: 'full' | 'lora', impl: 'native' | 'torch', tps: number | null, peak: number | null, status: FinetuneResult['status'] = 'measured'): FinetuneResult => ({
      config: 'qwen3-0.6b', mode, B: 4, T: 512, impl, status, estimateBytes: 20 * GiB, tokensPerS: tps, peakRssBytes: peak, cpuPerStep: tps ? 100 / tps : null, createPeakBytes: null,
      samples: tps ? 3 : 0, reason: status === 'measured' ? null : 'needs more', load: 1,
    });
    const rows = finetuneComparison([r('full', 'native', 10, 12 * GiB), r('lora', 'native', 15, 4.5 * GiB), r('full', 'torch', null, null, 'refused'), r('lora', 'torch', 5, 8 * GiB)]);
    // No paired case: the separate processes' ratio carries the verdict.
    expect(rows[2]).toBe('| qwen3-0.6b | 4x512 | native CPU | n/a | 1.50x met | 1.50x | 38% met |');
    // PyTorch's full case was refused: its memory is the estimate, said so; no speed ratio and no verdict.
    expect(rows[3]).toBe('| qwen3-0.6b | 4x512 | PyTorch (plain; LoRA by hand) | n/a | n/a | n/a | 40% (full: its estimate) |');
    // With a paired case, its ratio carries the verdict and the separate one is shown bare.
    const paired = finetuneComparison([r('full', 'native', 10, 12 * GiB), r('lora', 'native', 15, 4.5 * GiB)], [{ config: 'qwen3-0.6b', B: 4, T: 512, ratio: 1.32 }]);
    expect(paired[2]).toBe('| qwen3-0.6b | 4x512 | native CPU | 1.32x **not met** | 1.50x | 1.50x | 38% met |');
    const slow = finetuneComparison([r('full', 'native', 10, 10 * GiB), r('lora', 'native', 13, 4.5 * GiB)]);
    expect(slow[2]).toContain('1.30x **not met**');
    expect(slow[2]).toContain('45% **not met**');
    expect(finetuneRow(r('full', 'torch', null, null, 'refused'))).toContain('refused: needs more');
  });

  it('goes into docs/benchmarks.md when it ran', () => {
    const doc = renderDoc({
      date: '2030-01-01T00:00:00Z', baseline: 'b', sameRun: 's', machine: { cpu: 'c', cores: 2, memGiB: 24, flags: '', node: 'v20' }, backends: [], figures: [],
      profiles: [], notes: [], loadBefore: [0, 0, 0], loadAfter: [0, 0, 0], command: 'npm run bench -- --config qwen3-0.6b', finetune: ['## Fine-tuning: full against LoRA (issue #19)', FINETUNE_HEAD],
    });
    expect(doc).toContain('## Fine-tuning: full against LoRA (issue #19)');
  });

  it('a paired case reports both modes and judges the speed target on their ratio', () => {
    const base = { config: 'smollm2-135m' as const, B: 1, T: 512, status: 'measured' as const, reason: null, samples: 3, load: 2 };
    expect(pairedRow({ ...base, loraTokensPerS: 150, fullTokensPerS: 100 })).toBe('| smollm2-135m | 1x512 | 150.0 | 100.0 | 1.50x met | 3 | 2.00 |  |');
    expect(pairedRow({ ...base, status: 'refused', reason: 'needs 30 GiB', loraTokensPerS: null, fullTokensPerS: null, samples: 0 })).toContain('| n/a | 0 | 2.00 | refused: needs 30 GiB |');
  });

  it('a --finetune-only run replaces the fine-tuning section of docs/benchmarks.md and keeps the rest', () => {
    const doc = ['# Benchmarks', '', '## Figures', 'old figures', '', '## Fine-tuning: full against LoRA (issue #19)', 'old fine-tuning', '', '## Notes', '- n', '', KEEP_MARKER, 'kept'].join('\n');
    const out = spliceSection(doc, ['## Fine-tuning: full against LoRA (issue #19)', 'new fine-tuning']);
    expect(out).toContain('old figures');
    expect(out).not.toContain('old fine-tuning');
    expect(out.indexOf('new fine-tuning')).toBeLessThan(out.indexOf('## Notes'));
    expect(out.endsWith(`${KEEP_MARKER}\nkept`)).toBe(true);
    // A file without the section gets it before the kept part.
    const fresh = spliceSection(['# Benchmarks', KEEP_MARKER, 'kept'].join('\n'), ['## Fine-tuning', 'x']);
    expect(fresh).toBe(['# Benchmarks', '## Fine-tuning', 'x', '', KEEP_MARKER, 'kept'].join('\n'));
  });
});
