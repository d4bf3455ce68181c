import type { NamedTensors } from '../../src/arch/tensors.js';

// Writers for checkpoint copies the library itself never writes: bf16 / f16 safetensors, as HF hub checkpoints are.

/** float32 -> bfloat16 bits, rounding to nearest even (torch's `.to(torch.bfloat16)`); NaN stays NaN. */
export function bf16Bits(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = u[i]!;
    if ((v & 0x7f800000) === 0x7f800000 && (v & 0x7fffff) !== 0) out[i] = 0x7fc0;
    else out[i] = (v + 0x7fff + ((v >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** float32 -> float16 bits, rounding to nearest even (normals, subnormals, overflow to inf). */
export function f16Bits(x: Float32Array): Uint16Array {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    f[0] = x[i]!;
    const v = u[0]!;
    const sign = (v >>> 16) & 0x8000;
    const exp = ((v >>> 23) & 0xff) - 127 + 15;
    const mant = v & 0x7fffff;
    if (((v >>> 23) & 0xff) === 0xff) out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
    else if (exp >= 31) out[i] = sign | 0x7c00;
    else if (exp <= 0) {
      if (exp < -10) out[i] = sign;
      else {
        const m = mant | 0x800000;
        const shift = 14 - exp;
        const half = 1 << (shift - 1);
        const rounded = (m + half - 1 + ((m >>> shift) & 1)) >>> shift;
        out[i] = sign | rounded;
      }
    } else {
      const rounded = (mant + 0xfff + ((mant >>> 13) & 1)) >>> 13;
      out[i] = sign | ((exp << 10) + rounded); // a mantissa carry moves into the exponent, as it should
    }
  }
  return out;
}

/** What a 16-bit pattern widens back to: bf16 is the top half of a float32. */
export function bf16Values(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i]! << 16;
  return out;
}

export function f16Values(bits: Uint16Array): Float32Array {
  return Float32Array.from(bits, (h) => {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
    if (exp === 31) return frac ? NaN : sign * Infinity;
    return sign * 2 ** (exp - 15) * (1 + frac / 1024);
  });
}

export interface EncodedTensor {
  dtype: 'F32' | 'BF16' | 'F16' | 'I32';
  shape: number[];
  bytes: Uint8Array;
}

/** A safetensors file from already encoded tensors (in map order). */
export function safetensorsOf(tensors: ReadonlyMap<string, EncodedTensor>, metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const t of tensors.values()) {
    out.set(t.bytes, pos);
    pos += t.bytes.length;
  }
  return out;
}

const bytesOf = (a: Uint16Array | Float32Array | Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Every tensor in one 16-bit float dtype (or F32), and the float32 values the loader must return for them. */
export function encodeAll(weights: NamedTensors, dtype: 'F32' | 'BF16' | 'F16'): { tensors: Map<string, EncodedTensor>; expected: NamedTensors } {
  const tensors = new Map<string, EncodedTensor>();
  const expected: NamedTensors = new Map();
  for (const [name, t] of weights) {
    if (dtype === 'F32') {
      tensors.set(name, { dtype, shape: t.shape, bytes: bytesOf(t.data) });
      expected.set(name, t);
      continue;
    }
    const bits = dtype === 'BF16' ? bf16Bits(t.data) : f16Bits(t.data);
    tensors.set(name, { dtype, shape: t.shape, bytes: bytesOf(bits) });
    expected.set(name, { shape: t.shape, data: dtype === 'BF16' ? bf16Values(bits) : f16Values(bits) });
  }
  return { tensors, expected };
}

/** True when both maps hold the same names with bit-identical float32 data and equal shapes. */
export function sameWeights(a: NamedTensors, b: NamedTensors): boolean {
  if (a.size !== b.size) return false;
  for (const [name, t] of a) {
    const u = b.get(name);
    if (!u || u.shape.join() !== t.shape.join() || u.data.length !== t.data.length) return false;
    const x = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
    const y = new Uint32Array(u.data.buffer, u.data.byteOffset, u.data.length);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  }
  return true;
}
