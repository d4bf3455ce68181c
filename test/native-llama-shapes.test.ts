import { describe, expect, it } from 'vitest';
import { type ModelConfig, parseModelConfig } from '../src/arch/config.js';
import { nativeLayoutTable, paramLayout } from '../src/arch/layout.js';
import { loadNativeAddon } from '../src/backend/native/addon.js';
import { NativeCore, rawCoreConfig } from '../src/backend/native/core.js';
import type { CoreAddon, RawCoreConfig } from '../src/backend/native/rawCore.js';
import type { LabeledBatch, NamedTensors, TransformerCore } from '../src/backend/types.js';
import { BackendUnavailableError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';

// Llama-family shapes the HF fixtures (native-llama-parity.test.ts) do not have, on the native CPU core:
// 6 query heads over 2 KV heads, head_dim != hidden / heads, q/k/v biases (qwen2), an o_proj bias
// (attention_bias), per-head q/k norms with such a head_dim (qwen3), tied and untied heads. Without a reference
// model for these, every gradient tensor is checked against central finite differences of the core's own
// float32 loss, and KV-cache decoding against a full forward. A broken layout table is refused by role.
const loaded = loadNativeAddon();
const skip = !loaded.ok;
if (skip) console.warn(`[native-llama-shapes] skipped: native core unavailable`);

const base = { vocab_size: 37, hidden_size: 24, intermediate_size: 40, num_hidden_layers: 2, max_position_embeddings: 64, rms_norm_eps: 1e-6 };
const SHAPES: Array<{ name: string; config: Record<string, unknown> }> = [
  {
    name: 'qwen2: 6 heads over 2 KV heads, head_dim 8 (hidden/heads = 4), q/k/v biases, untied (per-head GEMM attention)',
    config: { ...base, model_type: 'qwen2', num_attention_heads: 6, num_key_value_heads: 2, head_dim: 8, tie_word_embeddings: false, rope_theta: 1e6 },
  },
  {
    name: 'llama: 6 heads over 2 KV heads, head_dim 16, q/k/v and o biases, tied (direct attention kernels)',
    config: { ...base, model_type: 'llama', num_attention_heads: 6, num_key_value_heads: 2, head_dim: 16, attention_bias: true, tie_word_embeddings: true, rope_theta: 1e4 },
  },
  {
    name: 'qwen3: 6 heads over 3 KV heads, head_dim 12, q/k norms, untied',
    config: { ...base, model_type: 'qwen3', num_attention_heads: 6, num_key_value_heads: 3, head_dim: 12, tie_word_embeddings: false, rope_theta: 1e6 },
  },
];

/** Weights far from HF's init (as the fixtures are), so every gradient is well away from zero: norms 1+0.2N,
 * biases 0.1N, matrices 0.3N. */
function randomWeights(config: ModelConfig, seed: number): NamedTensors {
  const rng = new Rng(seed);
  const out: NamedTensors = new Map();
  for (const s of paramLayout(config)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNorm = /norm\.weight$/.test(s.role);
    for (let i = 0; i < n; i++) data[i] = isNorm ? 1 + 0.2 * rng.normal() : (s.shape.length === 1 ? 0.1 : 0.3) * rng.normal();
    out.set(s.name, { shape: [...s.shape], data });
  }
  return out;
}

/**
 * Rows: full, right-padded, left-padded (positions cumsum(mask) - 1, pads 0). The left-padded row's first real
 * token gets no label: its logits would come from the last pad, a query that sees no key, where HF (and so the
 * core) differentiates the scores of a uniform row although in float32 they do not move the loss (score + finfo.min
 * rounds to finfo.min), so finite differences would disagree there by design.
 */
function makeBatch(vocab: number): LabeledBatch {
  const rng = new Rng(3);
  const T = 11;
  const rows: Array<[number, number]> = [[0, T], [0, 7], [4, 7]];
  const B = rows.length;
  const inputIds = new Int32Array(B * T);
  const attentionMask = new Uint8Array(B * T);
  const positionIds = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(-100);
  rows.forEach(([start, len], b) => {
    for (let t = 0; t < T; t++) {
      const real = t >= start && t < start + len;
      inputIds[b * T + t] = real ? 1 + rng.int(vocab - 1) : 0;
      attentionMask[b * T + t] = real ? 1 : 0;
      positionIds[b * T + t] = real ? t - start : 0;
      const firstAfterPads = start > 0 && t === start;
      if (real && !firstAfterPads) labels[b * T + t] = inputIds[b * T + t]!;
    }
  });
  return { batchSize: B, seqLen: T, inputIds, attentionMask, positionIds, labels };
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/**
 * The loss's derivative along the unit direction u of one tensor by central differences, Richardson-extrapolated
 * (error O(h^4)), so a step large enough to rise above float32 round-off of the loss still has no visible bias.
 */
async function directional(core: TransformerCore, weights: NamedTensors, name: string, u: Float32Array, batch: LabeledBatch): Promise<number> {
  const t = weights.get(name)!;
  const at = async (eps: number): Promise<number> => {
    const moved = new Map(weights);
    moved.set(name, { shape: t.shape, data: t.data.map((x, i) => x + eps * u[i]!) });
    await core.setWeights(moved);
    return (await core.loss(batch)).loss;
  };
  const d = async (h: number): Promise<number> => ((await at(h)) - (await at(-h))) / (2 * h);
  const h = 0.02;
  const r = (4 * (await d(h / 2)) - (await d(h))) / 3;
  await core.setWeights(weights);
  return r;
}

function unit(v: Float32Array): Float32Array {
  const n = Math.sqrt(dot(v, v));
  return v.map((x) => x / n);
}

describe.skipIf(skip).each(SHAPES)('native CPU core, Llama family: $name', ({ config: raw }) => {
  const config = parseModelConfig(raw, 'test config');
  const V = config.vocab_size;

  it('every gradient tensor agrees with central finite differences of the loss', async () => {
    const weights = randomWeights(config, 11);
    const core = await NativeCore.create(config, loaded.ok ? loaded.addon : (undefined as never), { weights });
    try {
      const batch = makeBatch(V);
      core.zeroGradients();
      await core.accumulateGradients(batch);
      const grads = await core.getGradients();
      expect([...grads.keys()].sort()).toEqual(paramLayout(config).map((s) => s.name).sort());
      const rng = new Rng(7);
      for (const [name, g] of grads) {
        const norm = Math.sqrt(dot(g.data, g.data));
        expect(norm, `${name} has a zero gradient`).toBeGreaterThan(1e-4);
        // Along the gradient itself (its norm; a wrong component anywhere shows up) and along a random direction.
        const along = await directional(core, weights, name, unit(g.data), batch);
        expect(Math.abs(along - norm), `${name}: d/dg ${along} vs |g| ${norm}`).toBeLessThan(2e-3 * norm + 2e-4);
        const r = unit(g.data.map(() => rng.normal()));
        const random = await directional(core, weights, name, r, batch);
        expect(Math.abs(random - dot(g.data, r)), `${name}: random direction ${random} vs ${dot(g.data, r)}`).toBeLessThan(2e-3 * norm + 2e-4);
      }
    } finally {
      core.dispose();
    }
  });

  it('KV-cache decoding gives the logits of a full forward, single and left-padded', async () => {
    const core = await NativeCore.create(config, loaded.ok ? loaded.addon : (undefined as never), { weights: randomWeights(config, 12) });
    try {
      const rng = new Rng(9);
      // Prompts of 10 (the prefill's block kernels) and 5 tokens (its row kernel), the second row left-padded.
      for (const T0 of [10, 5]) {
        const B = 2;
        const ids = [Array.from({ length: T0 }, () => rng.int(V)), Array.from({ length: T0 }, () => rng.int(V))];
        const mask = [ids[0]!.map(() => 1), ids[1]!.map((_, t) => (t < 3 ? 0 : 1))];
        const pos = mask.map((row) => {
          let c = 0;
          return row.map((m) => (m ? c++ : 0));
        });
        const steps = 6;
        const session = await core.startDecode(
          { batchSize: B, seqLen: T0, inputIds: Int32Array.from(ids.flat()), attentionMask: Uint8Array.from(mask.flat()), positionIds: Int32Array.from(pos.flat()) },
          { maxLength: T0 + steps },
        );
        try {
          let last = session.lastLogits;
          for (let s = 0; ; s++) {
            const T = ids[0]!.length;
            const full = await core.forward({
              batchSize: B,
              seqLen: T,
              inputIds: Int32Array.from(ids.flat()),
              attentionMask: Uint8Array.from(mask.flat()),
              positionIds: Int32Array.from(pos.flat()),
            });
            const all = await full.logits.data();
            full.logits.dispose();
            for (let b = 0; b < B; b++) {
              const ref = all.subarray((b * T + T - 1) * V, (b * T + T) * V);
              let worst = 0;
              for (let j = 0; j < V; j++) worst = Math.max(worst, Math.abs(last[b * V + j]! - ref[j]!));
              expect(worst, `prompt ${T0}, step ${s}, row ${b}`).toBeLessThan(1e-4);
            }
            if (s === steps) break;
            const next = [rng.int(V), rng.int(V)];
            const nextPos = pos.map((r) => Math.max(...r) + 1);
            next.forEach((tok, b) => {
              ids[b]!.push(tok);
              mask[b]!.push(1);
              pos[b]!.push(nextPos[b]!);
            });
            if (s === steps - 1) break;
            last = await session.step(Int32Array.from(next), Int32Array.from(nextPos));
          }
        } finally {
          session.dispose();
        }
      }
    } finally {
      core.dispose();
    }
  });
});

/** The RawCoreConfig NativeCore hands the addon, with the table replaced. */
function rawConfig(config: ModelConfig, tensors: RawCoreConfig['tensors']): RawCoreConfig {
  return { ...rawCoreConfig(config), tensors };
}

describe.skipIf(skip)('native CPU core layout table', () => {
  const qwen2 = parseModelConfig(SHAPES[0]!.config, 'test config');
  const gpt2 = parseModelConfig({ vocab_size: 50, n_positions: 16, n_embd: 16, n_layer: 2, n_head: 2 }, 'test config');
  const addon = (): CoreAddon => {
    if (!loaded.ok) throw new Error('native core unavailable');
    return loaded.addon;
  };
  type Table = RawCoreConfig['tensors'];
  const broken: Array<{ what: string; config: ModelConfig; edit: (t: Table) => Table; message: RegExp }> = [
    {
      what: 'a missing row',
      config: qwen2,
      edit: (t) => t.filter((r) => !(r.role === 'mlp.up_proj.weight' && r.layer === 1)),
      message: /no row for role 'mlp\.up_proj\.weight' of layer 1/,
    },
    {
      what: 'a wrong numel',
      config: qwen2,
      edit: (t) => t.map((r) => (r.role === 'self_attn.k_proj.weight' && r.layer === 0 ? { ...r, numel: r.numel + 1 } : r)),
      message: /role 'self_attn\.k_proj\.weight' of layer 0 has \d+ elements, expected \d+/,
    },
    {
      what: 'an unknown role',
      config: qwen2,
      edit: (t) => [...t, { role: 'mlp.c_fc.weight', layer: 0, numel: 10, decay: true }],
      message: /unknown role 'mlp\.c_fc\.weight' of layer 0/,
    },
    {
      what: 'a duplicated row',
      config: gpt2,
      edit: (t) => [...t, t.find((r) => r.role === 'ln_f.bias')!],
      message: /role 'ln_f\.bias' appears twice/,
    },
    {
      what: 'a row the config does not have (an o_proj bias on qwen2)',
      config: qwen2,
      edit: (t) => [...t, { role: 'self_attn.o_proj.bias', layer: 0, numel: 24, decay: false }],
      message: /role 'self_attn\.o_proj\.bias' of layer 0 .*is not part of this model's config/,
    },
  ];

  it.each(broken)('refuses $what, naming the role', ({ config, edit, message }) => {
    const Core = addon().GptCore;
    expect(() => new Core(rawConfig(config, edit(nativeLayoutTable(config))), 0)).toThrow(message);
  });

  it('NativeCore surfaces a refused table as BackendUnavailableError with the addon message', async () => {
    const real = addon();
    // An addon whose table loses the last row on its way in: what a layout.ts the C++ disagrees with looks like.
    const lossy: CoreAddon = {
      device: real.device,
      abi: real.abi,
      GptCore: function (cfg: RawCoreConfig, precision: 0 | 1 | 2) {
        return new real.GptCore({ ...cfg, tensors: cfg.tensors.slice(0, -1) }, precision);
      } as unknown as CoreAddon['GptCore'],
    };
    const err = await NativeCore.create(qwen2, lossy).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/layout table: no row for role 'lm_head\.weight'/);
  });

  it('accepts the tables of src/arch/layout.ts and takes weight decay from them', async () => {
    for (const config of [qwen2, gpt2]) {
      const core = new (addon().GptCore)(rawConfig(config, nativeLayoutTable(config)), 0);
      expect(core.numParams()).toBe(nativeLayoutTable(config).reduce((n, r) => n + r.numel, 0));
      core.dispose();
    }
    // Decay from the row: with no gradient, AdamW only decays, so a tensor marked decay shrinks and the others stay.
    const table = nativeLayoutTable(qwen2).map((r) => ({ ...r, decay: r.role === 'self_attn.v_proj.weight' }));
    const core = new (addon().GptCore)(rawConfig(qwen2, table), 0);
    try {
      const n = core.numParams();
      core.writeBuffers({ params: new Float32Array(n).fill(1) });
      core.zeroGrads();
      await core.adamw(0.1, 0.9, 0.999, 1e-8, 0.5, 1, 1);
      const params = new Float32Array(n);
      core.readBuffers({ params });
      let off = 0;
      for (const r of table) {
        const want = r.decay ? 1 - 0.1 * 0.5 : 1;
        for (let i = off; i < off + r.numel; i++) if (Math.abs(params[i]! - want) > 1e-6) expect.fail(`${r.role} (layer ${r.layer}) is ${params[i]}, expected ${want}`);
        off += r.numel;
      }
    } finally {
      core.dispose();
    }
  });
});
