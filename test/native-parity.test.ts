import { beforeAll, describe, expect, it } from 'vitest';
import type { GPT2Config } from '../src/arch/config.js';
import { probeNativeCpu } from '../src/backend/native/probe.js';
import type { NamedTensors, TransformerCore } from '../src/backend/types.js';
import {
  fixtureBatch,
  fixtureBatchJson,
  fixtureConfig,
  fixtureGrads,
  fixtureJson,
  fixtureOutputs,
  fixtureParamsAfterStep,
  fixtureWeights,
  hasFixtures,
  maxAbs,
  maxAbsDiff,
} from './helpers/fixtures.js';

const probe = probeNativeCpu();
const skipReason = !probe.ok ? `native core unavailable: ${probe.reason}` : !hasFixtures ? 'GPT-2 fixtures not found' : '';
if (skipReason) console.warn(`[native-parity] skipped: ${skipReason}`);

async function makeCore(config: GPT2Config, weights: NamedTensors): Promise<TransformerCore> {
  if (!probe.ok) throw new Error(probe.reason);
  return probe.createCore(config, { weights });
}

function argmax(a: Float32Array, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[off + i]! > a[off + best]!) best = i;
  return best;
}

describe.skipIf(!!skipReason)('native CPU core matches the HF GPT-2 fixtures', () => {
  let config: GPT2Config;
  let weights: NamedTensors;
  let outputs: Awaited<ReturnType<typeof fixtureOutputs>>;
  beforeAll(async () => {
    config = fixtureConfig();
    weights = await fixtureWeights();
    outputs = await fixtureOutputs();
  });

  it('forward: logsumexp, last-4 logits (all and real positions), hidden states', async () => {
    const core = await makeCore(config, weights);
    const batch = fixtureBatch();
    const { logits, hiddenStates } = await core.forward(batch, { outputHiddenStates: true });
    const V = config.vocab_size;
    const T = batch.seqLen;
    const data = await logits.data();
    expect(logits.shape).toEqual([2, T, V]);

    const lse = new Float32Array(2 * T);
    for (let r = 0; r < 2 * T; r++) {
      let mx = -Infinity;
      for (let j = 0; j < V; j++) mx = Math.max(mx, data[r * V + j]!);
      let s = 0;
      for (let j = 0; j < V; j++) s += Math.exp(data[r * V + j]! - mx);
      lse[r] = mx + Math.log(s);
    }
    expect(maxAbsDiff(lse, outputs.get('logsumexp')!.data as Float32Array)).toBeLessThan(3e-5);

    const pick = (rows: number[][]): Float32Array => {
      const out = new Float32Array(2 * 4 * V);
      rows.forEach((positions, b) =>
        positions.forEach((t, k) => out.set(data.subarray((b * T + t) * V, (b * T + t + 1) * V), (b * 4 + k) * V)),
      );
      return out;
    };
    expect(maxAbsDiff(pick([[12, 13, 14, 15], [12, 13, 14, 15]]), outputs.get('logits_last4')!.data as Float32Array)).toBeLessThan(5e-5);
    const real = fixtureBatchJson().last4_real_positions;
    expect(maxAbsDiff(pick(real), outputs.get('logits_last4_real')!.data as Float32Array)).toBeLessThan(5e-5);

    const hs = outputs.get('hidden_states')!.data as Float32Array;
    expect(hiddenStates).toHaveLength(config.n_layer + 1);
    const per = 2 * T * config.n_embd;
    hiddenStates!.forEach((h, i) => expect(maxAbsDiff(h, hs.subarray(i * per, (i + 1) * per))).toBeLessThan(1e-4));
    logits.dispose();
    core.dispose();
  });

  it('loss, every gradient and the pre-clip gradient norm', async () => {
    const core = await makeCore(config, weights);
    const batch = fixtureBatch();
    const plain = await core.loss(batch);
    expect(plain.tokens).toBe(16);
    expect(Math.abs(plain.loss - (outputs.get('loss')!.data as Float32Array)[0]!)).toBeLessThan(3e-5);

    core.zeroGradients();
    const acc = await core.accumulateGradients(batch);
    expect(acc.loss).toBeCloseTo(plain.loss, 6);
    const grads = await core.getGradients();
    const ref = await fixtureGrads();
    expect([...grads.keys()].sort()).toEqual([...ref.keys()].sort());
    let sq = 0;
    for (const [name, g] of grads) {
      const r = ref.get(name)!;
      expect(g.shape, name).toEqual(r.shape);
      const diff = maxAbsDiff(g.data, r.data);
      expect(diff, name).toBeLessThanOrEqual(2e-5 * maxAbs(r.data) + 1e-9);
      for (const x of g.data) sq += x * x;
    }
    const normRef = (outputs.get('grad_norm_preclip')!.data as Float32Array)[0]!;
    expect(Math.abs(Math.sqrt(sq) - normRef) / normRef).toBeLessThan(1e-4);

    // Accumulating the same batch again with scale 0.5 gives 1.5x the gradient.
    await core.accumulateGradients(batch, 0.5);
    const g2 = await core.getGradients();
    const name = 'transformer.h.1.mlp.c_fc.weight';
    const a = grads.get(name)!.data;
    const b = g2.get(name)!.data;
    expect(maxAbsDiff(b, a.map((x) => 1.5 * x))).toBeLessThan(1e-6 * maxAbs(a) + 1e-9);
    core.dispose();
  });

  it('one clipped AdamW step reproduces params_after_step', async () => {
    const core = await makeCore(config, weights);
    const res = await core.trainStep(fixtureBatch(), { lr: 1e-3, weightDecay: 0.01, maxGradNorm: 1.0 });
    const meta = fixtureJson<{ clip_coef: number; grad_norm_preclip: number }>('fixture_meta.json');
    expect(res.step).toBe(1);
    expect(Math.abs(res.gradNorm - meta.grad_norm_preclip) / meta.grad_norm_preclip).toBeLessThan(1e-4);
    expect(Math.abs(res.clipCoef - meta.clip_coef)).toBeLessThan(1e-4 * meta.clip_coef);
    const after = await core.getWeights();
    const ref = await fixtureParamsAfterStep();
    const grads = await fixtureGrads();
    // Adam's first step is g/(|g|+eps): where the clipped gradient is below ~1e-7 (fp32 noise level,
    // e.g. the key bias whose true gradient is 0) any implementation's rounding moves the update by up
    // to lr. The README allows 2*lr there; every other element must match to 1e-5.
    const sensitive = (name: string, i: number): boolean => {
      if (name.endsWith('attn.c_attn.bias') && i >= config.n_embd && i < 2 * config.n_embd) return true; // key bias, true grad 0
      const g = Math.abs(grads.get(name)!.data[i]! * res.clipCoef);
      return g !== 0 && g < 1e-7; // exact zeros (unused wpe rows) take the decay-only path everywhere
    };
    let checked = 0;
    let loose = 0;
    let total = 0;
    for (const [name, t] of after) {
      let ours = t.data;
      let theirs: Float32Array;
      let index = (i: number): number => i;
      if (name === 'transformer.wte.weight') {
        const rows = ref.get('transformer.wte.weight.rows')!.data as Float32Array;
        const ids = ref.get('transformer.wte.weight.row_ids')!.data as Int32Array;
        const C = config.n_embd;
        ours = new Float32Array(rows.length);
        ids.forEach((id, k) => ours.set(t.data.subarray(id * C, (id + 1) * C), k * C));
        theirs = rows;
        index = (i) => ids[Math.floor(i / C)]! * C + (i % C);
      } else {
        theirs = ref.get(name)!.data as Float32Array;
      }
      let worst = 0;
      for (let i = 0; i < ours.length; i++) {
        const d = Math.abs(ours[i]! - theirs[i]!);
        total++;
        if (sensitive(name, index(i))) {
          loose++;
          expect(d, `${name}[${i}] (tiny gradient)`).toBeLessThan(2e-3);
        } else worst = Math.max(worst, d);
      }
      expect(worst, name).toBeLessThan(1e-5);
      checked++;
    }
    // The loose bound must stay the exception (key biases and wte rows of tokens that only the softmax touches: 1.6%).
    expect(loose / total).toBeLessThan(0.03);
    expect(checked).toBe(28);
    core.dispose();
  });

  interface GenerateJson {
    single: { prompt: number[]; output: number[] };
    batch_left_padded: {
      input_ids: number[][];
      attention_mask: number[][];
      position_ids_prompt: number[][];
      output: number[][];
      row_B_unpadded_single_output: number[];
    };
  }

  async function greedy(core: TransformerCore, ids: number[][], mask: number[][], pos: number[][], steps: number): Promise<number[][]> {
    const B = ids.length;
    const T = ids[0]!.length;
    const V = config.vocab_size;
    const session = await core.startDecode(
      { batchSize: B, seqLen: T, inputIds: Int32Array.from(ids.flat()), attentionMask: Uint8Array.from(mask.flat()), positionIds: Int32Array.from(pos.flat()) },
      { maxLength: T + steps },
    );
    const out = ids.map((r) => [...r]);
    const next = pos.map((r) => Math.max(...r) + 1);
    let logits = session.lastLogits;
    for (let s = 0; s < steps; s++) {
      const tokens = Int32Array.from({ length: B }, (_, b) => argmax(logits, b * V, V));
      tokens.forEach((t, b) => out[b]!.push(t));
      if (s === steps - 1) break;
      logits = await session.step(tokens, Int32Array.from(next));
      next.forEach((_, b) => next[b]!++);
    }
    expect(session.length).toBe(T + steps - 1);
    session.dispose();
    return out;
  }

  it('greedy KV-cache decode: single prompt and a left-padded batch', async () => {
    const core = await makeCore(config, weights);
    const gen = fixtureJson<GenerateJson>('generate.json');
    const p = gen.single.prompt;
    const single = await greedy(core, [p], [p.map(() => 1)], [p.map((_, i) => i)], 20);
    expect(single[0]).toEqual(gen.single.output);
    const lp = gen.batch_left_padded;
    const batch = await greedy(core, lp.input_ids, lp.attention_mask, lp.position_ids_prompt, 20);
    expect(batch).toEqual(lp.output);
    // A 5-token prompt takes the row-kernel prefill path (the others use per-head GEMMs).
    const rowB = lp.row_B_unpadded_single_output.slice(0, 5);
    const unpadded = await greedy(core, [rowB], [rowB.map(() => 1)], [rowB.map((_, i) => i)], 20);
    expect(unpadded[0]).toEqual(lp.row_B_unpadded_single_output);
    expect(core.memory().bytes).toBeGreaterThan(0);
    core.dispose();
    expect(core.memory().bytes).toBe(0);
  });
});
