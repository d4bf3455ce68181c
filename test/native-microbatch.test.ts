import { describe, expect, it } from 'vitest';
import { type ModelConfig, parseGPT2Config } from '../src/arch/config.js';
import { parseLlamaConfig } from '../src/arch/llama.js';
import { resolveLora } from '../src/arch/lora.js';
import { rowChunks, sliceRows, targetsIn } from '../src/backend/microbatch.js';
import { loadNativeAddon } from '../src/backend/native/addon.js';
import { NativeCore, type NativeCoreOptions, rawCoreConfig } from '../src/backend/native/core.js';
import type { LabeledBatch, NamedTensors } from '../src/backend/types.js';
import { ShapeError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';
import { maxAbs, maxAbsDiff } from './helpers/fixtures.js';

// A batch whose activations pass the core's budget runs in row micro-batches (src/backend/microbatch.ts) with the
// whole batch's mean loss and gradient: checked here against the same core unsplit, with padding, ignored targets and
// a row without any target, on GPT-2, a Qwen3-style Llama and a LoRA core, through a clip + AdamW step.
const loaded = loadNativeAddon();
if (!loaded.ok) console.warn(`[native-microbatch] skipped: native addon unavailable: ${loaded.reason}`);

const gpt2 = parseGPT2Config({ vocab_size: 70, n_positions: 16, n_embd: 32, n_layer: 2, n_head: 4 });
const qwen3 = parseLlamaConfig({
  model_type: 'qwen3', vocab_size: 90, hidden_size: 24, intermediate_size: 40, num_hidden_layers: 2, max_position_embeddings: 32,
  num_attention_heads: 6, num_key_value_heads: 3, head_dim: 8, rope_theta: 1e6, tie_word_embeddings: false, rms_norm_eps: 1e-6,
});

/** 5 rows of 12: row 1 right-padded (mask 0, labels -100), row 3 without any target, some targets ignored. */
function batch(config: ModelConfig, seed: number): LabeledBatch {
  const rng = new Rng(seed);
  const [B, T] = [5, 12];
  const inputIds = Int32Array.from({ length: B * T }, () => rng.int(config.vocab_size));
  const attentionMask = Uint8Array.from({ length: B * T }, (_, i) => (Math.floor(i / T) === 1 && i % T >= 8 ? 0 : 1));
  const labels = Int32Array.from(inputIds, (id, i) => (attentionMask[i] === 0 || Math.floor(i / T) === 3 || i % 7 === 2 ? -100 : id));
  return { batchSize: B, seqLen: T, inputIds, attentionMask, labels };
}

describe('rowChunks and targetsIn', () => {
  it('splits rows into the fewest chunks of at most maxRows, sizes within one', () => {
    expect(rowChunks(4, 4)).toEqual([[0, 4]]);
    expect(rowChunks(4, 1)).toEqual([[0, 1], [1, 2], [2, 3], [3, 4]]);
    expect(rowChunks(5, 2)).toEqual([[0, 1], [1, 3], [3, 5]]);
    expect(rowChunks(5, 3)).toEqual([[0, 2], [2, 5]]);
    expect(rowChunks(3, 0)).toEqual([[0, 1], [1, 2], [2, 3]]);
  });
  it('counts the targets that carry loss: labels[:, t >= 1] that are not -100', () => {
    const b = batch(gpt2, 1);
    expect(targetsIn(b, 3, 4)).toBe(0);
    let n = 0;
    for (let r = 0; r < 5; r++) for (let t = 1; t < 12; t++) if (b.labels[r * 12 + t] !== -100) n++;
    expect(targetsIn(b, 0, 5)).toBe(n);
  });
});

describe.skipIf(!loaded.ok)('native core micro-batches', () => {
  const make = (config: ModelConfig, options: NativeCoreOptions): Promise<NativeCore> => {
    if (!loaded.ok) throw new Error('no addon');
    return NativeCore.create(config, loaded.addon, { seed: 4, ...options });
  };
  const close = (a: NamedTensors, b: NamedTensors, tol: number, skip?: RegExp): void => {
    for (const [name, t] of a) {
      if (skip?.test(name)) continue;
      const scale = Math.max(1e-6, maxAbs(t.data));
      expect(maxAbsDiff(t.data, b.get(name)!.data) / scale, name).toBeLessThan(tol);
    }
  };

  const cases = [
    { what: 'GPT-2', config: gpt2, lora: undefined },
    { what: 'Qwen3-style Llama', config: qwen3, lora: undefined },
    { what: 'Qwen3-style Llama with LoRA on every projection', config: qwen3, lora: resolveLora(qwen3, { r: 4, alpha: 8, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }) },
  ];

  it.each(cases)('$what: one row per chunk gives the whole batch’s loss, gradients and AdamW step', async ({ config, lora }) => {
    const spec = lora ? { lora: { spec: lora } } : {};
    const whole = await make(config, { activationBudgetBytes: Number.POSITIVE_INFINITY, ...spec });
    // 1 byte: no row fits, so every chunk is one row.
    const split = await make(config, { activationBudgetBytes: 1, ...spec });
    const b = batch(config, 2);
    const [lw, ls] = [await whole.loss(b), await split.loss(b)];
    expect(ls.tokens).toBe(lw.tokens);
    expect(targetsIn(b, 0, 5)).toBe(lw.tokens);
    expect(Math.abs(ls.loss - lw.loss) / lw.loss).toBeLessThan(1e-5);
    // Gradients with a scale, twice (accumulation), then one clipped AdamW step.
    for (const core of [whole, split]) {
      await core.accumulateGradients(b, 0.5);
      await core.accumulateGradients(batch(config, 3), 0.5);
    }
    close(await whole.getGradients(), await split.getGradients(), 1e-4);
    const step = { lr: 1e-2, maxGradNorm: 0.5 };
    const [ow, os] = [await whole.applyOptimizer(step), await split.applyOptimizer(step)];
    expect(Math.abs(os.gradNorm - ow.gradNorm) / ow.gradNorm).toBeLessThan(1e-4);
    // GPT-2's key bias gets exactly zero gradient (the softmax ignores it), so AdamW turns the two orders' rounding
    // noise there into steps of about +-lr: that tensor is checked against AdamW's bound instead.
    // AdamW's first step is about lr * sign(g) per element, so where a gradient is at rounding level (GPT-2's key
    // bias gets exactly zero: the softmax ignores it) the two summation orders may step opposite ways. So: every
    // element within AdamW's bound of 2 lr, and all but a few within 1% of lr.
    const [ww, ws] = [await whole.getWeights(), await split.getWeights()];
    let [apart, total] = [0, 0];
    for (const [name, t] of ww) {
      const other = ws.get(name)!.data;
      expect(maxAbsDiff(t.data, other), name).toBeLessThanOrEqual(2.0001 * step.lr);
      for (let i = 0; i < t.data.length; i++) if (Math.abs(t.data[i]! - other[i]!) > 0.01 * step.lr) apart++;
      total += t.data.length;
    }
    expect(apart / total).toBeLessThan(0.002);
    // trainStep goes through the same path.
    const [tw, ts] = [await whole.trainStep(b, step), await split.trainStep(b, step)];
    expect(Math.abs(ts.loss - tw.loss) / tw.loss).toBeLessThan(1e-4);
    whole.dispose();
    split.dispose();
  });

  it('plans activations for one chunk only, and picks the most rows the budget holds', async () => {
    if (!loaded.ok) return;
    const b = batch(qwen3, 5);
    /** Bytes a core with `budget` holds after one training step on the first `rows` rows of `b`. */
    const held = async (budget: number, rows = 5): Promise<number> => {
      const core = await make(qwen3, { activationBudgetBytes: budget });
      await core.trainStep(sliceRows(b, 0, rows), { lr: 1e-3 });
      const bytes = core.memory().bytes;
      core.dispose();
      return bytes;
    };
    const raw = rawCoreConfig(qwen3);
    const est = (rows: number): number => loaded.addon.estimateBytes(raw, rows, 12);
    // A budget that holds two rows' activations: 5 rows run as 1 + 2 + 2.
    const [all, one, two] = [await held(Number.POSITIVE_INFINITY), await held(1), await held(est(2) - loaded.addon.estimateBytes(raw, 1, 1))];
    expect(one).toBeLessThan(two);
    expect(two).toBeLessThan(all);
    // Each holds what an unsplit core holds after a step of its chunk's rows.
    const unsplit = (rows: number): Promise<number> => held(Number.POSITIVE_INFINITY, rows);
    // (within 2%: the head's logit chunk is sized by the rows of a call, and vector capacities round up)
    for (const [got, rows] of [[one, 1], [two, 2]] as const) expect(Math.abs(got - (await unsplit(rows))) / got).toBeLessThan(0.02);
  });

  it('refuses a budget that is not a positive number', async () => {
    await expect(make(gpt2, { activationBudgetBytes: 0 })).rejects.toThrow(ShapeError);
    await expect(make(gpt2, { activationBudgetBytes: Number.NaN })).rejects.toThrow(/activationBudgetBytes/);
  });
});
