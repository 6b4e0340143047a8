// The Neurons tab's table (issue 14): the K neurons with the largest |attribution| of mlp_post [layer, pos, neuron],
// in one layer and/or at one position or over all of them. Pure, tested apart from React.
import type { Labelled } from '../../../engine/patching/types';

export interface NeuronRow {
  /** [layer, pos, neuron]: the mlp_post cell. */
  index: [number, number, number];
  value: number;
}

/**
 * Top K by |value| (NaN skipped), largest first; ties go to the lower flat index so the order is stable. `layer` or
 * `pos` null: every layer or position.
 */
export function neuronTopK(l: Labelled, opts: { k: number; layer?: number | null; pos?: number | null }): NeuronRow[] {
  if (l.axes.join(',') !== 'layer,pos,neuron') throw new Error(`neuronTopK needs [layer, pos, neuron], got [${l.axes.join(', ')}]`);
  const [L, P, N] = l.shape;
  const k = Math.max(0, Math.floor(opts.k));
  const layers = opts.layer == null ? Array.from({ length: L }, (_, i) => i) : [opts.layer];
  const positions = opts.pos == null ? Array.from({ length: P }, (_, i) => i) : [opts.pos];
  const rows: NeuronRow[] = [];
  const better = (a: NeuronRow, b: NeuronRow) => Math.abs(a.value) > Math.abs(b.value);
  for (const layer of layers) {
    if (layer < 0 || layer >= L) continue;
    for (const pos of positions) {
      if (pos < 0 || pos >= P) continue;
      const base = (layer * P + pos) * N;
      for (let n = 0; n < N; n++) {
        const value = l.data[base + n];
        if (Number.isNaN(value)) continue;
        const row: NeuronRow = { index: [layer, pos, n], value };
        if (rows.length === k && !better(row, rows[k - 1])) continue;
        // Insertion into a short sorted list: cells arrive in flat order, so an equal |value| stays behind.
        let j = rows.length;
        while (j > 0 && better(row, rows[j - 1])) j--;
        rows.splice(j, 0, row);
        if (rows.length > k) rows.pop();
      }
    }
  }
  return rows;
}
