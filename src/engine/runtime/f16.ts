// F16 weights (issue 15 item 3): the held weights are stored as IEEE float16 (half the memory of float32), and
// each graph declares those weight inputs float16 and casts them to float32 inside the graph, right before their
// first use. Compute stays float32 everywhere: only the weights are rounded (relative error <= 2^-11 each), so
// activations, gradients and metrics keep float32's range and the same ops run on every backend.
//
// The rewrite works on the serialised ONNX model, after the graph is built: no graph builder needs to know the
// weights' precision, and every graph kind (attribution, caches, patches, training) gets it the same way.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

import type { WeightPrecision } from '../model/memory';

export type { WeightPrecision };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float16 bits nearest to x (round to nearest, ties to even; overflow to +-Infinity; NaN stays NaN). */
export function float16Bits(x: number): number {
  f32[0] = x;
  return bitsOf(u32[0]);
}

function bitsOf(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf, NaN (quiet)
  const e = exp - 127 + 15; // the float16 exponent field, before rounding
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // A float16 subnormal, m * 2^-24: m = (1.mant) * 2^(e - 1 + 10) = (mant | 2^23) >> (14 - e), rounded.
    if (e < -10) return sign; // below half the smallest subnormal (2^-25): zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rem = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rem > half || (rem === half && (m & 1))) m++; // m may reach 0x400: the smallest normal, bit-exactly
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // a carry into the exponent is right, up to Infinity
  return h;
}

/** float32 -> float16 bits, element by element. */
export function toFloat16(data: Float32Array): Uint16Array {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = bitsOf(bits[i]);
  return out;
}

/** How many values round to +-Infinity in float16 (|x| >= 65520): a weight like that needs float32. */
export function float16Overflow(data: Float32Array): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (Math.abs(data[i]) >= 65520) n++;
  return n;
}

/**
 * Rewrites an ONNX model so that the graph inputs named in `weightNames` are float16: each one gets a Cast to
 * float32 placed right before the first node that reads it (so that onnxruntime need not hold every float32 copy
 * at once), and every reader reads the cast. Inputs not in the graph are ignored.
 */
export function float16WeightInputs(model: Uint8Array, weightNames: Iterable<string>): Uint8Array {
  const m = onnx.ModelProto.decode(model);
  const g = m.graph!;
  const wanted = new Set(weightNames);
  const cast = new Map<string, string>();
  for (const input of g.input ?? []) {
    if (!wanted.has(input.name!)) continue;
    const tt = input.type?.tensorType;
    if (!tt || tt.elemType !== onnx.TensorProto.DataType.FLOAT) continue;
    tt.elemType = onnx.TensorProto.DataType.FLOAT16;
    cast.set(input.name!, `${input.name}::f32`);
  }
  if (cast.size === 0) return model;
  const nodes: NonNullable<typeof g.node> = [];
  const done = new Set<string>();
  for (const node of g.node ?? []) {
    node.input = node.input!.map((name) => {
      const to = cast.get(name);
      if (!to) return name;
      if (!done.has(name)) {
        done.add(name);
        nodes.push({
          opType: 'Cast', input: [name], output: [to], name: `cast_f32:${name}`,
          attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.FLOAT }],
        });
      }
      return to;
    });
    nodes.push(node);
  }
  // No graph outputs a weight input directly (outputs pass through an op); one that did would now be float16.
  const direct = (g.output ?? []).find((o) => cast.has(o.name!));
  if (direct) throw new Error(`float16 weights: the weight ${direct.name} is itself a graph output`);
  g.node = nodes;
  return onnx.ModelProto.encode(m).finish();
}
