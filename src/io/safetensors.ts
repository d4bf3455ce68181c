import type { NamedTensors } from '../arch/tensors.js';
import { SafetensorsError } from '../errors.js';

/**
 * A hardened reader/writer for the safetensors format:
 * 8-byte little-endian header length, a UTF-8 JSON header, then raw tensor bytes.
 * Every size is checked against the file before anything large is allocated.
 */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'F64';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, F64: 8 };
/** Headers beyond this are refused: real ones for GPT-2 are a few KB. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface RawTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Float dtypes are widened to float32; integer dtypes come back as Int32Array (I64 must fit in 32 bits). */
  data: Float32Array | Int32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    // Imported lazily so that parse/serialize stay usable in browsers.
    const { open } = await import('node:fs/promises');
    const handle = await open(path, 'r');
    try {
      const size = (await handle.stat()).size;
      if (size < 8) throw new SafetensorsError(`file is ${size} bytes, shorter than the 8-byte header length`, path);
      // Check the declared header length against the real size before reading the whole file.
      const prefix = new Uint8Array(8);
      await handle.read(prefix, 0, 8, 0);
      checkHeaderLength(new DataView(prefix.buffer).getBigUint64(0, true), size, path);
      bytes = new Uint8Array(size);
      let got = 0;
      while (got < size) {
        const { bytesRead } = await handle.read(bytes, got, size - got, got);
        if (bytesRead === 0) throw new SafetensorsError(`file shrank while reading (${got} of ${size} bytes)`, path);
        got += bytesRead;
      }
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof SafetensorsError) throw err;
    throw new SafetensorsError(`cannot read file: ${(err as Error).message}`, path, { cause: err });
  }
  return parseSafetensors(bytes, path);
}

function checkHeaderLength(headerLen: bigint, fileSize: number, file: string | undefined): void {
  if (headerLen > BigInt(fileSize - 8)) {
    throw new SafetensorsError(`header length ${headerLen} runs past the end of the file (${fileSize} bytes): truncated or not safetensors`, file);
  }
  if (headerLen > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`, file);
}

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parse a whole safetensors buffer. Every entry is validated (dtype, shape x dtype
 * = byte span, offsets inside the data section, no overlaps, no holes) before any
 * tensor is decoded, so a hostile header cannot make us allocate more than the file holds.
 */
export function parseSafetensors(bytes: Uint8Array, file?: string): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new SafetensorsError(msg, file);
  };
  if (bytes.byteLength < 8) fail(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  checkHeaderLength(view.getBigUint64(0, true), bytes.byteLength, file);
  const n = Number(view.getBigUint64(0, true));
  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (err) {
    return fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header must be a JSON object');

  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];

  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry, fail);
      continue;
    }
    entries.push(parseEntry(name, entry, dataLen, fail));
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (let i = 0; i < sorted.length; i++) {
    const cur = sorted[i]!;
    if (i > 0 && cur.begin < sorted[i - 1]!.end) fail(`tensors '${sorted[i - 1]!.name}' and '${cur.name}' have overlapping data_offsets`);
    if (cur.begin > covered) fail(`data section has unused bytes [${covered}, ${cur.begin}) before tensor '${cur.name}' (holes are not allowed)`);
    covered = Math.max(covered, cur.end);
  }
  if (covered !== dataLen) fail(`data section is ${dataLen} bytes but the tensors only cover ${covered} (trailing bytes are not allowed)`);

  const tensors = new Map<string, RawTensor>();
  for (const e of entries) {
    const count = e.shape.reduce((a, b) => a * b, 1);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decode(bytes, dataStart + e.begin, count, e.dtype, e.name, fail) });
  }
  return { tensors, metadata };
}

function parseMetadata(entry: unknown, fail: (m: string) => never): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return fail('__metadata__ must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`__metadata__.${k} must be a string, got ${JSON.stringify(v)}`);
    out[k] = v as string;
  }
  return out;
}

function parseEntry(name: string, entry: unknown, dataLen: number, fail: (m: string) => never): Entry {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail(`tensor '${name}': entry must be an object`);
  const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
    fail(`tensor '${name}': unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`tensor '${name}': shape must be an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    fail(`tensor '${name}': data_offsets must be [begin, end] non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataLen) {
    fail(`tensor '${name}': data_offsets [${begin}, ${end}] fall outside the ${dataLen}-byte data section`);
  }
  const dt = dtype as SafetensorsDtype;
  const bytesNeeded = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dt];
  if (!Number.isSafeInteger(bytesNeeded) || bytesNeeded !== end - begin) {
    fail(`tensor '${name}': shape [${(shape as number[]).join(', ')}] x ${dt} needs ${bytesNeeded} bytes but data_offsets span ${end - begin}`);
  }
  return { name, dtype: dt, shape: [...(shape as number[])], begin, end };
}

function decode(
  bytes: Uint8Array,
  offset: number,
  count: number,
  dtype: SafetensorsDtype,
  name: string,
  fail: (m: string) => never,
): Float32Array | Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * DTYPE_BYTES[dtype]);
  switch (dtype) {
    case 'F32': {
      // Fast path: a byte copy is already little-endian float32 on every mainstream host.
      if (isLittleEndian()) return new Float32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + count * 4));
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case 'F64': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(count);
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u32[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'I32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
      return out;
    }
    case 'I64': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) fail(`tensor '${name}': I64 value ${v} does not fit in int32`);
        out[i] = Number(v);
      }
      return out;
    }
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Float32 tensors only, in map order; written atomically. */
export function serializeSafetensors(tensors: NamedTensors, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new SafetensorsError(`'__metadata__' is reserved and cannot name a tensor`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new SafetensorsError(`tensor '${name}': shape [${t.shape.join(', ')}] does not match ${t.data.length} values`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so tensor data starts 8-byte aligned, as the reference writer does.
  const unpadded = new TextEncoder().encode(json);
  json += ' '.repeat((8 - ((8 + unpadded.byteLength) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const t of tensors.values()) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (isLittleEndian()) out.set(src, pos);
    else {
      const dv = new DataView(out.buffer, pos, t.data.byteLength);
      t.data.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    }
    pos += t.data.byteLength;
  }
  return out;
}

export async function writeSafetensors(path: string, tensors: NamedTensors, metadata: Record<string, string> = {}): Promise<void> {
  const { writeFileAtomic } = await import('./atomic.js');
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}
