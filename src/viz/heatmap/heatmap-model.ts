// Pure model behind <Heatmap>: which numbers go in which cell, their colours, labels and keyboard moves.
import type { AxisName, Family, Labelled } from '../../engine/patching/types';
import { divergingScale, NOT_UPSTREAM_COLOUR, sequentialScale, type DivergingScale } from '../colour';
import { formatValue } from '../format';
import { axisIndex, defaultAxisLabels, maxAbs, ravel, sameLayout } from '../labelled';
import { describeTarget } from '../target';

export interface Slice2d {
  rowAxis: AxisName;
  colAxis: AxisName;
  nRows: number;
  nCols: number;
  /** [row][col] flattened row-major: values[r * nCols + c]. */
  values: Float64Array;
  /** Full index into the source Labelled for cell (r, c). */
  indexOf(r: number, c: number): number[];
}

/**
 * The 2-D view of an N-D result with every other axis fixed, e.g. head_out [layer, head, pos] with fixed {head: 5}
 * gives rows = layer, cols = pos. Throws if an axis is neither shown nor fixed: silently picking 0 would show a
 * plausible but wrong picture.
 */
export function slice2d(
  l: Labelled, rowAxis: AxisName, colAxis: AxisName, fixed: Partial<Record<AxisName, number>> = {},
): Slice2d {
  if (rowAxis === colAxis) throw new Error(`row and column axis are both '${rowAxis}'`);
  const ri = axisIndex(l, rowAxis);
  const ci = axisIndex(l, colAxis);
  const base = l.axes.map((axis, i) => {
    if (i === ri || i === ci) return 0;
    const f = fixed[axis];
    if (f === undefined) throw new Error(`axis '${axis}' is neither shown nor fixed`);
    if (!Number.isInteger(f) || f < 0 || f >= l.shape[i]) throw new Error(`fixed ${axis}=${f} out of range 0..${l.shape[i] - 1}`);
    return f;
  });
  const nRows = l.shape[ri];
  const nCols = l.shape[ci];
  const indexOf = (r: number, c: number) => {
    const idx = base.slice();
    idx[ri] = r;
    idx[ci] = c;
    return idx;
  };
  const values = new Float64Array(nRows * nCols);
  for (let r = 0; r < nRows; r++) {
    for (let c = 0; c < nCols; c++) values[r * nCols + c] = l.data[ravel(l.shape, indexOf(r, c))];
  }
  return { rowAxis, colAxis, nRows, nCols, values, indexOf };
}

export interface HeatmapModelOptions {
  rowAxis?: AxisName;
  colAxis?: AxisName;
  fixed?: Partial<Record<AxisName, number>>;
  family?: Family;
  /** Token display strings ('·Mary'), used for pos-like axis labels and in cell names. */
  tokens?: readonly string[];
  rowLabels?: readonly string[];
  colLabels?: readonly string[];
  /** Unit of the numbers as passed (the caller normalises), e.g. "logit diff" or "normalised". */
  unit?: string;
  valueName?: string;
  patchedName?: string;
  /** Fix the colour domain (e.g. shared across panels); default max |value| of this slice. */
  maxAbs?: number;
  /** Magnitudes (an unsigned estimator): a sequential colour scale over [0, maxAbs] instead of the diverging one. */
  sequential?: boolean;
  /** true = blank cell (not drawn, not focusable), e.g. the causal mask key_pos > query_pos. */
  mask?: (row: number, col: number) => boolean;
  /** Names a cell by its full index instead of the axes (e.g. an edge name for the circuit matrices). */
  targetName?: (index: number[]) => string;
  /**
   * Issue 13: for a metric on an internal activation, the hook of the metric (e.g. "blocks.1.attn.hook_pattern")
   * for a cell at or after it, null for a cell upstream of it. Such cells have no value (drawn apart from zero and
   * from "not computed"), stay out of the colour domain, and do not patch.
   */
  notUpstream?: (index: readonly number[]) => string | null;
  /** Full index of the cell that is the metric's own location (outlined), e.g. its head in a layer x head view. */
  metricCell?: readonly number[] | null;
}

export interface HeatmapCell {
  row: number;
  col: number;
  index: number[];
  value: number;
  /** Activation-patch value; NaN when not computed. */
  patched: number;
  computed: boolean;
  /** The metric's hook when this cell is not upstream of it (it has no value and does not patch), else null. */
  notUpstream: string | null;
  colour: string;
  /** Full accessible name: "blocks.3.attn.hook_z head 5 pos 7 (·Mary): attribution 0.412, activation patch 0.398". */
  label: string;
  target: string;
}

export interface HeatmapModel {
  nRows: number;
  nCols: number;
  rowAxis: AxisName;
  colAxis: AxisName;
  rowLabels: string[];
  colLabels: string[];
  scale: DivergingScale;
  /** Row-major, null where masked. */
  cells: (HeatmapCell | null)[];
  cellAt(r: number, c: number): HeatmapCell | null;
  /** The cell whose full index equals `index`, if it is in this slice. */
  find(index: readonly number[] | null | undefined): HeatmapCell | null;
  /** The metric's own cell (options.metricCell) when it is in this slice. */
  metricCell: HeatmapCell | null;
  /** Some cell of the slice is not upstream of the metric. */
  anyNotUpstream: boolean;
}

/** "not upstream of the metric (blocks.1.attn.hook_pattern)": the words of the tooltip, label and details panel. */
export function notUpstreamText(metricHook: string): string {
  return `not upstream of the metric (${metricHook})`;
}

const POS_LIKE: ReadonlySet<AxisName> = new Set<AxisName>(['pos', 'query_pos', 'key_pos']);

export function axisLabels(axis: AxisName, n: number, tokens?: readonly string[], given?: readonly string[]): string[] {
  if (given) return Array.from({ length: n }, (_, i) => given[i] ?? String(i));
  if (tokens && POS_LIKE.has(axis)) return Array.from({ length: n }, (_, i) => tokens[i] ?? String(i));
  return defaultAxisLabels(axis, n);
}

export function heatmapModel(data: Labelled, patched: Labelled | undefined, o: HeatmapModelOptions = {}): HeatmapModel {
  if (patched && !sameLayout(data, patched)) {
    throw new Error(`activation-patch layout [${patched.axes}] ${patched.shape} != attribution [${data.axes}] ${data.shape}`);
  }
  const rowAxis = o.rowAxis ?? data.axes[0];
  const colAxis = o.colAxis ?? data.axes[1];
  const s = slice2d(data, rowAxis, colAxis, o.fixed);
  const p = patched ? slice2d(patched, rowAxis, colAxis, o.fixed) : undefined;
  const blocked = (r: number, c: number) => (o.notUpstream ? o.notUpstream(s.indexOf(r, c)) : null);
  // The colour domain leaves out the not-upstream cells, whatever the arrays hold there.
  const inDomain = o.maxAbs === undefined && o.notUpstream
    ? s.values.filter((_, k) => blocked(Math.floor(k / s.nCols), k % s.nCols) === null)
    : s.values;
  const scale = (o.sequential ? sequentialScale : divergingScale)(o.maxAbs ?? maxAbs(inDomain));
  const valueName = o.valueName ?? 'attribution';
  const patchedName = o.patchedName ?? 'activation patch';
  const unit = o.unit ? ` (${o.unit})` : '';
  const ctx = { family: o.family, tokens: o.tokens };

  const cells: (HeatmapCell | null)[] = new Array(s.nRows * s.nCols);
  for (let r = 0; r < s.nRows; r++) {
    for (let c = 0; c < s.nCols; c++) {
      const k = r * s.nCols + c;
      if (o.mask?.(r, c)) {
        cells[k] = null;
        continue;
      }
      const index = s.indexOf(r, c);
      const target = o.targetName ? o.targetName(index) : describeTarget(data.axes, index, ctx);
      const notUpstream = blocked(r, c);
      if (notUpstream !== null) {
        // Whatever the arrays hold there (NaN from the engine), the cell has no value: it is not a cause of the metric.
        cells[k] = {
          row: r, col: c, index, value: NaN, patched: NaN, computed: false, notUpstream, colour: NOT_UPSTREAM_COLOUR,
          label: `${target}: ${notUpstreamText(notUpstream)}`, target,
        };
        continue;
      }
      const value = s.values[k];
      const pv = p ? p.values[k] : NaN;
      const computed = !Number.isNaN(pv);
      const label = `${target}: ${valueName} ${formatValue(value)}, `
        + `${patchedName} ${computed ? formatValue(pv) : 'not computed'}${unit}`;
      cells[k] = { row: r, col: c, index, value, patched: pv, computed, notUpstream: null, colour: scale(value), label, target };
    }
  }
  const cellAt = (r: number, c: number) =>
    (r >= 0 && r < s.nRows && c >= 0 && c < s.nCols ? cells[r * s.nCols + c] : null);
  const find = (index: readonly number[] | null | undefined) => {
    if (!index || index.length !== data.axes.length) return null;
    const ri = data.axes.indexOf(rowAxis);
    const ci = data.axes.indexOf(colAxis);
    const cell = cellAt(index[ri], index[ci]);
    return cell && cell.index.every((v, i) => v === index[i]) ? cell : null;
  };
  return {
    nRows: s.nRows,
    nCols: s.nCols,
    metricCell: find(o.metricCell),
    anyNotUpstream: cells.some((c) => c !== null && c.notUpstream !== null),
    rowAxis,
    colAxis,
    rowLabels: axisLabels(rowAxis, s.nRows, o.tokens, o.rowLabels),
    colLabels: axisLabels(colAxis, s.nCols, o.tokens, o.colLabels),
    scale,
    cells,
    cellAt,
    find,
  };
}

export type GridKey = 'ArrowUp' | 'ArrowDown' | 'ArrowLeft' | 'ArrowRight' | 'Home' | 'End' | 'PageUp' | 'PageDown';

/**
 * Roving-focus move in an ARIA grid (WAI-ARIA APG "Data Grid" keys): arrows step and skip masked cells,
 * Home/End go to the row's ends, Ctrl+Home/End to the grid's first/last cell, PageUp/PageDown to the first/last
 * row in this column.
 * Returns null for keys the grid does not handle, so the caller lets the browser have them.
 */
export function moveFocus(
  at: { row: number; col: number }, key: string, nRows: number, nCols: number,
  opts: { ctrl?: boolean; masked?: (r: number, c: number) => boolean } = {},
): { row: number; col: number } | null {
  const masked = opts.masked ?? (() => false);
  const scan = (r: number, c: number, dr: number, dc: number) => {
    for (let rr = r, cc = c; rr >= 0 && rr < nRows && cc >= 0 && cc < nCols; rr += dr, cc += dc) {
      if (!masked(rr, cc)) return { row: rr, col: cc };
    }
    return { row: at.row, col: at.col };
  };
  const linear = (from: number, step: number) => {
    for (let k = from; k >= 0 && k < nRows * nCols; k += step) {
      const r = Math.floor(k / nCols);
      const c = k % nCols;
      if (!masked(r, c)) return { row: r, col: c };
    }
    return { row: at.row, col: at.col };
  };
  switch (key) {
    case 'ArrowUp': return scan(at.row - 1, at.col, -1, 0);
    case 'ArrowDown': return scan(at.row + 1, at.col, 1, 0);
    case 'ArrowLeft': return scan(at.row, at.col - 1, 0, -1);
    case 'ArrowRight': return scan(at.row, at.col + 1, 0, 1);
    case 'Home': return opts.ctrl ? linear(0, 1) : scan(at.row, 0, 0, 1);
    case 'End': return opts.ctrl ? linear(nRows * nCols - 1, -1) : scan(at.row, nCols - 1, 0, -1);
    case 'PageUp': return scan(0, at.col, 1, 0);
    case 'PageDown': return scan(nRows - 1, at.col, -1, 0);
    default: return null;
  }
}

/** Shorten long token labels for the axis; the full string stays in the cell's name and the tooltip. */
export function truncateLabel(s: string, max: number): string {
  const chars = Array.from(s); // whole code points, so an emoji is never cut in half
  return chars.length <= max ? s : chars.slice(0, Math.max(1, max - 1)).join('') + '…';
}

export interface HeatmapLayout {
  cellWidth: number;
  cellHeight: number;
  /** Left gutter for row labels, top gutter for (possibly rotated) column labels. */
  left: number;
  top: number;
  rotateColLabels: boolean;
  /** Label every k-th row / column so labels never overlap. */
  rowLabelStride: number;
  colLabelStride: number;
  gridWidth: number;
  gridHeight: number;
  width: number;
  height: number;
}

/** Rough advance width of an 11px sans-serif glyph; layout only needs to be generous, not exact. */
export const CHAR_WIDTH = 6.6;
const LABEL_PITCH = 12;

export function heatmapLayout(
  m: Pick<HeatmapModel, 'nRows' | 'nCols' | 'rowLabels' | 'colLabels'>,
  o: {
    cellWidth: number; cellHeight: number; maxLabelChars: number;
    legendHeight: number; legendWidth: number; titleHeight: number;
    /** Estimated width of the title block; the svg is widened so a long title is not clipped. */
    titleWidth?: number;
  },
): HeatmapLayout {
  const longest = (ls: string[]) => ls.reduce((a, s) => Math.max(a, Math.min(Array.from(s).length, o.maxLabelChars)), 0);
  const colChars = longest(m.colLabels);
  const rotateColLabels = colChars * CHAR_WIDTH > o.cellWidth - 2;
  const left = Math.ceil(longest(m.rowLabels) * CHAR_WIDTH) + 10;
  const top = o.titleHeight + (rotateColLabels ? Math.ceil(colChars * CHAR_WIDTH) + 8 : 16);
  const gridWidth = m.nCols * o.cellWidth;
  const gridHeight = m.nRows * o.cellHeight;
  return {
    cellWidth: o.cellWidth,
    cellHeight: o.cellHeight,
    left,
    top,
    rotateColLabels,
    rowLabelStride: Math.max(1, Math.ceil(LABEL_PITCH / o.cellHeight)),
    colLabelStride: rotateColLabels ? Math.max(1, Math.ceil(LABEL_PITCH / o.cellWidth)) : 1,
    gridWidth,
    gridHeight,
    width: left + Math.max(gridWidth, o.legendHeight ? o.legendWidth : 0, o.titleWidth ?? 0) + 8,
    height: top + gridHeight + (o.legendHeight ? o.legendHeight + 12 : 8),
  };
}
