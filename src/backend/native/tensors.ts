import type { ModelConfig } from '../../arch/config.js';
import { numel, paramLayout, type ParamSpec } from '../../arch/layout.js';
import { ShapeError } from '../../errors.js';
import type { NamedTensors } from '../types.js';

/** Maps between NamedTensors (HF names) and one contiguous buffer in paramLayout order. */
export class FlatLayout {
  readonly specs: ParamSpec[];
  readonly offsets: number[];
  readonly total: number;

  constructor(config: ModelConfig) {
    this.specs = paramLayout(config);
    this.offsets = [];
    let off = 0;
    for (const s of this.specs) {
      this.offsets.push(off);
      off += numel(s.shape);
    }
    this.total = off;
  }

  /** Packs tensors (extra names such as lm_head.weight are ignored, it is tied to wte). */
  pack(tensors: NamedTensors, what: string): Float32Array {
    const flat = new Float32Array(this.total);
    this.specs.forEach((spec, i) => {
      const t = tensors.get(spec.name);
      if (!t) throw new ShapeError(`${what}: missing parameter ${spec.name}`);
      const want = spec.shape.join(',');
      if (t.shape.join(',') !== want || t.data.length !== numel(spec.shape)) {
        throw new ShapeError(`${what}: ${spec.name} has shape [${t.shape.join(', ')}], expected [${spec.shape.join(', ')}]`);
      }
      flat.set(t.data, this.offsets[i]);
    });
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
