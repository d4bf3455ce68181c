import { describe, expect, it } from 'vitest';
import { parseGPT2Config } from '../src/arch/config.js';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import type { LabeledBatch } from '../src/backend/types.js';
import { Rng } from '../src/util/rng.js';

const probe = probeNativeCpu();
if (!probe.ok) console.warn(`[native-memory] skipped: native core unavailable: ${probe.reason}`);

const config = parseGPT2Config({ vocab_size: 512, n_positions: 64, n_embd: 64, n_layer: 2, n_head: 4 });

function batch(rng: Rng, B: number, T: number): LabeledBatch {
  const inputIds = Int32Array.from({ length: B * T }, () => rng.int(config.vocab_size));
  return { batchSize: B, seqLen: T, inputIds, labels: inputIds.slice() };
}

const MiB = 1024 * 1024;

describe.skipIf(!probe.ok)('native CPU core memory', () => {
  it('RSS stays flat over 500 training steps with forwards, decodes and core re-creation', async () => {
    if (!probe.ok) return;
    const rng = new Rng(1);
    const core = await probe.createCore(config, { seed: 1 });
    const round = async (i: number): Promise<void> => {
      // Alternate shapes so the activation plan is re-used, not re-grown.
      const b = batch(rng, 2 + (i % 3), 16 + 8 * (i % 2));
      await core.trainStep(b, { lr: 1e-3 });
      if (i % 5 === 0) {
        const f = await core.forward(b, { outputHiddenStates: true });
        f.logits.dispose();
        const s = await core.startDecode({ batchSize: 2, seqLen: 4, inputIds: b.inputIds.subarray(0, 8) }, { maxLength: 64 });
        await s.step(Int32Array.of(1, 2), Int32Array.of(4, 4));
        s.dispose();
        await core.getWeights();
        await core.getOptimizerState();
      }
      if (i % 25 === 0) {
        const other = await probe.createCore(config, { seed: i });
        await other.trainStep(b, { lr: 1e-3 });
        other.dispose();
      }
    };
    // Warm-up: every shape, allocator arenas of the libuv worker threads, V8 heap sizing.
    for (let i = 0; i < 150; i++) await round(i);
    global.gc?.();
    const bytesBefore = core.memory().bytes;
    const rssBefore = process.memoryUsage().rss;
    const samples: number[] = [];
    for (let i = 150; i < 650; i++) {
      await round(i);
      if (i % 100 === 99) samples.push(process.memoryUsage().rss);
    }
    global.gc?.();
    const rssAfter = process.memoryUsage().rss;
    // The core's own accounting must not grow at all once every shape has been seen.
    expect(core.memory().bytes).toBe(bytesBefore);
    // One leaked logits array per forward would be 50 x 3 x 24 x 512 x 4 B = 7 MiB, a leaked
    // core per 50 steps ~ 10 MiB; allow allocator slack well below the sum of those.
    console.log(`[native-memory] RSS MiB after warm-up ${(rssBefore / MiB).toFixed(1)}, every 100 steps: ${samples.map((x) => (x / MiB).toFixed(1)).join(' ')}`);
    expect((rssAfter - rssBefore) / MiB).toBeLessThan(12);
    core.dispose();
    expect(core.memory().bytes).toBe(0);
  });
});
