// Pairs of several token lengths in one dataset (issue 13): positions are aligned from the END, so that the last
// position (where the metric is read) is the last for every pair and "position -1" means the same thing in each.
// The layout is the longest pair's; a pair of length P sits at offset = longest - P: its position p is the
// layout's position p + offset on every position axis (pos, query_pos, key_pos). Cells a shorter pair lacks (any
// position coordinate < its offset) are NaN in its per-pair row and left out of that cell's mean and sem; the
// count of pairs per cell comes with them.
import type { PairLabelled } from './dataset';
import type { Family } from './families';
import type { AxisName, Labelled } from './labelled';

export const isPositionAxis = (a: string) => a === 'pos' || a === 'query_pos' || a === 'key_pos';

/** Copies a batch's values [batch pairs, ...layout at its length] into the aligned [n, ...longest layout]. */
export function placeAligned(
  into: Partial<Record<Family, PairLabelled>>, f: Family, v: PairLabelled, pairs: number[], n: number, longest: number, offsets: number[],
): void {
  const positional = v.axes.slice(1).map((a) => isPositionAxis(a));
  const inShape = v.shape.slice(1);
  const outShape = inShape.map((d, a) => (positional[a] ? longest : d));
  const inSize = inShape.reduce((a, b) => a * b, 1);
  const outSize = outShape.reduce((a, b) => a * b, 1);
  const out = (into[f] ??= { axes: v.axes, shape: [n, ...outShape], data: new Float64Array(n * outSize).fill(NaN) });
  const outStrides = outShape.map((_, a) => outShape.slice(a + 1).reduce((x, y) => x * y, 1));
  pairs.forEach((pair, b) => {
    const o = offsets[pair];
    const coord = inShape.map(() => 0);
    for (let e = 0; e < inSize; e++) {
      let at = 0;
      for (let a = 0; a < coord.length; a++) at += (coord[a] + (positional[a] ? o : 0)) * outStrides[a];
      out.data[pair * outSize + at] = v.data[b * inSize + e];
      for (let a = coord.length - 1; a >= 0; a--) {
        if (++coord[a] < inShape[a]) break;
        coord[a] = 0;
      }
    }
  });
}

/** Mean, sem (sample sd / sqrt(count); 0 for one pair) and count over the pairs that have each cell. */
export function alignedMeanAndSem(perPair: PairLabelled, offsets: number[]): { mean: Labelled; sem: Labelled; count: Labelled } {
  const [n, ...shape] = perPair.shape;
  const axes = perPair.axes.slice(1) as AxisName[];
  const size = shape.reduce((a, b) => a * b, 1);
  // The smallest position coordinate of each cell (Infinity without a position axis): pair b has the cell iff
  // offsets[b] <= it.
  const minPos = new Float64Array(size).fill(Infinity);
  const coord = shape.map(() => 0);
  for (let i = 0; i < size; i++) {
    for (let a = 0; a < shape.length; a++) if (isPositionAxis(axes[a])) minPos[i] = Math.min(minPos[i], coord[a]);
    for (let a = shape.length - 1; a >= 0; a--) {
      if (++coord[a] < shape[a]) break;
      coord[a] = 0;
    }
  }
  const mean = new Float64Array(size);
  const sem = new Float64Array(size);
  const count = new Float64Array(size);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < size; i++)
      if (offsets[b] <= minPos[i]) {
        count[i]++;
        mean[i] += perPair.data[b * size + i];
      }
  for (let i = 0; i < size; i++) mean[i] /= count[i];
  for (let b = 0; b < n; b++)
    for (let i = 0; i < size; i++)
      if (offsets[b] <= minPos[i]) {
        const d = perPair.data[b * size + i] - mean[i];
        sem[i] += d * d;
      }
  for (let i = 0; i < size; i++) sem[i] = count[i] > 1 ? Math.sqrt(sem[i] / (count[i] - 1) / count[i]) : 0;
  return { mean: { axes, shape, data: mean }, sem: { axes, shape, data: sem }, count: { axes, shape, data: count } };
}
