import { archDims, type ModelConfig } from '../../src/arch/config.js';
import type { NamedTensors, TokenBatch } from '../../src/backend/types.js';

/**
 * A naive float64 Llama-family forward written from HF's modeling code, loop by loop, as an oracle for shapes the
 * HF fixtures lack (GQA ratios, head_dim != hidden / heads, biases). It follows the fixture README's gotchas:
 * rotate_half pairs i with i + hd/2, positions from position_ids, query head h reads KV head h / (H / KV), Qwen3's
 * q/k norms before RoPE, finfo.min masks (a query that sees no key attends uniformly to all of them).
 * Returns the logits [B * T * V].
 */
export function referenceLlamaLogits(config: ModelConfig, weights: NamedTensors, batch: TokenBatch): Float64Array {
  const d = archDims(config);
  const { batchSize: B, seqLen: T } = batch;
  const { hidden: C, heads: H, kvHeads: KV, headDim: hd, inner: F, vocab: V } = d;
  const W = (name: string): Float32Array => weights.get(name)!.data;
  const has = (name: string): boolean => weights.has(name);
  const N = B * T;
  const L = (l: number, rest: string): string => `model.layers.${l}.${rest}`;

  /** y[n] = x[n] W^T + b for W [out, in]. */
  const linear = (x: Float64Array[], w: Float32Array, out: number, b?: Float32Array): Float64Array[] =>
    x.map((row) => {
      const y = new Float64Array(out);
      for (let o = 0; o < out; o++) {
        let s = b ? b[o]! : 0;
        for (let i = 0; i < row.length; i++) s += row[i]! * w[o * row.length + i]!;
        y[o] = s;
      }
      return y;
    });
  const rms = (row: Float64Array, w: Float32Array, off = 0, len = row.length): void => {
    let ss = 0;
    for (let i = 0; i < len; i++) ss += row[off + i]! ** 2;
    const r = 1 / Math.sqrt(ss / len + d.eps);
    for (let i = 0; i < len; i++) row[off + i] = row[off + i]! * r * w[i]!;
  };
  const normed = (x: Float64Array[], w: Float32Array): Float64Array[] =>
    x.map((row) => {
      const y = Float64Array.from(row);
      rms(y, w);
      return y;
    });
  const rope = (row: Float64Array, headCount: number, pos: number): void => {
    for (let h = 0; h < headCount; h++) {
      for (let i = 0; i < hd / 2; i++) {
        const angle = pos * d.ropeTheta ** (-(2 * i) / hd);
        const [a, b] = [row[h * hd + i]!, row[h * hd + i + hd / 2]!];
        row[h * hd + i] = a * Math.cos(angle) - b * Math.sin(angle);
        row[h * hd + i + hd / 2] = b * Math.cos(angle) + a * Math.sin(angle);
      }
    }
  };
  const opt = (name: string): Float32Array | undefined => (has(name) ? W(name) : undefined);
  const pos = (n: number): number => batch.positionIds?.[n] ?? n % T;
  const visible = (b: number, t: number, j: number): boolean => j <= t && (!batch.attentionMask || batch.attentionMask[b * T + j] === 1);

  let x = Array.from({ length: N }, (_, n) => Float64Array.from(W('model.embed_tokens.weight').subarray(batch.inputIds[n]! * C, (batch.inputIds[n]! + 1) * C)));
  for (let l = 0; l < d.layers; l++) {
    const a = normed(x, W(L(l, 'input_layernorm.weight')));
    const q = linear(a, W(L(l, 'self_attn.q_proj.weight')), H * hd, opt(L(l, 'self_attn.q_proj.bias')));
    const k = linear(a, W(L(l, 'self_attn.k_proj.weight')), KV * hd, opt(L(l, 'self_attn.k_proj.bias')));
    const v = linear(a, W(L(l, 'self_attn.v_proj.weight')), KV * hd, opt(L(l, 'self_attn.v_proj.bias')));
    for (let n = 0; n < N; n++) {
      if (d.qkNorm) {
        for (let h = 0; h < H; h++) rms(q[n]!, W(L(l, 'self_attn.q_norm.weight')), h * hd, hd);
        for (let h = 0; h < KV; h++) rms(k[n]!, W(L(l, 'self_attn.k_norm.weight')), h * hd, hd);
      }
      rope(q[n]!, H, pos(n));
      rope(k[n]!, KV, pos(n));
    }
    const y = Array.from({ length: N }, () => new Float64Array(H * hd));
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / KV));
        for (let t = 0; t < T; t++) {
          const keys = Array.from({ length: T }, (_, j) => j).filter((j) => visible(b, t, j));
          const use = keys.length > 0 ? keys : Array.from({ length: T }, (_, j) => j); // finfo.min everywhere: uniform
          const s = use.map((j) => {
            let dot = 0;
            for (let i = 0; i < hd; i++) dot += q[b * T + t]![h * hd + i]! * k[b * T + j]![g * hd + i]!;
            return keys.length > 0 ? dot / Math.sqrt(hd) : 0;
          });
          const mx = Math.max(...s);
          const e = s.map((z) => Math.exp(z - mx));
          const sum = e.reduce((p, c) => p + c, 0);
          use.forEach((j, idx) => {
            for (let i = 0; i < hd; i++) y[b * T + t]![h * hd + i]! += (e[idx]! / sum) * v[b * T + j]![g * hd + i]!;
          });
        }
      }
    }
    const o = linear(y, W(L(l, 'self_attn.o_proj.weight')), C, opt(L(l, 'self_attn.o_proj.bias')));
    x = x.map((row, n) => row.map((z, c) => z + o[n]![c]!));
    const a2 = normed(x, W(L(l, 'post_attention_layernorm.weight')));
    const gate = linear(a2, W(L(l, 'mlp.gate_proj.weight')), F);
    const up = linear(a2, W(L(l, 'mlp.up_proj.weight')), F);
    const hmid = gate.map((row, n) => row.map((z, i) => (z / (1 + Math.exp(-z))) * up[n]![i]!));
    const down = linear(hmid, W(L(l, 'mlp.down_proj.weight')), C);
    x = x.map((row, n) => row.map((z, c) => z + down[n]![c]!));
  }
  const head = d.tied ? W('model.embed_tokens.weight') : W('lm_head.weight');
  const logits = linear(normed(x, W('model.norm.weight')), head, V);
  const out = new Float64Array(N * V);
  logits.forEach((row, n) => out.set(row, n * V));
  return out;
}
