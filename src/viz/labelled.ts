// View helpers on Labelled arrays. Their index arithmetic lives with the type, in engine/patching/labelled.ts.
import type { AxisName } from '../engine/patching/labelled';

export { axisIndex, ravel, sameLayout, size, strides, unravel } from '../engine/patching/labelled';

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
