import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NamedTensors } from '../src/backend/types.js';
import { SafetensorsError } from '../src/errors.js';
import { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { FIXTURE_DIR, hasFixtures } from './helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'st-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Assemble a safetensors buffer from raw parts; `declaredLength` overrides the 8-byte prefix. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), declaredLength?: bigint): Uint8Array {
  const headerBytes = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + headerBytes.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.byteLength);
  return out;
}

function expectRejected(bytes: Uint8Array, message: RegExp): void {
  let caught: unknown;
  try {
    parseSafetensors(bytes, 'hostile.safetensors');
  } catch (err) {
    caught = err;
  }
  // A SafetensorsError (not a RangeError from a failed giant allocation) shows the check ran first.
  expect(caught).toBeInstanceOf(SafetensorsError);
  expect((caught as Error).message).toMatch(message);
  expect((caught as Error).message).toMatch(/hostile\.safetensors/);
}

const f32 = (n: number) => ({ dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] });

describe('safetensors reader rejects hostile files', () => {
  it('header length past EOF', () => {
    expectRejected(build({ a: f32(1) }, new Uint8Array(4), 10_000n), /runs past the end/);
  });
  it('giant header length (2^62 and 2^64-1)', () => {
    expectRejected(build({}, new Uint8Array(0), 2n ** 62n), /runs past the end/);
    expectRejected(build({}, new Uint8Array(0), 2n ** 64n - 1n), /runs past the end/);
  });
  it('truncated file shorter than 8 bytes', () => {
    expectRejected(new Uint8Array(5), /shorter than the 8-byte/);
    expectRejected(new Uint8Array(0), /shorter than the 8-byte/);
  });
  it('header not JSON', () => {
    expectRejected(build('{"a": '), /not valid JSON/);
  });
  it('header not UTF-8', () => {
    expectRejected(build(Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])), /not valid UTF-8/);
  });
  it('header JSON that is not an object', () => {
    expectRejected(build('[1,2]'), /must be a JSON object/);
    expectRejected(build('null'), /must be a JSON object/);
  });
  it('unknown dtype (including inherited property names)', () => {
    expectRejected(build({ a: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /unknown dtype "Q4"/);
    expectRejected(build({ a: { dtype: 'toString', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /unknown dtype/);
  });
  it('shape x dtype disagreeing with the byte range', () => {
    expectRejected(build({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /needs 12 bytes but data_offsets span 8/);
    // A shape whose byte count is not a safe integer must not be allocated.
    expectRejected(build({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 20], data_offsets: [0, 8] } }, new Uint8Array(8)), /needs/);
  });
  it('bad shapes and offsets', () => {
    expectRejected(build({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /non-negative integers/);
    expectRejected(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, new Uint8Array(4)), /data_offsets must be/);
    expectRejected(build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)), /fall outside/);
  });
  it('offsets out of range', () => {
    expectRejected(build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)), /fall outside the 4-byte data section/);
  });
  it('overlapping offsets, without allocating every alias first', () => {
    expectRejected(build({ a: f32(2), b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /overlapping/);
    // 2000 tensors all aliasing the same 64 KiB would decode to 128 MiB if decoding came before validation.
    const header: Record<string, unknown> = {};
    for (let i = 0; i < 2000; i++) header[`t${i}`] = f32(16384);
    const before = process.memoryUsage().arrayBuffers;
    expectRejected(build(header, new Uint8Array(65536)), /overlapping/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 1024 * 1024);
  });
  it('holes and trailing bytes in the data section', () => {
    expectRejected(build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /unused bytes \[0, 4\)/);
    expectRejected(build({ a: f32(1) }, new Uint8Array(8)), /only cover 4/);
  });
  it('metadata not an object of strings', () => {
    expectRejected(build({ __metadata__: [1] }), /__metadata__ must be an object/);
    expectRejected(build({ __metadata__: 'pt' }), /__metadata__ must be an object/);
    expectRejected(build({ __metadata__: { format: 1 } }), /__metadata__\.format must be a string/);
  });
  it('I64 values that do not fit in int32', () => {
    const data = new Uint8Array(8);
    new DataView(data.buffer).setBigInt64(0, 2n ** 40n, true);
    expectRejected(build({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, data), /does not fit in int32/);
  });
  it('readSafetensors checks the header length before reading the file, and names the file', async () => {
    const path = join(dir, 'huge-header.safetensors');
    writeFileSync(path, build({}, new Uint8Array(0), 2n ** 62n));
    await expect(readSafetensors(path)).rejects.toThrow(SafetensorsError);
    await expect(readSafetensors(path)).rejects.toThrow(/huge-header\.safetensors: header length/);
    const tiny = join(dir, 'tiny.safetensors');
    writeFileSync(tiny, new Uint8Array(3));
    await expect(readSafetensors(tiny)).rejects.toThrow(/3 bytes/);
    await expect(readSafetensors(join(dir, 'missing.safetensors'))).rejects.toThrow(/cannot read file/);
  });
});

describe('safetensors decoding', () => {
  it('reads F16 into float32 exactly (normal, subnormal, zero, inf, nan)', () => {
    const halves = [0x3c00, 0xc000, 0x3555, 0x0001, 0x8000, 0x7bff, 0x7c00, 0xfc00, 0x7e00];
    const expected = [1, -2, 0.333251953125, 2 ** -24, -0, 65504, Infinity, -Infinity, NaN];
    const data = new Uint8Array(halves.length * 2);
    halves.forEach((h, i) => new DataView(data.buffer).setUint16(i * 2, h, true));
    const t = parseSafetensors(build({ h: { dtype: 'F16', shape: [halves.length], data_offsets: [0, data.length] } }, data)).tensors.get('h')!;
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(Array.from(t.data)).toEqual(expected);
  });

  it('reads BF16 into float32 exactly (top 16 bits of the float32)', () => {
    const values = [1, -3.5, 0.15625, 1e30, -0, Infinity];
    const bits = new Uint32Array(Float32Array.from(values).buffer);
    const data = new Uint8Array(values.length * 2);
    bits.forEach((b, i) => new DataView(data.buffer).setUint16(i * 2, b >>> 16, true));
    const t = parseSafetensors(build({ b: { dtype: 'BF16', shape: [2, 3], data_offsets: [0, data.length] } }, data)).tensors.get('b')!;
    const truncated = Array.from(bits, (b) => new Float32Array(new Uint32Array([b & 0xffff0000]).buffer)[0]);
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(t.data)).toEqual(truncated);
    expect(t.data[0]).toBe(1);
    expect(t.data[1]).toBe(-3.5);
  });

  it('reads F64, I32 and I64 and zero-sized tensors', () => {
    const data = new Uint8Array(8 + 8 + 4);
    const dv = new DataView(data.buffer);
    dv.setFloat64(0, 0.1, true);
    dv.setBigInt64(8, -7n, true);
    dv.setInt32(16, 123456, true);
    const file = parseSafetensors(
      build(
        {
          d: { dtype: 'F64', shape: [1], data_offsets: [0, 8] },
          l: { dtype: 'I64', shape: [1], data_offsets: [8, 16] },
          i: { dtype: 'I32', shape: [], data_offsets: [16, 20] },
          z: { dtype: 'F32', shape: [0, 5], data_offsets: [20, 20] },
        },
        data,
      ),
    );
    expect(file.tensors.get('d')!.data[0]).toBeCloseTo(0.1, 7);
    expect(file.tensors.get('l')!.data).toEqual(Int32Array.from([-7]));
    expect(file.tensors.get('i')!.data).toEqual(Int32Array.from([123456]));
    expect(file.tensors.get('z')!.data.length).toBe(0);
  });
});

describe('safetensors writer', () => {
  it('write -> read round trip keeps names, order, shapes, values and metadata', async () => {
    const tensors: NamedTensors = new Map([
      ['transformer.wte.weight', { shape: [3, 2], data: Float32Array.from([1, -2, 3.5, 1e-8, -0, 7]) }],
      ['scalar', { shape: [], data: Float32Array.from([42]) }],
      ['empty', { shape: [0], data: new Float32Array(0) }],
      ['odd', { shape: [3], data: Float32Array.from([NaN, Infinity, 1 / 3]) }],
    ]);
    const path = join(dir, 'rt.safetensors');
    await writeSafetensors(path, tensors, { format: 'pt' });
    const raw = readFileSync(path);
    const headerLen = Number(new DataView(raw.buffer, raw.byteOffset).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0); // data starts 8-byte aligned
    const back = await readSafetensors(path);
    expect(back.metadata).toEqual({ format: 'pt' });
    expect([...back.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      const b = back.tensors.get(name)!;
      expect(b.dtype).toBe('F32');
      expect(b.shape).toEqual(t.shape);
      expect(Array.from(b.data)).toEqual(Array.from(t.data));
    }
  });

  it('refuses shape/data mismatches and the reserved __metadata__ name', () => {
    expect(() => serializeSafetensors(new Map([['a', { shape: [2, 2], data: new Float32Array(3) }]]))).toThrow(SafetensorsError);
    expect(() => serializeSafetensors(new Map([['__metadata__', { shape: [1], data: new Float32Array(1) }]]))).toThrow(/reserved/);
  });

  it.skipIf(!hasFixtures)('re-serialising the HF fixture reproduces its tensors bit for bit', async () => {
    const original = await readSafetensors(join(FIXTURE_DIR, 'model.safetensors'));
    const floats: NamedTensors = new Map([...original.tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data as Float32Array }]));
    const again = parseSafetensors(serializeSafetensors(floats, original.metadata));
    expect(again.metadata).toEqual({ format: 'pt' });
    expect(again.tensors.size).toBe(28);
    for (const [k, v] of original.tensors) expect(Buffer.compare(Buffer.from(again.tensors.get(k)!.data.buffer), Buffer.from(v.data.buffer))).toBe(0);
  });
});
