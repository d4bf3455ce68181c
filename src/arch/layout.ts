import { type GPT2Config, innerDim } from './config.js';

/** One parameter tensor: HF name and shape. Conv1D weights are [in, out] as HF stores them. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** True for 2-D weights: they get AdamW weight decay (nanoGPT/GPT recipe). */
  readonly decay: boolean;
  /** Residual projections are initialised with std / sqrt(2 * n_layer). */
  readonly residual: boolean;
}

/**
 * The canonical parameter list, in the order every core lays them out in one
 * contiguous buffer. Names are HF GPT2LMHeadModel names; lm_head is tied to wte.
 */
export function paramLayout(c: GPT2Config): ParamSpec[] {
  const C = c.n_embd;
  const F = innerDim(c);
  const p = (name: string, shape: number[], residual = false): ParamSpec => ({
    name: `transformer.${name}`,
    shape,
    decay: shape.length >= 2,
    residual,
  });
  const specs: ParamSpec[] = [p('wte.weight', [c.vocab_size, C]), p('wpe.weight', [c.n_positions, C])];
  for (let l = 0; l < c.n_layer; l++) {
    const h = `h.${l}`;
    specs.push(
      p(`${h}.ln_1.weight`, [C]),
      p(`${h}.ln_1.bias`, [C]),
      p(`${h}.attn.c_attn.weight`, [C, 3 * C]),
      p(`${h}.attn.c_attn.bias`, [3 * C]),
      p(`${h}.attn.c_proj.weight`, [C, C], true),
      p(`${h}.attn.c_proj.bias`, [C]),
      p(`${h}.ln_2.weight`, [C]),
      p(`${h}.ln_2.bias`, [C]),
      p(`${h}.mlp.c_fc.weight`, [C, F]),
      p(`${h}.mlp.c_fc.bias`, [F]),
      p(`${h}.mlp.c_proj.weight`, [F, C], true),
      p(`${h}.mlp.c_proj.bias`, [C]),
    );
  }
  specs.push(p('ln_f.weight', [C]), p('ln_f.bias', [C]));
  return specs;
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function countParams(c: GPT2Config): number {
  return paramLayout(c).reduce((n, s) => n + numel(s.shape), 0);
}
