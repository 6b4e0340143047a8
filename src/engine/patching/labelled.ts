// Results carry their axis names, so every plot labels itself; this module is their type and index arithmetic
// (row-major), shared by the engine, the CLI, the worker and the views. Pure: no graph code.
import { numel } from '../graph/shape';

/** Axis names follow TransformerLens. */
export type AxisName = 'layer' | 'pos' | 'head' | 'query_pos' | 'key_pos' | 'neuron';

/** A dense array that carries its axis names. Row-major. */
export interface Labelled {
  axes: AxisName[];
  shape: number[];
  data: Float64Array;
}

/** Number of entries of a shape (the product of its sizes). */
export const size = numel;

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Flat offset of a full index; throws on a wrong rank or an out-of-range coordinate. */
export function ravel(shape: readonly number[], index: readonly number[]): number {
  if (index.length !== shape.length) throw new Error(`index rank ${index.length} != shape rank ${shape.length}`);
  let off = 0;
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const v = index[i];
    if (!Number.isInteger(v) || v < 0 || v >= shape[i]) throw new Error(`index ${index.join(',')} out of range for shape ${shape.join('x')}`);
    off += v * acc;
    acc *= shape[i];
  }
  return off;
}

export function unravel(shape: readonly number[], flat: number): number[] {
  const index = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    index[i] = flat % shape[i];
    flat = Math.floor(flat / shape[i]);
  }
  return index;
}

/** Every index of a shape, row-major. */
export function* cells(shape: readonly number[]): Generator<number[]> {
  const total = numel(shape);
  for (let n = 0; n < total; n++) yield unravel(shape, n);
}

export function axisIndex(l: Pick<Labelled, 'axes'>, axis: AxisName): number {
  const i = l.axes.indexOf(axis);
  if (i < 0) throw new Error(`axis '${axis}' not in [${l.axes.join(', ')}]`);
  return i;
}

export function sameLayout(a: Labelled, b: Labelled): boolean {
  return a.axes.length === b.axes.length
    && a.axes.every((ax, i) => ax === b.axes[i] && a.shape[i] === b.shape[i]);
}

export interface TopEntry {
  index: number[];
  value: number;
}

/** The k entries with the largest |value| (e.g. MLP neurons), with their indices; NaN (not computed) is skipped. */
export function topK(x: Labelled, k: number): TopEntry[] {
  const order = Array.from(x.data.keys()).filter((i) => !Number.isNaN(x.data[i]));
  order.sort((a, b) => Math.abs(x.data[b]) - Math.abs(x.data[a]) || a - b);
  return order.slice(0, k).map((flat) => ({ index: unravel(x.shape, flat), value: x.data[flat] }));
}

/** An entry as an object keyed by axis names: {layer: 3, pos: 7, neuron: 1201, value: 0.42}. */
export function named(axes: readonly AxisName[], e: TopEntry): Record<string, number> {
  return Object.fromEntries([...axes.map((a, i) => [a, e.index[i]] as const), ['value', e.value] as const]);
}
