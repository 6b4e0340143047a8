import { describe, expect, it } from 'vitest';
import { rawSafetensors, rawSafetensorsText } from '../../../test/fixtures/safetensors-fixtures';
import {
  encodeSafetensors,
  f16BitsToNumber,
  numberToBF16Bits,
  numberToF16Bits,
  parseSafetensors,
  roundToDtype,
  SafetensorsError,
  type FloatDtype,
  type TensorToWrite,
} from './safetensors';

const f32 = (xs: number[]) => new Float32Array(xs);
const bitsOf = (x: number) => new Uint32Array(f32([x]).buffer)[0];
const fromBits = (b: number) => new Float32Array(new Uint32Array([b]).buffer)[0];

describe('float16 and bfloat16 conversion', () => {
  it('decodes known half-precision bit patterns', () => {
    expect(f16BitsToNumber(0x3c00)).toBe(1);
    expect(f16BitsToNumber(0xc000)).toBe(-2);
    expect(f16BitsToNumber(0x7bff)).toBe(65504);
    expect(f16BitsToNumber(0x0001)).toBe(2 ** -24);
    expect(f16BitsToNumber(0x0400)).toBe(2 ** -14);
    expect(f16BitsToNumber(0x7c00)).toBe(Infinity);
    expect(Object.is(f16BitsToNumber(0x8000), -0)).toBe(true);
    expect(f16BitsToNumber(0x7e00)).toBeNaN();
  });

  it('round-trips every representable half and bfloat16 value exactly', () => {
    for (let h = 0; h < 65536; h++) {
      const isF16NaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (!isF16NaN) expect(numberToF16Bits(f16BitsToNumber(h))).toBe(h);
      const isBF16NaN = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      if (!isBF16NaN) expect(numberToBF16Bits(fromBits(h << 16))).toBe(h);
    }
  });

  it('roundToDtype gives the values a file of that dtype reads back', () => {
    const data = Float32Array.from([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65519, -1e-10, 0.1, 3.14159]);
    for (const dtype of ['F16', 'BF16', 'F32'] as const) {
      const file = parseSafetensors(encodeSafetensors(new Map([['x', { dtype, shape: [6], data }]])));
      expect(Array.from(roundToDtype(dtype, data))).toEqual(Array.from(file.read('x').data));
    }
    expect(roundToDtype('F16', data)[0]).toBe(1);
  });

  it('rounds to nearest, ties to even', () => {
    expect(numberToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, even stays
    expect(numberToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd rounds up
    expect(numberToF16Bits(65519)).toBe(0x7bff);
    expect(numberToF16Bits(65520)).toBe(0x7c00); // tie between 65504 and 2^16 goes to infinity
    expect(numberToF16Bits(2 ** -25)).toBe(0x0000);
    expect(numberToF16Bits(3 * 2 ** -25)).toBe(0x0002);
    expect(numberToF16Bits(-1e-10)).toBe(0x8000);
    expect(numberToF16Bits(NaN) & 0x7fff).toBeGreaterThan(0x7c00);
    expect(numberToBF16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(numberToBF16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(numberToBF16Bits(fromBits(0x7f7fffff))).toBe(0x7f80); // max float rounds to infinity
    expect(numberToBF16Bits(NaN) & 0x7fff).toBeGreaterThan(0x7f80);
  });
});

describe('encodeSafetensors / parseSafetensors', () => {
  // Values representable in all three dtypes, including a subnormal half and negative zero.
  const exact = f32([0, -0, 1, -2, 0.5, 2 ** -20, 1024, -63.75, 2 ** -14, 3.25]);

  for (const dtype of ['F32', 'F16', 'BF16'] as FloatDtype[]) {
    it(`round-trips ${dtype} exactly for representable values`, () => {
      const tensors = new Map<string, TensorToWrite>([
        ['a', { dtype, shape: [2, 5], data: exact }],
        ['b', { dtype, shape: [], data: f32([-0.75]) }],
        ['empty', { dtype, shape: [0, 3], data: f32([]) }],
      ]);
      const file = parseSafetensors(encodeSafetensors(tensors, { format: 'pt' }));
      expect(file.metadata).toEqual({ format: 'pt' });
      expect([...file.entries.keys()]).toEqual(['a', 'b', 'empty']);
      expect(file.entries.get('a')!.dtype).toBe(dtype);
      const a = file.read('a');
      expect(a.shape).toEqual([2, 5]);
      expect([...a.data].map(bitsOf)).toEqual([...exact].map(bitsOf)); // bitwise, so -0 counts
      expect(file.read('b')).toEqual({ shape: [], data: f32([-0.75]) });
      expect(file.read('empty').data.length).toBe(0);
    });
  }

  it('round-trips arbitrary F32 values bit for bit', () => {
    const data = f32(Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 20) - 10)));
    const file = parseSafetensors(encodeSafetensors(new Map([['x', { dtype: 'F32', shape: [10, 100], data }]])));
    expect(file.read('x').data).toEqual(data);
  });

  it('rounds F16 and BF16 to nearest when writing', () => {
    const data = f32([0.1, -3.14159, 1e-3]);
    for (const [dtype, toBits] of [['F16', numberToF16Bits], ['BF16', numberToBF16Bits]] as const) {
      const read = parseSafetensors(encodeSafetensors(new Map([['x', { dtype, shape: [3], data }]]))).read('x');
      for (let i = 0; i < 3; i++) {
        const back = dtype === 'F16' ? f16BitsToNumber(toBits(data[i])) : fromBits(toBits(data[i]) << 16);
        expect(read.data[i]).toBe(Math.fround(back));
        expect(Math.abs(read.data[i] - data[i]) / Math.abs(data[i])).toBeLessThan(dtype === 'F16' ? 2 ** -11 : 2 ** -8);
      }
    }
  });

  it('pads the header with spaces so the data region is 8-byte aligned', () => {
    for (let n = 1; n <= 9; n++) {
      const bytes = encodeSafetensors(new Map([['t'.repeat(n), { dtype: 'F32', shape: [1], data: f32([1]) }]]));
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect((8 + headerLength) % 8).toBe(0);
      const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
      expect(JSON.parse(header)).toBeTruthy();
      expect(header.trimEnd().endsWith('}')).toBe(true);
    }
  });

  it('reads aligned F32 as a view of the input and unaligned F32 as a copy', () => {
    const data = f32([1.5, -2.5, 3.5]);
    const bytes = encodeSafetensors(new Map([['x', { dtype: 'F32', shape: [3], data }]]));
    const aligned = parseSafetensors(bytes).read('x');
    expect(aligned.data.buffer).toBe(bytes.buffer);

    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const unaligned = parseSafetensors(shifted.subarray(1)).read('x');
    expect(unaligned.data).toEqual(data);
    expect(unaligned.data.buffer).not.toBe(shifted.buffer);
  });

  it('accepts an ArrayBuffer', () => {
    const bytes = encodeSafetensors(new Map([['x', { dtype: 'BF16', shape: [2], data: f32([1, 2]) }]]));
    const copy = bytes.slice().buffer;
    expect(parseSafetensors(copy).read('x').data).toEqual(f32([1, 2]));
  });

  it('refuses to write data that does not fill the shape', () => {
    expect(() => encodeSafetensors(new Map([['x', { dtype: 'F32', shape: [2, 2], data: f32([1]) }]]))).toThrow(
      'cannot write tensor x: 1 values do not fill shape [2, 2]',
    );
  });
});

describe('parseSafetensors errors', () => {
  const expectError = (bytes: Uint8Array, message: string | RegExp) => {
    let error: unknown;
    try {
      parseSafetensors(bytes);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as Error).message).toMatch(message);
  };

  it('rejects a file shorter than 8 bytes', () => {
    expectError(new Uint8Array(5), 'not a safetensors file: it is 5 bytes long, shorter than the 8-byte header length');
  });

  it('rejects a header length past the end of the file', () => {
    const bytes = new Uint8Array(18);
    new DataView(bytes.buffer).setBigUint64(0, 1000n, true);
    expectError(bytes, 'the header claims 1000 bytes but only 10 bytes follow the 8-byte length');
    // An HTML error page saved as model.safetensors reads as an absurd length, and gets the same message.
    expectError(new TextEncoder().encode('<!DOCTYPE html><html>'), /not a safetensors file, or a truncated one/);
  });

  it('rejects a header that is not valid JSON', () => {
    expectError(rawSafetensorsText('{"wte.weight": {'), /^safetensors header is not valid JSON \(/);
    expectError(rawSafetensorsText('[1, 2]'), 'safetensors header is not a JSON object');
  });

  it('rejects malformed entries', () => {
    expectError(rawSafetensors({ x: { dtype: 'F32', shape: 'big', data_offsets: [0, 4] } }), /tensor x has a malformed header entry: shape "big"/);
    expectError(rawSafetensors({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }), /tensor x has a malformed header entry: data_offsets \[4,0\]/);
    expectError(rawSafetensors({ x: { dtype: 'Q4_K', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), 'tensor x has unknown dtype Q4_K');
  });

  it('rejects data_offsets whose size disagrees with dtype and shape', () => {
    const header = { 'h.0.mlp.c_fc.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } };
    expectError(
      rawSafetensors(header, new Uint8Array(24)),
      'tensor h.0.mlp.c_fc.weight has data_offsets [0, 20] (20 bytes), but dtype F32 with shape [2, 3] needs 24 bytes',
    );
  });

  it('rejects overlapping tensors', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    expectError(rawSafetensors(header, new Uint8Array(12)), 'tensors a and b overlap in the data region ([0, 8] and [4, 12])');
  });

  it('rejects data_offsets past the end of the data region', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [64, 72] },
    };
    expectError(rawSafetensors(header, new Uint8Array(16)), 'tensor b has data_offsets [64, 72] past the end of the data region (16 bytes)');
  });

  it('reports a truncated file (data region shorter than the header promises)', () => {
    const full = encodeSafetensors(
      new Map([
        ['a', { dtype: 'F32', shape: [4], data: f32([1, 2, 3, 4]) }],
        ['b', { dtype: 'F16', shape: [4], data: f32([1, 2, 3, 4]) }],
      ]),
    );
    const cut = full.subarray(0, full.length - 3);
    expectError(
      cut,
      `safetensors file is truncated: it is ${cut.length} bytes, but its header promises ${full.length} ` +
        '(24 bytes of tensor data, only 21 present); download it again',
    );
  });

  it('parses an unsupported dtype but refuses to decode it, naming the tensor', () => {
    const header = {
      'h.0.attn.c_attn.weight': { dtype: 'I64', shape: [2], data_offsets: [0, 16] },
      ok: { dtype: 'F32', shape: [1], data_offsets: [16, 20] },
    };
    const file = parseSafetensors(rawSafetensors(header, new Uint8Array(20)));
    expect(file.read('ok').data).toEqual(f32([0]));
    expect(() => file.read('h.0.attn.c_attn.weight')).toThrow(
      new SafetensorsError('tensor h.0.attn.c_attn.weight has dtype I64; Patchwork reads F32, F16 and BF16'),
    );
    expect(() => file.read('nope')).toThrow('no tensor named nope in this safetensors file');
  });
});
