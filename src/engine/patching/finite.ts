// A non-finite metric or result is an error that says where it first appears, never a null in JSON or a blank
// cell on screen (issue 16). Pure: the CLI calls it on its results, the worker on the app's.
import type { Labelled } from './types';

export class NonFiniteError extends Error {
  override readonly name = 'NonFiniteError';
}

export interface NonFiniteCell {
  /** Index along each axis of the first non-finite value (row-major order). */
  index: number[];
  value: number;
  /** How many values are not finite in all. */
  count: number;
}

export function firstNonFinite(x: Labelled): NonFiniteCell | null {
  let first = -1;
  let count = 0;
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i])) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (first < 0) return null;
  const index = new Array<number>(x.shape.length);
  for (let a = x.shape.length - 1, rest = first; a >= 0; a--) {
    index[a] = rest % x.shape[a];
    rest = Math.floor(rest / x.shape[a]);
  }
  return { index, value: x.data[first], count };
}

const cellName = (x: Labelled, index: number[]) => index.map((v, a) => `${x.axes[a] ?? `axis ${a}`} ${v}`).join(', ');

/**
 * Throws NonFiniteError for the first non-finite metric (clean, then corrupted), then the first family (in the
 * given order) with a non-finite cell. `what` names the computation, e.g. "attribution" or "activation patching".
 */
export function checkFinite(what: string, metric: { clean: number; corrupted: number } | undefined, values: [string, Labelled][]): void {
  const hint = "the model's activations overflow float32, or its weights are damaged";
  if (metric) {
    for (const run of ['clean', 'corrupted'] as const) {
      if (!Number.isFinite(metric[run])) throw new NonFiniteError(`The ${run} metric is ${metric[run]}: ${hint}.`);
    }
  }
  for (const [family, x] of values) {
    const bad = firstNonFinite(x);
    if (bad) {
      const more = bad.count > 1 ? ` (and ${bad.count - 1} more of ${x.data.length} cells)` : '';
      throw new NonFiniteError(`The ${what} of ${family} is ${bad.value} at ${cellName(x, bad.index)}${more}: ${hint}.`);
    }
  }
}
