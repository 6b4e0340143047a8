// The k entries of a result with the largest |value| (e.g. MLP neurons), with their indices along each axis.
import type { AxisName, Labelled } from './types';

export interface TopEntry {
  index: number[];
  value: number;
}

export function topK(x: Labelled, k: number): TopEntry[] {
  const order = Array.from(x.data.keys()).filter((i) => !Number.isNaN(x.data[i]));
  order.sort((a, b) => Math.abs(x.data[b]) - Math.abs(x.data[a]) || a - b);
  return order.slice(0, k).map((flat) => {
    const index = new Array<number>(x.shape.length);
    let rest = flat;
    for (let a = x.shape.length - 1; a >= 0; a--) {
      index[a] = rest % x.shape[a];
      rest = Math.floor(rest / x.shape[a]);
    }
    return { index, value: x.data[flat] };
  });
}

/** An entry as an object keyed by axis names: {layer: 3, pos: 7, neuron: 1201, value: 0.42}. */
export function named(axes: AxisName[], e: TopEntry): Record<string, number> {
  return Object.fromEntries([...axes.map((a, i) => [a, e.index[i]] as const), ['value', e.value] as const]);
}
