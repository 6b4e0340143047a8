// Shape ops and reductions, each beside its gradient rule.
import { broadcastShapes, fmtShape, sameShape, type Graph, type Tensor } from '../graph';
import { unbroadcast } from './elementwise';
import type { GradRule } from './types';
import { numel } from '../shape';

/** `axis` in [-rank, rank) as a non-negative axis; throws naming the op and the shape otherwise. */
function axisOf(op: string, axis: number, shape: readonly number[]): number {
  const r = shape.length;
  if (!Number.isInteger(axis) || axis < -r || axis >= r) throw new Error(`${op}: axis ${axis} is out of range for ${fmtShape(shape)}`);
  return axis < 0 ? axis + r : axis;
}

/** Reduction axes, normalised; an empty list would make ONNX reduce every axis, so it is refused. */
function reduceAxes(op: string, axes: readonly number[], shape: readonly number[]): number[] {
  if (!axes.length) throw new Error(`${op}: no axes given for ${fmtShape(shape)} (list them; ONNX would reduce all)`);
  const ax = axes.map((a) => axisOf(op, a, shape));
  if (new Set(ax).size !== ax.length) throw new Error(`${op}: axes [${axes}] repeat an axis of ${fmtShape(shape)}`);
  return ax;
}

/** The target shape is given in full: ONNX's -1 (infer) and 0 (copy the input's dim) are not used. */
export function Reshape(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.some((d) => !Number.isInteger(d) || d < 1))
    throw new Error(`Reshape: target ${fmtShape(shape)} for ${fmtShape(x.shape)} must list every dimension as a positive integer (no -1 or 0)`);
  const n = numel(shape);
  if (n !== x.size) throw new Error(`Reshape: cannot reshape ${fmtShape(x.shape)} (${x.size} values) to ${fmtShape(shape)} (${n})`);
  return x.graph.node('Reshape', [x, x.graph.ints(shape)], shape, x.dtype);
}

export function Transpose(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i))
    throw new Error(`Transpose: perm [${perm}] is not a permutation of the axes of ${fmtShape(x.shape)}`);
  return x.graph.node('Transpose', [x], perm.map((p) => x.shape[p]), x.dtype, { perm: [...perm] });
}

/** Sum over `axes`; keepDims keeps them as size 1. */
export function ReduceSum(x: Tensor, axes: readonly number[], keepDims = false): Tensor {
  const ax = reduceAxes('ReduceSum', axes, x.shape);
  const shape = reducedShape(x.shape, ax, keepDims);
  return x.graph.node('ReduceSum', [x, x.graph.ints(ax)], shape, x.dtype, { keepdims: keepDims ? 1 : 0 });
}

/** Max over `axes` (opset 17: axes as an attribute). No gradient rule: used under stopGradient only. */
export function ReduceMax(x: Tensor, axes: readonly number[], keepDims = false): Tensor {
  const ax = reduceAxes('ReduceMax', axes, x.shape);
  return x.graph.node('ReduceMax', [x], reducedShape(x.shape, ax, keepDims), x.dtype, { axes: ax, keepdims: keepDims ? 1 : 0 });
}

function reducedShape(shape: readonly number[], axes: number[], keep: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return out;
}

export function Expand(x: Tensor, shape: readonly number[]): Tensor {
  return x.graph.node('Expand', [x, x.graph.ints(shape)], broadcastShapes('Expand', x.shape, shape), x.dtype);
}

/** x[..., start:end, ...] along `axis` (step 1). */
export function Slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = axisOf('Slice', axis, x.shape);
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > x.shape[a] || start >= end)
    throw new Error(`Slice: [${start}:${end}] out of range for axis ${a} of ${fmtShape(x.shape)}`);
  const shape = [...x.shape];
  shape[a] = end - start;
  const g = x.graph;
  return g.node('Slice', [x, g.ints([start]), g.ints([end]), g.ints([a])], shape, x.dtype);
}

export function Concat(xs: Tensor[], axis: number): Tensor {
  if (!xs.length) throw new Error('Concat: no inputs');
  const a = axisOf('Concat', axis, xs[0].shape);
  for (const x of xs)
    if (x.rank !== xs[0].rank || x.dtype !== xs[0].dtype || x.shape.some((d, i) => i !== a && d !== xs[0].shape[i]))
      throw new Error(`Concat: on axis ${a}, ${x.dtype} ${fmtShape(x.shape)} does not fit ${xs[0].dtype} ${fmtShape(xs[0].shape)}`);
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((s, x) => s + x.shape[a], 0);
  return xs[0].graph.node('Concat', xs, shape, xs[0].dtype, { axis: a });
}

/** Zero padding: `pads` = [begin_0..begin_n, end_0..end_n] as in ONNX. */
export function Pad(x: Tensor, pads: readonly number[]): Tensor {
  // Negative pads (cropping) are valid ONNX, but Pad's gradient rule slices with them: use Slice instead.
  if (pads.length !== 2 * x.rank || pads.some((p) => !Number.isInteger(p) || p < 0))
    throw new Error(`Pad: pads [${pads}] for ${fmtShape(x.shape)} must be ${2 * x.rank} non-negative integers`);
  const shape = x.shape.map((d, i) => d + pads[i] + pads[i + x.rank]);
  return x.graph.node('Pad', [x, x.graph.ints(pads)], shape, x.dtype);
}

/**
 * [start, start + 1, .., end - 1] as int64 (ONNX Range), for positions and masks computed from sizes at run time
 * (under symbolic sizes, symbolic.ts, the bounds follow the prompt). No gradient: nothing float flows into it.
 */
export function Arange(g: Graph, start: number, end: number): Tensor {
  if (!Number.isInteger(start) || !Number.isInteger(end) || end <= start) throw new Error(`Arange: [${start}, ${end}) is not a non-empty integer range`);
  const bound = (v: number) => g.constant([v], [], 'int64');
  return g.node('Range', [bound(start), bound(end), bound(1)], [end - start], 'int64');
}

/** Rows of `data` [V, ...] picked by int64 `indices` (axis 0): an embedding lookup. */
export function Gather(data: Tensor, indices: Tensor): Tensor {
  if (data.rank < 1 || indices.dtype !== 'int64')
    throw new Error(`Gather: needs data of rank >= 1 and int64 indices, got ${data.dtype} ${fmtShape(data.shape)} and ${indices.dtype} ${fmtShape(indices.shape)}`);
  return data.graph.node('Gather', [data, indices], [...indices.shape, ...data.shape.slice(1)], data.dtype, { axis: 0 });
}

/**
 * ONNX GatherND (batch_dims 0): indices [..., k] pick entries of data's first k axes, out [...indices[:-1],
 * ...data[k:]]. No gradient rule: used in forward-only graphs (the packed patch graphs of activation patching).
 */
export function GatherND(data: Tensor, indices: Tensor): Tensor {
  const k = indices.shape[indices.rank - 1];
  if (indices.dtype !== 'int64' || indices.rank < 1 || !(k >= 1 && k <= data.rank))
    throw new Error(`GatherND: needs int64 indices [..., k] with 1 <= k <= ${data.rank} for data ${fmtShape(data.shape)}, got ${indices.dtype} ${fmtShape(indices.shape)}`);
  return data.graph.node('GatherND', [data, indices], [...indices.shape.slice(0, -1), ...data.shape.slice(k)], data.dtype);
}

/** out = data with `updates` added at `indices` (indices [..., 1] into axis 0). */
export function ScatterNDAdd(data: Tensor, indices: Tensor, updates: Tensor): Tensor {
  const want = [...indices.shape.slice(0, -1), ...data.shape.slice(1)];
  if (indices.dtype !== 'int64' || indices.shape[indices.rank - 1] !== 1 || updates.dtype !== data.dtype || !sameShape(updates.shape, want))
    throw new Error(
      `ScatterND: data ${data.dtype} ${fmtShape(data.shape)} needs int64 indices [..., 1] and ${data.dtype} updates ${fmtShape(want)}, ` +
        `got ${indices.dtype} ${fmtShape(indices.shape)} and ${updates.dtype} ${fmtShape(updates.shape)}`,
    );
  return data.graph.node('ScatterND', [data, indices, updates], data.shape, data.dtype, { reduction: 'add' });
}

export const shapeReduceRules: Record<string, GradRule> = {
  Reshape: ({ inputs: [x] }, g) => [Reshape(g, x.shape), null],
  Transpose: ({ attrs }, g) => {
    const perm = attrs.perm as number[];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [Transpose(g, inv)];
  },
  ReduceSum: ({ inputs: [x, axesT], attrs }, g) => {
    // Put the reduced axes back as size 1, then broadcast to the input shape.
    const axes = Array.from(axesT.constant!.values as BigInt64Array, Number);
    const kept = attrs.keepdims ? g : Reshape(g, x.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
    return [Expand(kept, x.shape), null];
  },
  Expand: ({ inputs: [x] }, g) => [unbroadcast(g, x.shape), null],
  Slice: ({ inputs: [x, starts, , axes] }, g) => {
    const a = Number((axes.constant!.values as BigInt64Array)[0]);
    const s = Number((starts.constant!.values as BigInt64Array)[0]);
    const pads = new Array(2 * x.rank).fill(0);
    pads[a] = s;
    pads[a + x.rank] = x.shape[a] - s - g.shape[a];
    return [Pad(g, pads), null, null, null];
  },
  Concat: ({ inputs, attrs }, g) => {
    const a = attrs.axis as number;
    let off = 0;
    return inputs.map((x) => {
      const part = Slice(g, a, off, off + x.shape[a]);
      off += x.shape[a];
      return part;
    });
  },
  Pad: ({ inputs: [x, padsT] }, g) => {
    const pads = Array.from(padsT.constant!.values as BigInt64Array, Number);
    let out = g;
    for (let a = 0; a < x.rank; a++) if (pads[a] || pads[a + x.rank]) out = Slice(out, a, pads[a], pads[a] + x.shape[a]);
    return [out, null];
  },
  Gather: ({ inputs: [data, indices] }, g) => {
    const gr = data.graph;
    const zeros = Expand(gr.scalar(0), data.shape);
    const idx = Reshape(indices, [...indices.shape, 1]);
    return [ScatterNDAdd(zeros, idx, g), null];
  },
};

