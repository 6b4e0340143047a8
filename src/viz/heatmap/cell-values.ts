// Which numbers a heatmap shows (issue 14): the estimator's values, the exact activation patches, or their
// difference. Exact and difference exist only where the activation patch was computed; elsewhere NaN, which the
// heatmap draws hatched ("not computed"), never as a 0 that would look like a measured null effect.
import type { Labelled } from '../../engine/patching/types';
import { sameLayout } from '../labelled';

export type CellValues = 'estimate' | 'exact' | 'difference';

export const CELL_VALUES: readonly { id: CellValues; label: string }[] = [
  { id: 'estimate', label: 'estimate' },
  { id: 'exact', label: 'exact (activation patch)' },
  { id: 'difference', label: 'estimate − exact' },
];

/** The values to draw: a new Labelled in the estimate's layout (inputs are not modified). */
export function cellValues(estimate: Labelled, exact: Labelled | undefined, mode: CellValues): Labelled {
  if (mode === 'estimate') return estimate;
  if (exact && !sameLayout(estimate, exact)) {
    throw new Error(`activation-patch layout [${exact.axes}] ${exact.shape} != estimate [${estimate.axes}] ${estimate.shape}`);
  }
  const out = new Float64Array(estimate.data.length);
  for (let i = 0; i < out.length; i++) {
    const x = exact ? exact.data[i] : NaN;
    out[i] = Number.isNaN(x) ? NaN : mode === 'exact' ? x : estimate.data[i] - x;
  }
  return { axes: estimate.axes, shape: estimate.shape, data: out };
}

/** How many entries have a computed activation patch. */
export function computedCount(exact: Labelled | undefined): number {
  if (!exact) return 0;
  let n = 0;
  for (const v of exact.data) if (!Number.isNaN(v)) n++;
  return n;
}

/** The heatmap's name for the values shown, e.g. for its legend, tooltip and accessible names. */
export function cellValuesName(mode: CellValues, estimatorName: string): string {
  if (mode === 'exact') return 'activation patch (exact)';
  if (mode === 'difference') return `${estimatorName} − exact`;
  return estimatorName;
}
