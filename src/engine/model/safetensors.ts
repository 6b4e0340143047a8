// Hugging Face safetensors, read and written in plain TypeScript (browser and Node).
// Format (https://huggingface.co/docs/safetensors): u64 little-endian header length N, then N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}, then the data region;
// offsets are relative to the start of the data region.

import type { HostTensor } from './types';
import { numel } from '../graph/shape';


export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
}

/** The float dtypes Patchwork decodes to float32 and can write. */
export type FloatDtype = 'F32' | 'F16' | 'BF16';

// Bytes per element of every dtype the spec defines, so that offsets of tensors we never decode
// (legacy buffers, integer ids) can still be checked.
const BYTES_PER_ELEMENT: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1,
  U16: 2, I16: 2, F16: 2, BF16: 2,
  U32: 4, I32: 4, F32: 4,
  U64: 8, I64: 8, F64: 8,
};

export interface TensorEntry {
  dtype: string;
  shape: number[];
  /** [begin, end) relative to the data region. */
  dataOffsets: [number, number];
}

export interface Safetensors {
  metadata: Record<string, string>;
  /** Header entries in header order; data is decoded only by `read`. */
  entries: Map<string, TensorEntry>;
  /** Decode one tensor to float32: a zero-copy view for aligned F32, a new array otherwise. */
  read(name: string): HostTensor;
}

export function parseSafetensors(input: Uint8Array | ArrayBuffer): Safetensors {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.byteLength < 8) {
    throw new SafetensorsError(
      `not a safetensors file: it is ${bytes.byteLength} bytes long, shorter than the 8-byte header length`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.byteLength) {
    throw new SafetensorsError(
      `not a safetensors file, or a truncated one: the header claims ${headerLength} bytes ` +
        `but only ${bytes.byteLength - 8} bytes follow the 8-byte length`,
    );
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const { metadata, entries } = parseHeader(bytes.subarray(8, dataStart));
  checkDataRegion(entries, dataLength, bytes.byteLength, dataStart);

  const read = (name: string): HostTensor => {
    const entry = entries.get(name);
    if (!entry) throw new SafetensorsError(`no tensor named ${name} in this safetensors file`);
    const [begin, end] = entry.dataOffsets;
    const raw = bytes.subarray(dataStart + begin, dataStart + end);
    return { shape: entry.shape.slice(), data: decodeFloat32(name, entry.dtype, raw) };
  };
  return { metadata, entries, read };
}

function parseHeader(headerBytes: Uint8Array): Pick<Safetensors, 'metadata' | 'entries'> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(headerBytes));
  } catch (e) {
    throw new SafetensorsError(`safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(json)) throw new SafetensorsError('safetensors header is not a JSON object');

  const metadata: Record<string, string> = {};
  const entries = new Map<string, TensorEntry>();
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (isRecord(value)) for (const [k, v] of Object.entries(value)) metadata[k] = String(v);
      continue;
    }
    entries.set(name, parseEntry(name, value));
  }
  return { metadata, entries };
}

function parseEntry(name: string, value: unknown): TensorEntry {
  const malformed = (what: string) => new SafetensorsError(`tensor ${name} has a malformed header entry: ${what}`);
  if (!isRecord(value)) throw malformed('not an object');
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') throw malformed('dtype is not a string');
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
    throw malformed(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger) || offsets[0] > offsets[1]) {
    throw malformed(`data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
  }
  const size = BYTES_PER_ELEMENT[dtype];
  if (size === undefined) throw new SafetensorsError(`tensor ${name} has unknown dtype ${dtype}`);
  const [begin, end] = offsets as [number, number];
  const needed = numel(shape) * size;
  if (end - begin !== needed) {
    throw new SafetensorsError(
      `tensor ${name} has data_offsets [${begin}, ${end}] (${end - begin} bytes), but dtype ${dtype} ` +
        `with shape [${shape.join(', ')}] needs ${needed} bytes`,
    );
  }
  return { dtype, shape: shape as number[], dataOffsets: [begin, end] };
}

function checkDataRegion(entries: Map<string, TensorEntry>, dataLength: number, fileLength: number, dataStart: number) {
  const sorted = [...entries].filter(([, e]) => e.dataOffsets[1] > e.dataOffsets[0]);
  sorted.sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
  let contiguous = true;
  for (let i = 1; i < sorted.length; i++) {
    const [prevName, prev] = sorted[i - 1];
    const [name, entry] = sorted[i];
    if (entry.dataOffsets[0] < prev.dataOffsets[1]) {
      throw new SafetensorsError(
        `tensors ${prevName} and ${name} overlap in the data region ` +
          `([${prev.dataOffsets.join(', ')}] and [${entry.dataOffsets.join(', ')}])`,
      );
    }
    if (entry.dataOffsets[0] !== prev.dataOffsets[1]) contiguous = false;
  }
  if (sorted.length > 0 && sorted[0][1].dataOffsets[0] !== 0) contiguous = false;

  const promised = Math.max(0, ...sorted.map(([, e]) => e.dataOffsets[1]));
  if (promised <= dataLength) return;
  // A header whose tensors tile the data region without gaps is well formed, so a short data region means the
  // file was cut off (an interrupted download); otherwise the header itself points somewhere that does not exist.
  if (contiguous) {
    throw new SafetensorsError(
      `safetensors file is truncated: it is ${fileLength} bytes, but its header promises ${dataStart + promised} ` +
        `(${promised} bytes of tensor data, only ${dataLength} present); download it again`,
    );
  }
  const [name, entry] = sorted.find(([, e]) => e.dataOffsets[1] > dataLength)!;
  throw new SafetensorsError(
    `tensor ${name} has data_offsets [${entry.dataOffsets.join(', ')}] past the end of the data region ` +
      `(${dataLength} bytes)`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding to float32

function decodeFloat32(name: string, dtype: string, raw: Uint8Array): Float32Array {
  switch (dtype) {
    case 'F32':
      // Views need 4-byte alignment in the underlying buffer; the spec's header padding usually provides it.
      if (raw.byteOffset % 4 === 0 && LITTLE_ENDIAN) {
        return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
      }
      return copyF32(raw);
    case 'F16':
      return convert16(raw, f16Table());
    case 'BF16':
      return bf16ToF32(raw);
    default:
      throw new SafetensorsError(`tensor ${name} has dtype ${dtype}; Patchwork reads F32, F16 and BF16`);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function copyF32(raw: Uint8Array): Float32Array {
  const out = new Float32Array(raw.byteLength / 4);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

function convert16(raw: Uint8Array, table: Float32Array): Float32Array {
  const out = new Float32Array(raw.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = table[raw[2 * i] | (raw[2 * i + 1] << 8)];
  return out;
}

function bf16ToF32(raw: Uint8Array): Float32Array {
  const out = new Float32Array(raw.byteLength / 2);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < out.length; i++) bits[i] = ((raw[2 * i] | (raw[2 * i + 1] << 8)) << 16) >>> 0;
  return out;
}

let f16TableCache: Float32Array | undefined;
/** All 65536 half-precision values as float32: exact, and faster than decoding bit fields per element. */
function f16Table(): Float32Array {
  if (f16TableCache) return f16TableCache;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = f16BitsToNumber(h);
  return (f16TableCache = table);
}

export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

/** float32 -> IEEE half bits, round to nearest even; overflow gives infinity. */
export function numberToF16Bits(x: number): number {
  const f32 = new Float32Array([x]);
  const bits = new Uint32Array(f32.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): value = m * 2^-24 with the implicit leading one made explicit.
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    return sign | roundShift(m, shift);
  }
  // A mantissa carry rounds up into the exponent, which is exactly the next representable half.
  return sign | ((e << 10) + roundShift(mantissa, 13));
}

function roundShift(m: number, shift: number): number {
  const q = m >>> shift;
  const rem = m - q * 2 ** shift;
  const half = 2 ** (shift - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

/** float32 -> bfloat16 bits (the upper half of float32), round to nearest even. */
export function numberToBF16Bits(x: number): number {
  const bits = new Uint32Array(new Float32Array([x]).buffer)[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A float32 array as the little-endian bytes of `dtype`; F32 on little-endian hosts is a view, not a copy. */
export function encodeTensorData(dtype: FloatDtype, data: Float32Array): Uint8Array {
  if (dtype === 'F32') {
    if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const out = new Uint8Array(data.length * 4);
    const view = new DataView(out.buffer);
    data.forEach((x, i) => view.setFloat32(4 * i, x, true));
    return out;
  }
  const toBits = dtype === 'F16' ? numberToF16Bits : numberToBF16Bits;
  const out = new Uint8Array(data.length * 2);
  for (let i = 0; i < data.length; i++) {
    const b = toBits(data[i]);
    out[2 * i] = b & 0xff;
    out[2 * i + 1] = b >>> 8;
  }
  return out;
}

/** `data` as a checkpoint of `dtype` stores it: each value rounded to that format (a new array; F32 unchanged). */
export function roundToDtype(dtype: FloatDtype, data: Float32Array): Float32Array {
  return dtype === 'F32' ? data.slice() : decodeFloat32('', dtype, encodeTensorData(dtype, data));
}

export interface TensorToWrite {
  dtype: FloatDtype;
  shape: number[];
  data: Float32Array;
}

export interface HeaderEntryToWrite {
  name: string;
  dtype: string;
  shape: number[];
}

/**
 * The length prefix and JSON header for tensors laid out back to back in the given order, padded with spaces so
 * that the data region starts 8-byte aligned (as the spec recommends), which keeps F32 reads zero-copy.
 */
export function encodeSafetensorsHeader(
  entries: HeaderEntryToWrite[],
  metadata?: Record<string, string>,
): { prefix: Uint8Array; dataLength: number } {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const { name, dtype, shape } of entries) {
    const size = BYTES_PER_ELEMENT[dtype];
    if (size === undefined) throw new SafetensorsError(`cannot write tensor ${name}: unknown dtype ${dtype}`);
    const end = offset + numel(shape) * size;
    header[name] = { dtype, shape, data_offsets: [offset, end] };
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const prefix = new Uint8Array(8 + padded).fill(0x20);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(padded), true);
  prefix.set(json, 8);
  return { prefix, dataLength: offset };
}

/** A whole safetensors file in memory, tensors in map order. */
export function encodeSafetensors(tensors: Map<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const entries = [...tensors].map(([name, t]) => {
    if (t.data.length !== numel(t.shape)) {
      throw new SafetensorsError(
        `cannot write tensor ${name}: ${t.data.length} values do not fill shape [${t.shape.join(', ')}]`,
      );
    }
    return { name, dtype: t.dtype, shape: t.shape };
  });
  const { prefix, dataLength } = encodeSafetensorsHeader(entries, metadata);
  const out = new Uint8Array(prefix.length + dataLength);
  out.set(prefix);
  let offset = prefix.length;
  for (const t of tensors.values()) {
    const data = encodeTensorData(t.dtype, t.data);
    out.set(data, offset);
    offset += data.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isNonNegativeInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}
