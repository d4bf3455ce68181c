import type { ModelConfig } from '../../arch/config.js';
import { numel, paramLayout, type ParamSpec } from '../../arch/layout.js';
import { ShapeError } from '../../errors.js';
import type { NamedTensor, NamedTensors } from '../types.js';

/** Maps between NamedTensors (HF or PEFT names) and one contiguous buffer in the order of a list of specs. */
export class FlatLayout {
  readonly offsets: number[];
  readonly total: number;

  constructor(readonly specs: readonly ParamSpec[]) {
    this.offsets = [];
    let off = 0;
    for (const s of this.specs) {
      this.offsets.push(off);
      off += numel(s.shape);
    }
    this.total = off;
  }

  /** The base weights of `config` in paramLayout order. */
  static of(config: ModelConfig): FlatLayout {
    return new FlatLayout(paramLayout(config));
  }

  /**
   * Each spec's tensor from `tensors`, in layout order, checked first (missing or mis-shaped: ShapeError), so a
   * caller that writes them one by one never writes part of a bad set. Extra names (lm_head.weight of a tied model)
   * are ignored.
   */
  select(tensors: NamedTensors, what: string): NamedTensor[] {
    return this.specs.map((spec) => {
      const t = tensors.get(spec.name);
      if (!t) throw new ShapeError(`${what}: missing parameter ${spec.name}`);
      if (t.shape.join(',') !== spec.shape.join(',') || t.data.length !== numel(spec.shape)) {
        throw new ShapeError(`${what}: ${spec.name} has shape [${t.shape.join(', ')}], expected [${spec.shape.join(', ')}]`);
      }
      return t;
    });
  }

  /** Packs tensors into one new flat buffer. */
  pack(tensors: NamedTensors, what: string): Float32Array {
    const flat = new Float32Array(this.total);
    this.select(tensors, what).forEach((t, i) => flat.set(t.data, this.offsets[i]));
    return flat;
  }

  /** Splits a flat buffer into fresh arrays (no aliasing of the flat buffer). */
  unpack(flat: Float32Array): NamedTensors {
    const out: NamedTensors = new Map();
    this.specs.forEach((spec, i) => {
      const off = this.offsets[i]!;
      out.set(spec.name, { shape: [...spec.shape], data: flat.slice(off, off + numel(spec.shape)) });
    });
    return out;
  }
}
