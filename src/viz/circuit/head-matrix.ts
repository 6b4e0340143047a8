// Head-to-head matrices (issue 11), as in the path-patching figure: for q, k and v, rows = receiver head, columns =
// sender head (both a{l}.h{h} in layer-major order), so only earlier layers feed later ones: the drawn cells are the
// lower block triangle. Beside them, heads -> MLPs and logits: rows = sender head, columns = m0..m{L-1}, logits.
import type { Labelled } from '../../engine/patching/types';
import type { Channel, CircuitData } from './circuit-model';
import { layoutSize } from './circuit-model';

export interface EdgeMatrix {
  /** Row-major values; NaN where there is no edge. Axes are nominal (layer = rows, head = columns). */
  data: Labelled;
  rowLabels: string[];
  colLabels: string[];
  /** Edge name of cell (row, col), or null where there is no edge. */
  edgeAt(row: number, col: number): string | null;
  /** Indices into the layout of cell (row, col)'s edge. */
  refAt(row: number, col: number): { sender: number; receiver: number } | null;
}

function build(data: CircuitData, rows: string[], cols: string[], name: (r: number, c: number) => string): EdgeMatrix {
  const R = data.receivers.length;
  const sIdx = new Map(data.senders.map((s, i) => [s, i]));
  const rIdx = new Map(data.receivers.map((s, i) => [s, i]));
  const refs: ({ sender: number; receiver: number } | null)[] = [];
  const values = new Float64Array(rows.length * cols.length);
  for (let r = 0; r < rows.length; r++) {
    for (let c = 0; c < cols.length; c++) {
      const [s, v] = name(r, c).split('->');
      const sender = sIdx.get(s);
      const receiver = rIdx.get(v);
      const ok = sender !== undefined && receiver !== undefined && sender < data.upstream[receiver];
      refs.push(ok ? { sender: sender!, receiver: receiver! } : null);
      values[r * cols.length + c] = ok ? data.scores[sender! * R + receiver!] : NaN;
    }
  }
  const at = (r: number, c: number) => refs[r * cols.length + c] ?? null;
  return {
    data: { axes: ['layer', 'head'], shape: [rows.length, cols.length], data: values },
    rowLabels: rows,
    colLabels: cols,
    edgeAt: (r, c) => (at(r, c) ? name(r, c) : null),
    refAt: at,
  };
}

const heads = (L: number, H: number) => Array.from({ length: L * H }, (_, i) => `a${Math.floor(i / H)}.h${i % H}`);

/** [receiver head] x [sender head] for one channel. */
export function headMatrix(data: CircuitData, channel: Channel): EdgeMatrix {
  const { nLayers, nHeads } = layoutSize(data);
  const hs = heads(nLayers, nHeads);
  return build(data, hs, hs, (r, c) => `${hs[c]}->${hs[r]}<${channel}>`);
}

/** [sender head] x [m0 .. m{L-1}, logits]. */
export function headOutMatrix(data: CircuitData): EdgeMatrix {
  const { nLayers, nHeads } = layoutSize(data);
  const hs = heads(nLayers, nHeads);
  const cols = [...Array.from({ length: nLayers }, (_, l) => `m${l}`), 'logits'];
  return build(data, hs, cols, (r, c) => `${hs[r]}->${cols[c]}`);
}
