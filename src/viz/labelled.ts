// Index arithmetic on row-major Labelled arrays, shared by every view.
import type { AxisName, Labelled } from '../engine/patching/types';

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
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

export function axisIndex(l: Pick<Labelled, 'axes'>, axis: AxisName): number {
  const i = l.axes.indexOf(axis);
  if (i < 0) throw new Error(`axis '${axis}' not in [${l.axes.join(', ')}]`);
  return i;
}

export function sameLayout(a: Labelled, b: Labelled): boolean {
  return a.axes.length === b.axes.length
    && a.axes.every((ax, i) => ax === b.axes[i] && a.shape[i] === b.shape[i]);
}

/** Labels for an axis when the caller gives none: L0.. for layers, H0.. for heads, indices otherwise. */
export function defaultAxisLabels(axis: AxisName, n: number): string[] {
  const prefix = axis === 'layer' ? 'L' : axis === 'head' ? 'H' : axis === 'neuron' ? 'N' : '';
  return Array.from({ length: n }, (_, i) => prefix + i);
}

/** Finite values only; NaN marks "not computed" throughout the views. */
export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > m && Number.isFinite(a)) m = a;
  }
  return m;
}
